package e2e

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// The Kubeflow Pipelines components of integrations/kubeflow are checked
// here without Kubeflow: their command lines are resolved as KFP resolves
// the v1 component format (the SDK's _resolve_command_line_and_paths), and
// run with the cairn binary under test in place of the image's.
// checkPortable keeps them away from what KFP v2 would resolve otherwise.

// kfpImage and kfpEntrypoint are the image the components run in and its
// cairn binary.
const (
	kfpImage      = "ghcr.io/cairn-dev/cairn:0.1.0"
	kfpEntrypoint = "/usr/local/bin/cairn"
)

// kfpComponent is KFP's component format, the parts cairn's components use.
type kfpComponent struct {
	Name           string      `yaml:"name"`
	Description    string      `yaml:"description"`
	Inputs         []kfpInput  `yaml:"inputs"`
	Outputs        []kfpOutput `yaml:"outputs"`
	Implementation struct {
		Container struct {
			Image   string `yaml:"image"`
			Command []any  `yaml:"command"`
			Args    []any  `yaml:"args"`
		} `yaml:"container"`
	} `yaml:"implementation"`
}

type kfpInput struct {
	Name        string  `yaml:"name"`
	Type        string  `yaml:"type"`
	Description string  `yaml:"description"`
	Default     *string `yaml:"default"`
	Optional    bool    `yaml:"optional"`
}

type kfpOutput struct {
	Name        string `yaml:"name"`
	Type        string `yaml:"type"`
	Description string `yaml:"description"`
}

