package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cairn-dev/cairn/client"
)

func newLineageCmd() *cobra.Command {
	var (
		p           client.LineageParams
		up, down    bool
		format      string
		attachments bool
	)
	cmd := &cobra.Command{
		Use:   "lineage REPOSITORY@DIGEST|REPOSITORY:TAG",
		Short: "Show where an artifact came from and what was made from it",
		Long: `Walk the lineage graph of a cairn server (GET /api/v1/lineage/…): subject links
(an artifact attached to another) and derived-from links (the annotation
dev.cairn.lineage.derived-from). By default both ways, as indented trees:
parents above the artifact, children below, with artifact types and tags.
Signatures, SBOMs and attestations are shown on the artifact they are attached
to; --attachments walks them as artifacts.`,
		Example: `  cairn lineage abstracts/neurips-embeddings:2024-qwen3
  cairn lineage abstracts/neurips:2024 --down --depth 2
  cairn lineage abstracts/neurips:2024 --format dot | dot -Tpng > lineage.png`,
		Args: cobra.ExactArgs(1),
	}
	server := addServerFlag(cmd)
	f := cmd.Flags()
	f.BoolVar(&up, "up", false, "only upward: what the artifact was made from")
	f.BoolVar(&down, "down", false, "only downward: what was made from the artifact")
	f.IntVar(&p.Depth, "depth", 0, "at most N links away (0: no bound)")
	f.StringVar(&p.ArtifactType, "type", "", "only artifacts of this type (and the root)")
	f.BoolVar(&attachments, "attachments", false, "walk signatures, SBOMs and attestations as artifacts")
	f.StringVar(&format, "format", "tree", "tree, json, dot or mermaid")

	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		switch {
		case up && down:
		case up:
			p.Direction = "up"
		case down:
			p.Direction = "down"
		}
		if p.Depth < 0 {
			return usageError{fmt.Errorf("--depth %d: give 0 (no bound) or more", p.Depth)}
		}
		p.IncludeAttachments = attachments
		c, ctx, cancel, err := newClient(cmd, *server)
		if err != nil {
			return err
		}
		defer cancel()
		out := cmd.OutOrStdout()
		switch format {
		case "dot", "mermaid":
			text, err := c.LineageText(ctx, args[0], p, format)
			if err != nil {
				return err
			}
			_, err = io.WriteString(out, text)
			return err
		case "json", "tree":
		default:
			return usageError{fmt.Errorf("--format %q: give tree, json, dot or mermaid", format)}
		}
		l, err := c.Lineage(ctx, args[0], p)
		if err != nil {
			return err
		}
		if format == "json" {
			enc := json.NewEncoder(out)
			enc.SetIndent("", "  ")
			return enc.Encode(l)
		}
		printLineageTree(out, l, p.Direction)
		return nil
	}
	return cmd
}

// printLineageTree prints the graph as indented trees from the root:
// upward (parents) then downward (children).
func printLineageTree(w io.Writer, l client.Lineage, direction string) {
	nodes := map[string]client.LineageNode{}
	for _, n := range l.Nodes {
		nodes[n.Ref] = n
	}
	parents, children := map[string][]client.LineageEdge{}, map[string][]client.LineageEdge{}
	for _, e := range l.Edges {
		parents[e.Child] = append(parents[e.Child], e)
		children[e.Parent] = append(children[e.Parent], e)
	}
	fmt.Fprintln(w, lineageLabel(nodes, l.Root))
	var walk func(ref, indent string, next map[string][]client.LineageEdge, up bool, seen map[string]bool)
	walk = func(ref, indent string, next map[string][]client.LineageEdge, up bool, seen map[string]bool) {
		es := next[ref]
		for i, e := range es {
			to, arrow := e.Child, "<- "
			if up {
				to, arrow = e.Parent, "-> "
			}
			branch, more := "├─", "│  "
			if i == len(es)-1 {
				branch, more = "└─", "   "
			}
			line := indent + branch + arrow + e.Kind + ": " + lineageLabel(nodes, to)
			if seen[to] {
				fmt.Fprintln(w, line+" (shown above)")
				continue
			}
			fmt.Fprintln(w, line)
			seen[to] = true
			walk(to, indent+more, next, up, seen)
		}
	}
	if direction != "down" {
		walk(l.Root, "", parents, true, map[string]bool{l.Root: true})
	}
	if direction != "up" {
		walk(l.Root, "", children, false, map[string]bool{l.Root: true})
	}
}

// lineageLabel names a node: repository:tag (or @short digest), its type,
// its attachments, and whether the server holds it.
func lineageLabel(nodes map[string]client.LineageNode, ref string) string {
	n, ok := nodes[ref]
	if !ok {
		return ref
	}
	name := n.Repository
	if n.Registry != "" {
		name = n.Registry + "/" + name
	}
	if len(n.Tags) > 0 {
		name += ":" + strings.Join(n.Tags, ",")
	} else {
		d := n.Digest.String()
		if _, hex, ok := strings.Cut(d, ":"); ok && len(hex) > 12 {
			d = d[:len(d)-len(hex)] + hex[:12]
		}
		name += "@" + d
	}
	var notes []string
	if n.ArtifactType != "" {
		notes = append(notes, n.ArtifactType)
	}
	for _, a := range n.Attachments {
		notes = append(notes, "attached "+a.ArtifactType)
	}
	if !n.Present {
		notes = append(notes, "not in this registry")
	}
	if len(notes) > 0 {
		name += "  (" + strings.Join(notes, "; ") + ")"
	}
	return name
}
