package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/cairn-dev/cairn/client"
)

func newPullCmd() *cobra.Command {
	var (
		opts      client.PullOptions
		require   []string
		asJSON    bool
		keys      []string
		outDigest string
	)
	cmd := &cobra.Command{
		Use:   "pull REF",
		Short: "Pull an artifact's files from any registry, atomically",
		Long: `Pull the titled layers of REF into -o DIR (default: the working directory),
atomically: every layer is downloaded into .DIR.cairn-pull beside DIR, its
digest and size verified, and only then are the files moved into DIR. A failed
or interrupted pull leaves DIR as it was; the blobs it had verified stay in
.DIR.cairn-pull and the next pull into DIR uses them. Files of DIR that
already hold a layer's content are not downloaded again. Directory layers
(tar+gzip, as cairn push and oras push make them) are unpacked.

--require KEY=VALUE refuses the pull, before anything is downloaded, unless
the manifest's annotation KEY is VALUE (for example the embedding model the
local data was made with). --verify-key cosign.pub refuses it, before
anything is downloaded, unless a signature of the manifest verifies with that
key (exit 8), and then pulls the digest that was verified.

--output-digest FILE writes the digest pulled to FILE, without a trailing
newline, creating its directory (for the next step of a pipeline).`,
		Example: `  cairn pull 127.0.0.1:5000/datasets/abstracts:neurips-2024 -o data/
  cairn pull REG/datasets/abstracts:neurips-2024 --only 'emb*' --require org.example.model=qwen3`,
		Args: usageArgs(cobra.ExactArgs(1)),
	}
	rf := addRegistryFlags(cmd)
	f := cmd.Flags()
	f.StringVarP(&opts.Output, "output", "o", ".", "directory to write the files to")
	f.StringArrayVar(&opts.Only, "only", nil, "pull only the layer with this TITLE, or whose title matches this GLOB (repeatable)")
	f.StringArrayVar(&require, "require", nil, "refuse unless the manifest has annotation KEY=VALUE (repeatable)")
	f.IntVar(&opts.Concurrency, "concurrency", 5, "layers downloaded at once")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON")
	f.StringArrayVar(&keys, "verify-key", nil, "refuse unless the manifest has a signature that verifies with this public key (cosign.pub; repeatable)")
	f.StringVar(&outDigest, "output-digest", "", "write the pulled manifest's digest to FILE (no trailing newline)")

	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		var err error
		if opts.Require, err = parseKV("require", require); err != nil {
			return err
		}
		if len(keys) > 0 {
			if opts.VerifyKeys, err = loadPublicKeys("--verify-key", keys); err != nil {
				return err
			}
		}
		outDig := outputFile{flag: "output-digest", path: outDigest}
		if err := prepareOutputs(outDig); err != nil {
			return err
		}
		reg, err := rf.registry(args[0])
		if err != nil {
			return err
		}
		ctx, cancel := commandContext(cmd)
		defer cancel()
		pr := newProgress(cmd.ErrOrStderr())
		opts.Progress = pr.event
		res, err := reg.Pull(ctx, args[0], opts)
		pr.finish()
		if err != nil {
			return err
		}
		outDig.value = res.Digest.String()
		if err := writeOutputs(outDig); err != nil {
			return fmt.Errorf("pulled %s into %s, but %w", res.Reference, res.Output, err)
		}
		if asJSON {
			return printJSON(cmd, res)
		}
		moved := 0
		for _, l := range res.Layers {
			if l.Status != "unchanged" {
				moved++
			}
		}
		fmt.Fprintf(cmd.OutOrStdout(), "Pulled %s\nDigest: %s\n%d of %d files updated in %s\n", res.Reference, res.Digest, moved, len(res.Layers), res.Output)
		return nil
	}
	return cmd
}