// loadComponent reads a component file; a key the format does not have is
// an error, so a misspelt one is not silently ignored.
func loadComponent(t *testing.T, path string) *kfpComponent {
	t.Helper()
	c, err := parseComponent(path)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func parseComponent(path string) (*kfpComponent, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var c kfpComponent
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &c, nil
}

func (c *kfpComponent) input(name string) (kfpInput, bool) {
	for _, in := range c.Inputs {
		if in.Name == name {
			return in, true
		}
	}
	return kfpInput{}, false
}

func (c *kfpComponent) hasOutput(name string) bool {
	return slices.ContainsFunc(c.Outputs, func(o kfpOutput) bool { return o.Name == name })
}

// kfpResolver resolves a component's command line for one task, as KFP
// does: arguments by input name (for an input passed by path, the path of
// the file or directory the launcher made), output paths under outDir.
type kfpResolver struct {
	c      *kfpComponent
	values map[string]string
	outDir string
	// makeParents creates each output path's directory, as the v2 launcher
	// does; KFP v1 leaves that to the program.
	makeParents bool
	outputs     map[string]string // output name → path
}

// resolve returns the container's command and args, resolved, and the
// path of each output.
func (c *kfpComponent) resolve(args map[string]string, outDir string, makeParents bool) ([]string, map[string]string, error) {
	r := &kfpResolver{c: c, values: map[string]string{}, outDir: outDir, makeParents: makeParents, outputs: map[string]string{}}
	for name, v := range args {
		if _, ok := c.input(name); !ok {
			return nil, nil, fmt.Errorf("component %q has no input %q", c.Name, name)
		}
		r.values[name] = v
	}
	// The task factory's rules: a required input must be given or have a
	// default; an optional one not given is absent, default or not.
	for _, in := range c.Inputs {
		if _, ok := r.values[in.Name]; ok || in.Optional {
			continue
		}
		if in.Default == nil {
			return nil, nil, fmt.Errorf("component %q: missing required input %q", c.Name, in.Name)
		}
		r.values[in.Name] = *in.Default
	}
	ct := c.Implementation.Container
	argv, err := r.list(ct.Command)
	if err != nil {
		return nil, nil, err
	}
	rest, err := r.list(ct.Args)
	if err != nil {
		return nil, nil, err
	}
	return append(argv, rest...), r.outputs, nil
}

// list expands a list of parts: absent optional inputs drop out, an if's
// branch is spliced in.
func (r *kfpResolver) list(parts []any) ([]string, error) {
	var out []string
	for _, p := range parts {
		vals, err := r.part(p)
		if err != nil {
			return nil, err
		}
		out = append(out, vals...)
	}
	return out, nil
}

// part expands one part of a command line: none, one or (for an if) several
// strings.
func (r *kfpResolver) part(p any) ([]string, error) {
	switch v := p.(type) {
	case string:
		return []string{v}, nil
	case int:
		return []string{strconv.Itoa(v)}, nil
	case float64:
		return []string{strconv.FormatFloat(v, 'g', -1, 64)}, nil
	case bool: // as Python's str() spells it
		return []string{map[bool]string{true: "True", false: "False"}[v]}, nil
	case map[string]any:
		if len(v) != 1 {
			return nil, fmt.Errorf("component %q: a placeholder has one key, not %v", r.c.Name, v)
		}
		for key, arg := range v {
			return r.placeholder(key, arg)
		}
	}
	return nil, fmt.Errorf("component %q: unknown command-line part %#v", r.c.Name, p)
}

func (r *kfpResolver) placeholder(key string, arg any) ([]string, error) {
	name, _ := arg.(string)
	switch key {
	case "inputValue", "inputPath":
		in, ok := r.c.input(name)
		if !ok {
			return nil, fmt.Errorf("component %q: %s names no input: %v", r.c.Name, key, arg)
		}
		v, ok := r.values[name]
		switch {
		case ok:
			if key == "inputPath" {
				if _, err := os.Stat(v); err != nil {
					return nil, fmt.Errorf("component %q: input %q: %w", r.c.Name, name, err)
				}
			}
			return []string{v}, nil
		case in.Optional:
			return nil, nil
		}
		return nil, fmt.Errorf("component %q: no value provided for input %q", r.c.Name, name)
	case "outputPath":
		if !r.c.hasOutput(name) {
			return nil, fmt.Errorf("component %q: outputPath names no output: %v", r.c.Name, arg)
		}
		// KFP v1's /tmp/outputs/NAME/data.
		p := filepath.Join(r.outDir, name, "data")
		if r.makeParents {
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return nil, err
			}
		}
		r.outputs[name] = p
		return []string{p}, nil
	case "isPresent":
		if _, ok := r.c.input(name); !ok {
			return nil, fmt.Errorf("component %q: isPresent names no input: %v", r.c.Name, arg)
		}
		_, ok := r.values[name]
		return []string{map[bool]string{true: "True", false: "False"}[ok]}, nil
	case "concat":
		items, ok := arg.([]any)
		if !ok {
			return nil, fmt.Errorf("component %q: concat takes a list, not %v", r.c.Name, arg)
		}
		vals, err := r.list(items)
		if err != nil {
			return nil, err
		}
		return []string{strings.Join(vals, "")}, nil
	case "if":
		return r.ifPlaceholder(arg)
	}
	return nil, fmt.Errorf("component %q: unknown placeholder %q", r.c.Name, key)
}

func (r *kfpResolver) ifPlaceholder(arg any) ([]string, error) {
	m, ok := arg.(map[string]any)
	if !ok || m["cond"] == nil {
		return nil, fmt.Errorf("component %q: if takes {cond, then, else}, not %v", r.c.Name, arg)
	}
	for k := range m {
		if k != "cond" && k != "then" && k != "else" {
			return nil, fmt.Errorf("component %q: if has no key %q", r.c.Name, k)
		}
	}
	cond, err := r.part(m["cond"])
	if err != nil {
		return nil, err
	}
	taken := false
	switch len(cond) {
	case 0: // an absent optional input is false
	case 1:
		if cond[0] != "" {
			if taken, err = strToBool(cond[0]); err != nil {
				return nil, fmt.Errorf("component %q: if: %w", r.c.Name, err)
			}
		}
	default:
		return nil, fmt.Errorf("component %q: if: a condition is one value, not %q", r.c.Name, cond)
	}
	branch := m["else"]
	if taken {
		branch = m["then"]
	}
	switch b := branch.(type) {
	case nil:
		return nil, nil
	case []any:
		return r.list(b)
	default:
		return r.part(b)
	}
}

