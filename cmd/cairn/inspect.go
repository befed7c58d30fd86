package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"
)

func newInspectCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "inspect REF",
		Short: "Show a manifest: annotations, layers and referrers",
		Example: `  cairn inspect 127.0.0.1:5000/datasets/abstracts:neurips-2024
  cairn inspect REG/datasets/abstracts:neurips-2024 --json | jq .annotations`,
		Args: usageArgs(cobra.ExactArgs(1)),
	}
	rf := addRegistryFlags(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON (with the manifest as served)")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		reg, err := rf.registry(args[0])
		if err != nil {
			return err
		}
		ctx, cancel := commandContext(cmd)
		defer cancel()
		in, err := reg.Inspect(ctx, args[0])
		if err != nil {
			return err
		}
		if asJSON {
			return printJSON(cmd, in)
		}
		w := cmd.OutOrStdout()
		fmt.Fprintf(w, "Reference:     %s\nDigest:        %s\nMedia type:    %s\n", in.Reference, in.Digest, in.MediaType)
		if in.ArtifactType != "" {
			fmt.Fprintf(w, "Artifact type: %s\n", in.ArtifactType)
		}
		fmt.Fprintf(w, "Size:          %s (manifest %d B)\n", humanSize(in.TotalSize), in.Size)
		if in.Subject != nil {
			fmt.Fprintf(w, "Subject:       %s\n", in.Subject.Digest)
		}
		if len(in.Annotations) > 0 {
			fmt.Fprintln(w, "Annotations:")
			keys := make([]string, 0, len(in.Annotations))
			for k := range in.Annotations {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for _, k := range keys {
				fmt.Fprintf(w, "  %s=%s\n", k, cell(in.Annotations[k], 0))
			}
		}
		table := func(title string, header string, rows [][]string) {
			if len(rows) == 0 {
				return
			}
			fmt.Fprintf(w, "%s:\n", title)
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "  "+header)
			for _, r := range rows {
				fmt.Fprintln(tw, "  "+strings.Join(r, "\t"))
			}
			tw.Flush()
		}
		var rows [][]string
		for _, l := range in.Layers {
			rows = append(rows, []string{cell(l.Title, 60), shortDigest(l.Digest.String()), humanSize(l.Size), cell(l.MediaType, 0)})
		}
		table("Layers", "TITLE\tDIGEST\tSIZE\tMEDIA TYPE", rows)
		rows = nil
		for _, m := range in.Manifests {
			rows = append(rows, []string{shortDigest(m.Digest.String()), humanSize(m.Size), cell(m.MediaType, 0)})
		}
		table("Manifests", "DIGEST\tSIZE\tMEDIA TYPE", rows)
		rows = nil
		for _, r := range in.Referrers {
			rows = append(rows, []string{shortDigest(r.Digest.String()), cell(r.ArtifactType, 0), humanSize(r.Size)})
		}
		if len(rows) == 0 {
			fmt.Fprintln(w, "Referrers:     none")
		}
		table("Referrers", "DIGEST\tARTIFACT TYPE\tSIZE", rows)
		return nil
	}
	return cmd
}

func newLsCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "ls REPO",
		Short:   "List a repository's tags with digests and sizes",
		Example: `  cairn ls 127.0.0.1:5000/datasets/abstracts`,
		Args:    usageArgs(cobra.ExactArgs(1)),
	}
	rf := addRegistryFlags(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		reg, err := rf.registry(args[0])
		if err != nil {
			return err
		}
		ctx, cancel := commandContext(cmd)
		defer cancel()
		tags, err := reg.Tags(ctx, args[0])
		if err != nil {
			return err
		}
		if asJSON {
			return printJSON(cmd, tags)
		}
		tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "TAG\tDIGEST\tSIZE")
		for _, t := range tags {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", t.Tag, t.Digest, humanSize(t.Size))
		}
		return tw.Flush()
	}
	return cmd
}

func newTagCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "tag REF NEWTAG",
		Short:   "Give a manifest another tag in its repository",
		Example: `  cairn tag 127.0.0.1:5000/datasets/abstracts:neurips-2024 latest`,
		Args:    usageArgs(cobra.ExactArgs(2)),
	}
	rf := addRegistryFlags(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		reg, err := rf.registry(args[0])
		if err != nil {
			return err
		}
		ctx, cancel := commandContext(cmd)
		defer cancel()
		d, err := reg.Tag(ctx, args[0], args[1])
		if err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "Tagged %s as %s\n", d, args[1])
		return nil
	}
	return cmd
}

func newCopyCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "copy SRC DST",
		Short: "Copy an artifact with its referrers, within or across registries",
		Long: `Copy the manifest SRC names, everything it references and its referrers
(signatures, SBOMs, attached data) to DST, a tag or a repository (which then
gets SRC's tag). The credential flags apply to both registries; use docker
login or CAIRN_* settings when they differ.`,
		Example: `  cairn copy 127.0.0.1:5000/datasets/abstracts:neurips-2024 registry.example.com/mirror/abstracts`,
		Args:    usageArgs(cobra.ExactArgs(2)),
	}
	rf := addRegistryFlags(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		reg, err := rf.registry(args[0], args[1])
		if err != nil {
			return err
		}
		ctx, cancel := commandContext(cmd)
		defer cancel()
		d, err := reg.Copy(ctx, args[0], args[1])
		if err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "Copied %s to %s\n", d, args[1])
		return nil
	}
	return cmd
}

func newDeleteCmd() *cobra.Command {
	var yes, cascade bool
	cmd := &cobra.Command{
		Use:   "delete REF",
		Short: "Delete a manifest (and so every tag that points at it)",
		Long: `Delete the manifest REF names, by tag or digest; every tag pointing at it goes
with it. On a terminal cairn asks first; elsewhere --yes is required.
--cascade first deletes what is attached to it by subject (signatures,
SBOMs, caches attached with oras attach…), and what is attached to those,
deepest first; artifacts that only name it in derived-from are never
deleted (cairn serve refuses the delete while they exist).`,
		Example: `  cairn delete --yes 127.0.0.1:5000/datasets/abstracts:neurips-2023
  cairn delete --yes --cascade 127.0.0.1:5000/datasets/abstracts@sha256:3b1c…`,
		Args: usageArgs(cobra.ExactArgs(1)),
	}
	rf := addRegistryFlags(cmd)
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	cmd.Flags().BoolVar(&cascade, "cascade", false, "delete what is attached to it by subject first, deepest first")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		reg, err := rf.registry(args[0])
		if err != nil {
			return err
		}
		ctx, cancel := commandContext(cmd)
		defer cancel()
		if !yes {
			d, err := reg.Resolve(ctx, args[0])
			if err != nil {
				return err
			}
			what := "and every tag pointing at it"
			if cascade {
				_, attached, err := reg.Attached(ctx, args[0])
				if err != nil {
					return err
				}
				what = fmt.Sprintf("with the %d manifests attached to it, and every tag pointing at them", len(attached))
			}
			if !isatty.IsTerminal(os.Stdin.Fd()) {
				return usageError{fmt.Errorf("delete %s (%s): not on a terminal to confirm; add --yes", args[0], d)}
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "Delete %s (%s) %s? [y/N] ", args[0], d, what)
			answer, _ := bufio.NewReader(os.Stdin).ReadString('\n')
			if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
				return errors.New("not deleted")
			}
		}
		if cascade {
			deleted, err := reg.DeleteCascade(ctx, args[0])
			for _, d := range deleted {
				fmt.Fprintf(cmd.OutOrStdout(), "Deleted %s\n", d)
			}
			return err
		}
		d, err := reg.Delete(ctx, args[0])
		if err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "Deleted %s\n", d)
		return nil
	}
	return cmd
}
