package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cairn-dev/cairn/client"
)

func newPushCmd() *cobra.Command {
	var (
		opts           client.PushOptions
		annotations    []string
		annotationFile string
		annotationJSON string
		asJSON         bool
		chunkSize      string
		outReference   string
		outDigest      string
	)
	cmd := &cobra.Command{
		Use:   "push REF FILE|DIR[:MEDIATYPE]...",
		Short: "Push files and directories as one OCI artifact to any registry",
		Long: `Push files and directories to REF (REGISTRY/REPOSITORY[:TAG]) as the layers of
one OCI 1.1 artifact. Each file is a layer titled with its path (as given, when
it lies below the working directory; else its name), its media type guessed
from the extension or given as FILE:MEDIATYPE. A directory is packed as a
reproducible tar+gzip layer (sorted entries, zeroed times and owners: the same
content gives the same digest) that cairn pull and oras pull unpack.

Blobs the registry holds already are not uploaded again. Each blob goes in one
streaming PUT; if that fails, again in 16 MiB chunks. --chunk-size SIZE sends
blobs larger than SIZE in chunks from the start, each retried and resumed
where the registry stopped (for flaky links; slower on good ones).
--tag-template fills the tag from annotations, {name} meaning the annotation
"name" or the one key ending in ".name", and makes it a valid tag (lower case,
other characters as '-', at most 128).

Annotations come from --annotation-file, then --annotation-json (a JSON
object given as text), then -a, each overriding the one before.
--output-reference FILE and --output-digest FILE write the pushed artifact's
REGISTRY/REPOSITORY@DIGEST and its digest to files, without a trailing
newline, creating their directories: how a program without a shell hands its
results to the next step of a pipeline (Kubeflow's outputPath).`,
		Example: `  cairn push 127.0.0.1:5000/datasets/abstracts:neurips-2024 papers.db embeddings.npy
  cairn push --plain-http 127.0.0.1:5000/datasets/abstracts papers.db emb/ \
      -a org.example.conference=neurips -a org.example.year=2024 -a org.example.model=Qwen/Qwen3-Embedding-0.6B \
      --tag-template '{conference}-{year}_{model}'      # tag neurips-2024_qwen-qwen3-embedding-0.6b
  cairn push REG/datasets/emb:v2 emb.npy --subject REG/datasets/abstracts:neurips-2024 --derived-from REG/models/qwen3:0.6b`,
		Args: usageArgs(cobra.MinimumNArgs(1)),
	}
	rf := addRegistryFlags(cmd)
	f := cmd.Flags()
	f.StringVar(&opts.ArtifactType, "artifact-type", "", "artifactType of the manifest (default "+client.DefaultArtifactType+")")
	f.StringArrayVarP(&annotations, "annotation", "a", nil, "manifest annotation KEY=VALUE (repeatable)")
	f.StringVar(&annotationFile, "annotation-file", "", `JSON file of annotations: {"key":"value"}, or oras's {"$manifest":{…},"TITLE":{…}}`)
	f.StringVar(&annotationJSON, "annotation-json", "", `manifest annotations as JSON text: {"key":"value",…}`)
	f.StringVar(&opts.Subject, "subject", "", "REF of the manifest this artifact refers to (OCI 1.1 subject); :TAG or @DIGEST for the same repository")
	f.StringArrayVar(&opts.DerivedFrom, "derived-from", nil, "REF this artifact was made from, recorded as "+client.AnnotationDerivedFrom+" (repeatable)")
	f.StringVar(&opts.TagTemplate, "tag-template", "", "make the tag from annotations, e.g. '{conference}-{year}_{model}'")
	f.StringArrayVar(&opts.MountFrom, "mount-from", nil, "REPOSITORY of the same registry that may hold the blobs, to mount instead of upload (repeatable)")
	f.IntVar(&opts.Concurrency, "concurrency", 5, "layers uploaded at once")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON")
	f.StringVar(&chunkSize, "chunk-size", "", "upload blobs larger than SIZE (e.g. 16MiB) in chunks of SIZE that resume (env CAIRN_CHUNK_SIZE)")
	f.StringVar(&outReference, "output-reference", "", "write REGISTRY/REPOSITORY@DIGEST of the pushed artifact to FILE (no trailing newline)")
	f.StringVar(&outDigest, "output-digest", "", "write the pushed manifest's digest to FILE (no trailing newline)")

	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		rf.chunkSize = first(chunkSize, environment()("CAIRN_CHUNK_SIZE"))
		ann := map[string]string{}
		if annotationFile != "" {
			manifestAnn, layerAnn, err := readAnnotationFile(annotationFile)
			if err != nil {
				return err
			}
			maps.Copy(ann, manifestAnn)
			opts.LayerAnnotations = layerAnn
		}
		if annotationJSON != "" {
			jsonAnn, err := parseAnnotationJSON(annotationJSON)
			if err != nil {
				return err
			}
			maps.Copy(ann, jsonAnn)
		}
		flagAnn, err := parseKV("annotation", annotations)
		if err != nil {
			return err
		}
		maps.Copy(ann, flagAnn)
		opts.Annotations = ann
		outRef := outputFile{flag: "output-reference", path: outReference}
		outDig := outputFile{flag: "output-digest", path: outDigest}
		if err := prepareOutputs(outRef, outDig); err != nil {
			return err
		}
		refs := []string{args[0]}
		if opts.Subject != "" && opts.Subject[0] != ':' && opts.Subject[0] != '@' {
			refs = append(refs, opts.Subject)
		}
		reg, err := rf.registry(refs...)
		if err != nil {
			return err
		}
		ctx, cancel := commandContext(cmd)
		defer cancel()
		pr := newProgress(cmd.ErrOrStderr())
		opts.Progress = pr.event
		res, err := reg.Push(ctx, args[0], args[1:], opts)
		pr.finish()
		if err != nil {
			return err
		}
		pinned, err := reg.ParseReference(res.Reference)
		if err != nil {
			return err
		}
		outRef.value = pinned.SetDigest(res.Digest.String()).CommonName()
		outDig.value = res.Digest.String()
		if err := writeOutputs(outRef, outDig); err != nil {
			return fmt.Errorf("pushed %s, but %w", res.Reference, err)
		}
		if asJSON {
			return printJSON(cmd, res)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "Pushed %s\nDigest: %s\n", res.Reference, res.Digest)
		return nil
	}
	return cmd
}