// strToBool is Python's distutils.util.strtobool, which KFP applies to an
// if's condition.
func strToBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "y", "yes", "t", "true", "on", "1":
		return true, nil
	case "n", "no", "f", "false", "off", "0":
		return false, nil
	}
	return false, fmt.Errorf("invalid truth value %q", s)
}

// checkPortable fails on what KFP v1 and v2 resolve differently: an
// optional input with a default (v1 passes nothing, v2 the default, so
// isPresent differs) and an optional input used outside an
// {if: {cond: {isPresent: NAME}}} that guards it.
func checkPortable(c *kfpComponent) error {
	for _, in := range c.Inputs {
		if in.Optional && in.Default != nil {
			return fmt.Errorf("component %q: input %q is optional and has a default", c.Name, in.Name)
		}
	}
	var walk func(p any, guarded []string) error
	walk = func(p any, guarded []string) error {
		switch v := p.(type) {
		case []any:
			for _, x := range v {
				if err := walk(x, guarded); err != nil {
					return err
				}
			}
		case map[string]any:
			for key, arg := range v {
				switch key {
				case "inputValue", "inputPath":
					name, _ := arg.(string)
					if in, ok := c.input(name); ok && in.Optional && !slices.Contains(guarded, name) {
						return fmt.Errorf("component %q: optional input %q is used where isPresent does not guard it", c.Name, name)
					}
				case "concat":
					if err := walk(arg, guarded); err != nil {
						return err
					}
				case "if":
					m, _ := arg.(map[string]any)
					cond, _ := m["cond"].(map[string]any)
					name, _ := cond["isPresent"].(string)
					if err := walk(m["then"], append(slices.Clone(guarded), name)); err != nil {
						return err
					}
					if err := walk(m["else"], guarded); err != nil {
						return err
					}
				}
			}
		}
		return nil
	}
	ct := c.Implementation.Container
	return walk(append(slices.Clone(ct.Command), ct.Args...), nil)
}

// kfpRun is what one run of a component did.
type kfpRun struct {
	cliResult
	argv    []string
	outputs map[string]string // output name → path
}

// output reads an output file whole, as KFP reads an output's value.
func (r kfpRun) output(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(r.outputs[name])
	if err != nil {
		t.Fatalf("output %s: %v\ncommand: %q\n%s", name, err, r.argv, r.stderr)
	}
	return string(b)
}

// runComponent resolves c for a task with args and runs it with the cairn
// binary under test in place of the image's, in env.
func runComponent(t *testing.T, e *cliEnv, c *kfpComponent, args map[string]string, makeParents bool) kfpRun {
	t.Helper()
	mustf(t, c.Implementation.Container.Image == kfpImage, "component %q runs in %q, want %s", c.Name, c.Implementation.Container.Image, kfpImage)
	argv, outputs, err := c.resolve(args, t.TempDir(), makeParents)
	if err != nil {
		t.Fatal(err)
	}
	// The image has no shell: the command must be cairn itself.
	mustf(t, len(argv) > 1 && argv[0] == kfpEntrypoint, "component %q: command %q does not start with %s", c.Name, argv, kfpEntrypoint)
	return kfpRun{cliResult: e.run(argv[1:]...), argv: argv, outputs: outputs}
}

// ok fails the test unless the run exited 0.
func (r kfpRun) ok(t *testing.T, c *cairn) kfpRun {
	t.Helper()
	mustf(t, r.code == 0, "%q: exit %d\n%s%s\n--- server log ---\n%s", r.argv, r.code, r.stdout, r.stderr, c.log())
	return r
}

// TestKubeflowComponents runs the pipeline of the README with the
// components, resolved as KFP resolves them, against a live cairn: a
// dataset directory, embeddings derived from it and a cluster cache derived
// from both, each pushed with the run's identity; then it asks the catalog
// for the run and the lineage, and pulls the cache and the dataset back.
func TestKubeflowComponents(t *testing.T) {
	push := loadComponent(t, "../integrations/kubeflow/push.yaml")
	pull := loadComponent(t, "../integrations/kubeflow/pull.yaml")
	for _, comp := range []*kfpComponent{push, pull} {
		if err := checkPortable(comp); err != nil {
			t.Fatal(err)
		}
	}
	c := startCairn(t)
	e := newCLIEnv(t) // CAIRN_PLAIN_HTTP=true
	host := c.addr

	// What the upstream steps wrote, where the launcher puts artifacts:
	// .../TASK/OUTPUT_NAME, so a layer is titled with the output's name.
	artifacts := t.TempDir()
	dataset := filepath.Join(artifacts, "make-dataset", "dataset")
	files := map[string]string{"papers.jsonl": `{"title":"Attention"}` + "\n", "meta.json": `{"conference":"neurips","year":2024}`}
	if err := os.MkdirAll(dataset, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		writeFile(t, dataset, name, []byte(content))
	}
	embeddings := filepath.Join(artifacts, "embed", "embeddings")
	clusters := filepath.Join(artifacts, "cluster", "clusters")
	for p, content := range map[string]string{embeddings: "\x93NUMPY\x01\x00 vectors", clusters: `{"k":8,"centroids":[[0.1,0.2]]}`} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Dir(p), filepath.Base(p), []byte(content))
	}

	const pipeline = "abstracts-embeddings"
	runID := "5f0c1e4a-9b2d-4c7e-8a31-0d6b2f9e7c15"
	task := func(name string, args map[string]string) map[string]string {
		args["pipeline_name"], args["run_id"], args["task_name"] = pipeline, runID, name
		return args
	}

	// An earlier run pushed the dataset too; asking for this run leaves it out.
	earlier := runComponent(t, e, push, map[string]string{"data": dataset, "repository": host + "/datasets/abstracts", "tag": "neurips-2024",
		"pipeline_name": pipeline, "run_id": "0a1b2c3d-earlier", "task_name": "push-dataset"}, true).ok(t, c)
	earlierDigest := earlier.output(t, "digest")

	ds := runComponent(t, e, push, task("push-dataset", map[string]string{
		"data": dataset, "repository": host + "/datasets/abstracts", "tag": "neurips-2024",
		"artifact_type": datasetType,
		// A key of the run's own cannot be forged through annotations.
		"annotations": `{"org.example.conference":"neurips","org.example.year":"2024","dev.cairn.kfp.run-id":"forged"}`,
	}), true).ok(t, c)
	emb := runComponent(t, e, push, task("push-embeddings", map[string]string{
		"data": embeddings, "repository": host + "/datasets/abstracts-embeddings", "tag": "neurips-2024-qwen3",
		"artifact_type": embeddingsType, "annotations": `{"org.example.model":"Qwen/Qwen3-Embedding-0.6B"}`,
		"derived_from": ds.output(t, "reference"),
	}), true).ok(t, c)
	// No tag: cairn push tags latest; the reference names the digest.
	cache := runComponent(t, e, push, task("push-clusters", map[string]string{
		"data": clusters, "repository": host + "/caches/abstracts-clusters",
		"artifact_type":  "application/vnd.example.clusters.v1+json",
		"derived_from":   emb.output(t, "reference"),
		"derived_from_2": ds.output(t, "reference"),
	}), true).ok(t, c)

	digestRE := regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
	type step struct {
		run        kfpRun
		repo, tag  string
		typ, title string
		extra      map[string]string // annotations besides the run's
	}
	steps := map[string]step{
		"push-dataset": {ds, "datasets/abstracts", "neurips-2024", datasetType, "dataset",
			map[string]string{"org.example.conference": "neurips", "org.example.year": "2024"}},
		"push-embeddings": {emb, "datasets/abstracts-embeddings", "neurips-2024-qwen3", embeddingsType, "embeddings",
			map[string]string{"org.example.model": "Qwen/Qwen3-Embedding-0.6B"}},
		"push-clusters": {cache, "caches/abstracts-clusters", "latest", "application/vnd.example.clusters.v1+json", "clusters", nil},
	}
	digests := map[string]string{}
	for name, s := range steps {
		// The outputs hold the values alone: no newline, nothing else.
		dg := s.run.output(t, "digest")
		mustf(t, digestRE.MatchString(dg), "%s: digest output %q", name, dg)
		ref := s.run.output(t, "reference")
		mustf(t, ref == host+"/"+s.repo+"@"+dg, "%s: reference output %q, want %s/%s@%s", name, ref, host, s.repo, dg)
		digests[name] = dg
	}
	mustf(t, digests["push-dataset"] != earlierDigest, "the two runs' datasets have one digest")

	// The catalog lists this run's three artifacts, with the run's
	// annotations, as pushed.
	var list struct {
		Artifacts []apiArtifact `json:"artifacts"`
	}
	q := url.Values{"annotation": {"dev.cairn.kfp.run-id=" + runID}}
	code, apiErr := apiGet(t, c, "/api/v1/artifacts?"+q.Encode(), &list)
	mustf(t, code == http.StatusOK, "artifacts?%s: %d %+v", q.Encode(), code, apiErr)
	mustf(t, len(list.Artifacts) == 3, "run %s lists %d artifacts, want 3: %v", runID, len(list.Artifacts), digestsOf(list.Artifacts))
	for _, a := range list.Artifacts {
		var name string
		for n, s := range steps {
			if s.repo == a.Repository {
				name = n
			}
		}
		s, ok := steps[name]
		mustf(t, ok, "run %s lists %s@%s, which it did not push", runID, a.Repository, a.Digest)
		mustf(t, a.Digest == digests[name], "%s: the catalog has %s, the digest output says %s", name, a.Digest, digests[name])
		mustf(t, a.ArtifactType == s.typ && slices.Equal(a.Tags, []string{s.tag}), "%s: type %q tags %v, want %q [%s]", name, a.ArtifactType, a.Tags, s.typ, s.tag)
		mustf(t, len(a.Layers) == 1 && a.Layers[0].Title == s.title, "%s: layers %+v, want one titled %q", name, a.Layers, s.title)
		want := map[string]string{"dev.cairn.kfp.pipeline": pipeline, "dev.cairn.kfp.run-id": runID, "dev.cairn.kfp.task": name}
		for k, v := range s.extra {
			want[k] = v
		}
		for k, v := range want {
			mustf(t, a.Annotations[k] == v, "%s: annotation %s is %q, want %q (all: %v)", name, k, a.Annotations[k], v, a.Annotations)
		}
	}
	dsRef, embRef, cacheRef := "datasets/abstracts@"+digests["push-dataset"], "datasets/abstracts-embeddings@"+digests["push-embeddings"], "caches/abstracts-clusters@"+digests["push-clusters"]
	var one apiArtifact
	code, apiErr = apiGet(t, c, "/api/v1/artifacts/"+cacheRef, &one)
	mustf(t, code == http.StatusOK, "artifacts/%s: %d %+v", cacheRef, code, apiErr)
	mustf(t, one.Annotations["dev.cairn.lineage.derived-from"] == embRef+","+dsRef, "cache derived-from %q, want %s,%s", one.Annotations["dev.cairn.lineage.derived-from"], embRef, dsRef)

	// The lineage above the cache names the embeddings and the dataset.
	up := getLineage(t, c, cacheRef+"?direction=up")
	mustf(t, slices.Equal(up.refs(), []string{cacheRef, embRef, dsRef}), "lineage up from the cache: %v", up.refs())
	var edges []string
	for _, ed := range up.Edges {
		edges = append(edges, ed.Child+" -"+ed.Kind+"-> "+ed.Parent)
	}
	slices.Sort(edges)
	wantEdges := []string{cacheRef + " -derived-from-> " + dsRef, cacheRef + " -derived-from-> " + embRef, embRef + " -derived-from-> " + dsRef}
	slices.Sort(wantEdges)
	mustf(t, slices.Equal(edges, wantEdges), "lineage edges:\n%s\nwant\n%s", strings.Join(edges, "\n"), strings.Join(wantEdges, "\n"))

	// Pull the cache with plain_http and no CAIRN_PLAIN_HTTP, so the input
	// must do it; KFP v1 serialises a Python True as "True".
	noEnv := newCLIEnv(t, "CAIRN_PLAIN_HTTP=")
	got := runComponent(t, noEnv, pull, map[string]string{"reference": cache.output(t, "reference"), "plain_http": "True"}, true).ok(t, c)
	mustf(t, got.output(t, "digest") == digests["push-clusters"], "pulled digest %q, want %s", got.output(t, "digest"), digests["push-clusters"])
	clustersBytes, _ := os.ReadFile(clusters)
	sameTree(t, tree(t, got.outputs["data"]), map[string]string{"clusters": string(clustersBytes)}, "pulled cache")
	noStaging(t, got.outputs["data"])

	// The dataset comes back as the directory it was, and cairn pull makes
	// the output's directories when the launcher has not (KFP v1).
	got = runComponent(t, e, pull, map[string]string{"reference": ds.output(t, "reference")}, false).ok(t, c)
	want := map[string]string{"dataset/": ""}
	for name, content := range files {
		want["dataset/"+name] = content
	}
	sameTree(t, tree(t, got.outputs["data"]), want, "pulled dataset")
	mustf(t, got.output(t, "digest") == digests["push-dataset"], "pulled dataset digest %q", got.output(t, "digest"))
	noStaging(t, got.outputs["data"])

	// With access control on, the credentials come from the environment,
	// as kfp-kubernetes sets them from a Secret.
	t.Run("credentials from the environment", func(t *testing.T) {
		dataDir := filepath.Join(t.TempDir(), "data")
		r := runCLI(t, nil, "token", "issue", "pipeline", "--scope", "datasets/:pull,push", "--data-dir", dataDir)
		mustf(t, r.code == 0, "token issue: %d %s", r.code, r.stderr)
		secret := strings.TrimSpace(r.stdout)
		ac := &cairn{t: t, dataDir: dataDir, workDir: t.TempDir(), args: []string{"--auth"}}
		ac.addr = freeAddr(t)
		ac.start()
		t.Cleanup(ac.stop)
		args := func() map[string]string {
			return task("push-dataset", map[string]string{"data": dataset, "repository": ac.addr + "/datasets/abstracts", "tag": "neurips-2024"})
		}
		r = runComponent(t, e, push, args(), true).cliResult
		mustf(t, r.code == 4, "push without credentials: exit %d\n%s", r.code, r.stderr)
		creds := newCLIEnv(t, "CAIRN_USERNAME=pipeline", "CAIRN_PASSWORD="+secret)
		pushed := runComponent(t, creds, push, args(), true).ok(t, ac)
		got := runComponent(t, creds, pull, map[string]string{"reference": pushed.output(t, "reference")}, true).ok(t, ac)
		sameTree(t, tree(t, got.outputs["data"]), want, "dataset pulled with credentials")
	})

	t.Run("resolution refuses bad tasks", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			args map[string]string
			want string
		}{
			{"no repository", map[string]string{"data": clusters, "pipeline_name": pipeline, "run_id": runID, "task_name": "t"},
				`component "cairn push": missing required input "repository"`},
			{"no run id", map[string]string{"data": clusters, "repository": host + "/caches/x", "pipeline_name": pipeline, "task_name": "t"},
				`component "cairn push": missing required input "run_id"`},
			{"unknown input", task("t", map[string]string{"data": clusters, "repository": host + "/caches/x", "derived_from_4": dsRef}),
				`component "cairn push" has no input "derived_from_4"`},
		} {
			_, _, err := push.resolve(tc.args, t.TempDir(), true)
			mustf(t, err != nil && err.Error() == tc.want, "%s: got %v, want %q", tc.name, err, tc.want)
		}
		// A placeholder KFP's v1 format does not have fails, as does an
		// optional input used without isPresent.
		dir := t.TempDir()
		bad := filepath.Join(dir, "bad.yaml")
		writeFile(t, dir, "bad.yaml", []byte(`name: bad
inputs:
- {name: data}
- {name: note, type: String, optional: true}
implementation:
  container:
    image: `+kfpImage+`
    command: [`+kfpEntrypoint+`, push, {inputUri: data}, {inputValue: note}]
`))
		bc := loadComponent(t, bad)
		_, _, err := bc.resolve(map[string]string{"data": clusters}, t.TempDir(), true)
		mustf(t, err != nil && err.Error() == `component "bad": unknown placeholder "inputUri"`, "inputUri: %v", err)
		err = checkPortable(bc)
		mustf(t, err != nil && strings.Contains(err.Error(), `optional input "note" is used where isPresent does not guard it`), "unguarded optional input: %v", err)
		writeFile(t, dir, "typo.yaml", []byte("name: typo\ninputs:\n- {name: data, optinal: true}\n"))
		_, err = parseComponent(filepath.Join(dir, "typo.yaml"))
		mustf(t, err != nil && strings.Contains(err.Error(), "optinal"), "misspelt key: %v", err)
	})

	t.Run("push refuses bad inputs and pushes nothing", func(t *testing.T) {
		bad := filepath.Join(artifacts, "bad", "notes")
		if err := os.MkdirAll(filepath.Dir(bad), 0o755); err != nil {
			t.Fatal(err)
		}
		badContent := []byte("content no other artifact has")
		writeFile(t, filepath.Dir(bad), "notes", badContent)
		badBlob := fmt.Sprintf("sha256:%x", sha256.Sum256(badContent))
		for _, tc := range []struct {
			name  string
			args  map[string]string
			code  int
			wants []string
		}{
			// derived_from is one reference; a JSON list is not one.
			{"derived_from as a JSON list", map[string]string{"derived_from": `["` + host + "/" + dsRef + `"]`}, 2,
				[]string{"--derived-from", "is not REGISTRY/REPOSITORY"}},
			{"derived_from that does not exist", map[string]string{"derived_from": host + "/datasets/abstracts@sha256:" + strings.Repeat("0", 64)}, 3,
				[]string{"derived-from manifest"}},
			{"annotations that are not JSON", map[string]string{"annotations": `{"org.example.model": qwen3}`}, 2,
				[]string{"--annotation-json: want a JSON object of strings"}},
		} {
			args := task("push-bad", map[string]string{"data": bad, "repository": host + "/datasets/bad", "tag": "v1"})
			for k, v := range tc.args {
				args[k] = v
			}
			r := runComponent(t, e, push, args, true)
			msg := strings.TrimSpace(r.stderr)
			mustf(t, r.code == tc.code && strings.HasPrefix(msg, "cairn: ") && !strings.Contains(msg, "\n"),
				"%s: want exit %d and one line, got %d\n%s%s", tc.name, tc.code, r.code, r.stdout, r.stderr)
			for _, w := range tc.wants {
				mustf(t, strings.Contains(msg, w), "%s: the message does not say %q: %s", tc.name, w, msg)
			}
			for name, p := range r.outputs {
				_, err := os.Stat(p)
				mustf(t, os.IsNotExist(err), "%s: output %s was written: %v", tc.name, name, err)
			}
			var l struct {
				Artifacts []apiArtifact `json:"artifacts"`
			}
			code, apiErr := apiGet(t, c, "/api/v1/artifacts?repository=datasets/bad", &l)
			mustf(t, code == http.StatusOK && len(l.Artifacts) == 0, "%s: datasets/bad holds %d artifacts (%d %+v)", tc.name, len(l.Artifacts), code, apiErr)
			code, _, body := do(t, http.MethodGet, c.url("/v2/datasets/bad/tags/list"), nil, nil)
			mustf(t, code == http.StatusNotFound, "%s: tags of datasets/bad: %d %s", tc.name, code, body)
			code, _, _ = do(t, http.MethodHead, c.url("/v2/datasets/bad/blobs/"+badBlob), nil, nil)
			mustf(t, code == http.StatusNotFound, "%s: the layer was uploaded (HEAD %d)", tc.name, code)
		}
	})
}