// readAnnotationFile reads manifest annotations, and layer annotations by
// title when the file has oras's "$manifest" form.
func readAnnotationFile(path string) (map[string]string, map[string]map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, usageError{fmt.Errorf("--annotation-file: %w", err)}
	}
	var nested map[string]map[string]string
	if err := json.Unmarshal(b, &nested); err == nil {
		if m, ok := nested["$manifest"]; ok {
			delete(nested, "$manifest")
			return m, nested, nil
		}
	}
	var flat map[string]string
	if err := json.Unmarshal(b, &flat); err != nil {
		return nil, nil, usageError{fmt.Errorf("--annotation-file %s: want a JSON object of strings, or {\"$manifest\":{…}}: %w", path, err)}
	}
	return flat, nil, nil
}

// parseAnnotationJSON reads --annotation-json: a JSON object of strings,
// given as text where a file is not at hand (a pipeline passes a value).
func parseAnnotationJSON(text string) (map[string]string, error) {
	var ann map[string]string
	err := json.Unmarshal([]byte(text), &ann)
	if err == nil && ann == nil {
		err = errors.New("got null")
	}
	if err != nil {
		return nil, usageError{fmt.Errorf(`--annotation-json: want a JSON object of strings, such as {"org.example.model":"qwen3"}: %w`, err)}
	}
	for k := range ann {
		if strings.TrimSpace(k) == "" {
			return nil, usageError{errors.New("--annotation-json: an annotation key is empty")}
		}
	}
	return ann, nil
}

// outputFile is a file a command writes a result to for the next step of
// a pipeline (Kubeflow's outputPath); path "" means the flag was not given.
type outputFile struct {
	flag, path string
	value      string
}

// prepareOutputs creates the directories of the output files before any
// work is done: pipelines leave that to the program, and a path that cannot
// be written should fail the command before it pushes or pulls anything.
func prepareOutputs(outputs ...outputFile) error {
	for _, o := range outputs {
		if o.path == "" {
			continue
		}
		if fi, err := os.Stat(o.path); err == nil && !fi.Mode().IsRegular() {
			return usageError{fmt.Errorf("--%s %s exists and is not a regular file", o.flag, o.path)}
		}
		if err := os.MkdirAll(filepath.Dir(o.path), 0o755); err != nil {
			return usageError{fmt.Errorf("--%s: %w", o.flag, err)}
		}
	}
	return nil
}

// writeOutputs writes each value to its file atomically and without a
// trailing newline: Kubeflow takes a file's whole content as the output.
func writeOutputs(outputs ...outputFile) error {
	for _, o := range outputs {
		if o.path == "" {
			continue
		}
		if err := writeAtomic(o.path, strings.NewReader(o.value)); err != nil {
			return fmt.Errorf("--%s: %w", o.flag, err)
		}
	}
	return nil
}

// printJSON prints v as indented JSON.
func printJSON(cmd *cobra.Command, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(cmd.OutOrStdout(), "%s\n", b)
	return err
}
