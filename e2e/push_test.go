package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// cliEnv runs the cairn binary as a registry client in a working
// directory of its own, with a private home and credential stores
// (homeVars) so that no user setting leaks in.
type cliEnv struct {
	t    *testing.T
	dir  string
	home string
	// env is set over the parent's environment; a later entry of a key
	// wins.
	env []string
}

func newCLIEnv(t *testing.T, env ...string) *cliEnv {
	t.Helper()
	home := t.TempDir()
	base := append(homeVars(home), "CAIRN_SERVER=",
		"CAIRN_REGISTRY=", "CAIRN_USERNAME=", "CAIRN_PASSWORD=", "CAIRN_TOKEN=", "CAIRN_PLAIN_HTTP=true")
	return &cliEnv{t: t, dir: t.TempDir(), home: home, env: append(base, env...)}
}

// run runs cairn with args and returns its output and exit code.
func (e *cliEnv) run(args ...string) cliResult {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary(e.t), args...)
	cmd.Env = environ(e.env...)
	cmd.Dir = e.dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		e.t.Fatalf("cairn %s: %v", strings.Join(args, " "), err)
	}
	return cliResult{stdout: stdout.String(), stderr: stderr.String(), code: cmd.ProcessState.ExitCode()}
}

// ok runs a command that must succeed and returns its stdout.
func (e *cliEnv) ok(args ...string) string {
	e.t.Helper()
	r := e.run(args...)
	if r.code != 0 {
		e.t.Fatalf("cairn %s: exit %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// okJSON runs a command with --json and decodes its output into v.
func (e *cliEnv) okJSON(v any, args ...string) {
	e.t.Helper()
	out := e.ok(append(args, "--json")...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		e.t.Fatalf("cairn %s --json: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// fails runs a command that must fail with code, its one-line message
// containing each of wants.
func (e *cliEnv) fails(code int, wants []string, args ...string) cliResult {
	e.t.Helper()
	r := e.run(args...)
	msg := strings.TrimSpace(r.stderr)
	if r.code != code || strings.Count(msg, "\n") > 0 || !strings.HasPrefix(msg, "cairn: ") {
		e.t.Fatalf("cairn %s: want exit %d and one line, got exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, r.code, r.stdout, r.stderr)
	}
	for _, w := range wants {
		if !strings.Contains(msg, w) {
			e.t.Fatalf("cairn %s: the message does not say %q:\n%s", strings.Join(args, " "), w, msg)
		}
	}
	return r
}

func (e *cliEnv) path(p ...string) string { return filepath.Join(append([]string{e.dir}, p...)...) }

func (e *cliEnv) write(name, content string) {
	e.t.Helper()
	p := e.path(name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		e.t.Fatal(err)
	}
}

// cliPushed and cliPulled are the --json answers of push and pull.
type cliPushed struct {
	Reference   string            `json:"reference"`
	Tag         string            `json:"tag"`
	Digest      string            `json:"digest"`
	Annotations map[string]string `json:"annotations"`
	Layers      []layerResult     `json:"layers"`
}

type layerResult struct {
	Title     string `json:"title"`
	Digest    string `json:"digest"`
	MediaType string `json:"mediaType"`
	Status    string `json:"status"`
}

type cliPulled struct {
	Digest string        `json:"digest"`
	Layers []layerResult `json:"layers"`
}

func statuses(ls []layerResult) map[string]string {
	m := map[string]string{}
	for _, l := range ls {
		m[l.Title] = l.Status
	}
	return m
}

// tree reads every file under dir (relative path → content), to compare
// directories byte for byte.
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() {
			if rel != "." {
				out[rel+"/"] = ""
			}
			return nil
		}
		b, err := os.ReadFile(p)
		out[rel] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameTree(t *testing.T, got, want map[string]string, what string) {
	t.Helper()
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Fatalf("%s: %s differs (present %v, %d bytes, want %d)", what, k, ok, len(g), len(v))
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Fatalf("%s: unexpected %s", what, k)
		}
	}
}

// noStaging fails when a pull left its staging directory beside dir.
func noStaging(t *testing.T, dir string) {
	t.Helper()
	entries, _ := os.ReadDir(filepath.Dir(dir))
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".cairn-pull") {
			t.Fatalf("a pull left %s beside %s", e.Name(), dir)
		}
	}
}

// pushPullScenario is the acceptance walk-through against a registry at
// host: push three files and a directory with a tag template, pull into a
// fresh directory, change one file upstream and see only it move, refuse a
// --require mismatch, pull one layer with --only.
func pushPullScenario(t *testing.T, host string) {
	e := newCLIEnv(t)
	e.write("data/papers.db", "SQLite format 3\x00 papers of neurips 2024")
	e.write("data/emb.npy", strings.Repeat("\x93NUMPY vectors ", 1000))
	e.write("data/meta.json", `{"conference":"neurips","year":2024}`)
	e.write("data/notes/a.txt", "first note")
	e.write("data/notes/deep/b.txt", "second note")
	repo := host + "/datasets/abstracts"
	args := []string{"push", repo, "papers.db", "emb.npy", "meta.json:application/vnd.cairn.meta.v1+json", "notes/",
		"--artifact-type", "application/vnd.cairn.dataset.v1",
		"-a", "org.example.conference=NeurIPS", "-a", "org.example.year=2024", "-a", "org.example.model=Qwen/Qwen3-Embedding-0.6B",
		"--tag-template", "{conference}-{year}_{model}"}
	// Push from inside the directory, so the titles are the file names.
	e.dir = e.path("data")
	var p1 cliPushed
	e.okJSON(&p1, args...)
	e.dir = filepath.Dir(e.dir)
	mustf(t, p1.Tag == "neurips-2024_qwen-qwen3-embedding-0.6b", "tag from the template: %q", p1.Tag)
	mustf(t, len(p1.Layers) == 4 && statuses(p1.Layers)["papers.db"] == "uploaded", "push layers: %+v", p1.Layers)
	mt := map[string]string{}
	for _, l := range p1.Layers {
		mt[l.Title] = l.MediaType
	}
	mustf(t, mt["meta.json"] == "application/vnd.cairn.meta.v1+json" && mt["notes"] == "application/vnd.oci.image.layer.v1.tar+gzip" && mt["papers.db"] == "application/vnd.sqlite3",
		"media types: %v", mt)
	ref := repo + ":" + p1.Tag
	out := e.ok("push", ref, "data/papers.db")
	mustf(t, strings.Contains(out, "Pushed "+ref) && strings.Contains(out, "Digest: sha256:"), "plain push output: %q", out)
	e.dir = e.path("data")
	e.okJSON(&p1, args...) // and back, with every blob already there
	e.dir = filepath.Dir(e.dir)
	for _, l := range p1.Layers {
		mustf(t, l.Status == "exists", "re-push uploaded %s again: %s", l.Title, l.Status)
	}

	// Pull into a fresh directory: the same bytes, the directory unpacked.
	want := tree(t, e.path("data"))
	var got cliPulled
	e.okJSON(&got, "pull", ref, "-o", "copy")
	mustf(t, got.Digest == p1.Digest, "cliPulled %s, cliPushed %s", got.Digest, p1.Digest)
	sameTree(t, tree(t, e.path("copy")), want, "cliPulled copy")
	noStaging(t, e.path("copy"))

	// Upstream changes one file: a second pull moves that layer alone.
	e.write("data/emb.npy", strings.Repeat("\x93NUMPY new vectors ", 1000))
	e.dir = e.path("data")
	var p2 cliPushed
	e.okJSON(&p2, args...)
	e.dir = filepath.Dir(e.dir)
	mustf(t, statuses(p2.Layers)["emb.npy"] == "uploaded" && statuses(p2.Layers)["papers.db"] == "exists", "second push: %+v", p2.Layers)
	e.okJSON(&got, "pull", ref, "-o", "copy")
	st := statuses(got.Layers)
	mustf(t, st["emb.npy"] == "downloaded" && st["papers.db"] == "unchanged" && st["meta.json"] == "unchanged" && st["notes"] == "unchanged",
		"second pull moved more than the changed layer: %v", st)
	sameTree(t, tree(t, e.path("copy")), tree(t, e.path("data")), "after the second pull")

	// --require: the same model passes; another is refused, naming both.
	e.ok("pull", ref, "-o", "copy", "--require", "org.example.model=Qwen/Qwen3-Embedding-0.6B")
	before := tree(t, e.path("copy"))
	e.fails(7, []string{"org.example.model=Qwen/Qwen3-Embedding-0.6B", "org.example.model=bge-m3"},
		"pull", ref, "-o", "copy", "--require", "org.example.model=bge-m3")
	e.fails(7, []string{"no annotation org.example.license"}, "pull", ref, "-o", "copy", "--require", "org.example.license=cc-by")
	sameTree(t, tree(t, e.path("copy")), before, "after refused pulls")
	noStaging(t, e.path("copy"))

	// --only fetches one layer (by title, or by glob).
	e.okJSON(&got, "pull", ref, "-o", "one", "--only", "meta.json")
	mustf(t, len(got.Layers) == 1 && got.Layers[0].Title == "meta.json", "--only meta.json: %+v", got.Layers)
	sameTree(t, tree(t, e.path("one")), map[string]string{"meta.json": want["meta.json"]}, "--only")
	e.okJSON(&got, "pull", ref, "-o", "two", "--only", "*.db", "--only", "notes")
	mustf(t, len(got.Layers) == 2, "--only globs: %+v", got.Layers)
	e.fails(3, []string{"no layer matches --only nothing", "papers.db"}, "pull", ref, "-o", "none", "--only", "nothing")
	_, err := os.Stat(e.path("none"))
	mustf(t, os.IsNotExist(err), "a pull that matched nothing created its output: %v", err)
}

// TestPushPull runs the walk-through against cairn serve.
func TestPushPull(t *testing.T) {
	c := startCairn(t)
	pushPullScenario(t, c.addr)
}

// TestPushPullZot runs it against a real zot, when ZOT_BIN names one.
func TestPushPullZot(t *testing.T) {
	zot := os.Getenv("ZOT_BIN")
	if zot == "" {
		t.Skip("SKIPPED: ZOT_BIN is not set; this test needs a zot binary (see README, 'Testing against zot')")
	}
	pushPullScenario(t, startZot(t, zot))
}

// TestPushRegistryCommands covers inspect, ls, tag, copy, delete, subject
// and derived-from, against cairn serve.
func TestPushRegistryCommands(t *testing.T) {
	c := startCairn(t)
	e := newCLIEnv(t)
	e.write("papers.db", "papers")
	e.write("emb.npy", "vectors")
	repo := c.addr + "/datasets/abstracts"
	var base, emb cliPushed
	e.okJSON(&base, "push", repo+":neurips-2024", "papers.db", "-a", "org.example.year=2024")
	e.okJSON(&emb, "push", c.addr+"/embeddings/abstracts:neurips-2024", "emb.npy",
		"--artifact-type", embeddingsType, "--subject", repo+":neurips-2024", "--derived-from", repo+":neurips-2024")
	mustf(t, emb.Annotations["dev.cairn.lineage.derived-from"] == "datasets/abstracts@"+base.Digest, "derived-from: %v", emb.Annotations)

	// A subject in the same repository, written relative to it.
	var attached cliPushed
	e.okJSON(&attached, "push", repo+":neurips-2024-notes", "emb.npy", "--subject", ":neurips-2024")
	var in struct {
		Digest      string            `json:"digest"`
		Annotations map[string]string `json:"annotations"`
		Layers      []struct {
			Title string `json:"title"`
		} `json:"layers"`
		Referrers []struct {
			Digest string `json:"digest"`
		} `json:"referrers"`
	}
	e.okJSON(&in, "inspect", repo+":neurips-2024")
	mustf(t, in.Digest == base.Digest && in.Annotations["org.example.year"] == "2024" && len(in.Layers) == 1 && in.Layers[0].Title == "papers.db",
		"inspect: %+v", in)
	mustf(t, len(in.Referrers) == 1 && in.Referrers[0].Digest == attached.Digest, "inspect referrers: %+v", in.Referrers)
	out := e.ok("inspect", repo+":neurips-2024")
	mustf(t, strings.Contains(out, "papers.db") && strings.Contains(out, "org.example.year=2024") && strings.Contains(out, "Referrers:"), "inspect table:\n%s", out)

	e.ok("tag", repo+":neurips-2024", "latest")
	var tags []struct {
		Tag    string `json:"tag"`
		Digest string `json:"digest"`
		Size   int64  `json:"size"`
	}
	e.okJSON(&tags, "ls", repo)
	mustf(t, len(tags) == 3 && tags[0].Tag == "latest" && tags[0].Digest == base.Digest && tags[0].Size > int64(len("papers")), "ls: %+v", tags)
	out = e.ok("ls", repo)
	mustf(t, strings.HasPrefix(out, "TAG") && strings.Contains(out, "neurips-2024") && strings.Contains(out, base.Digest), "ls table:\n%s", out)

	// copy to another repository, with the referrer.
	e.ok("copy", repo+":neurips-2024", c.addr+"/mirror/abstracts")
	e.okJSON(&in, "inspect", c.addr+"/mirror/abstracts:neurips-2024")
	mustf(t, in.Digest == base.Digest && len(in.Referrers) == 1, "copied: %+v", in)

	// delete: refused off a terminal without --yes, then done.
	e.fails(2, []string{"--yes"}, "delete", c.addr+"/mirror/abstracts:neurips-2024")
	// cairn serve refuses to delete what others are attached to, and cairn
	// delete passes its reason on.
	e.fails(4, []string{"refused", attached.Digest}, "delete", "--yes", c.addr+"/mirror/abstracts:neurips-2024")
	e.ok("delete", "--yes", c.addr+"/mirror/abstracts@"+attached.Digest)
	e.ok("delete", "--yes", c.addr+"/mirror/abstracts:neurips-2024")
	e.fails(3, []string{"not found"}, "inspect", c.addr+"/mirror/abstracts:neurips-2024")

	// delete --cascade: what is attached goes first, deepest first.
	mirror2 := c.addr + "/mirror2/abstracts"
	e.ok("copy", repo+":neurips-2024", mirror2)
	var onAttached cliPushed
	e.okJSON(&onAttached, "push", mirror2+":note-on-note", "papers.db", "--subject", "@"+attached.Digest)
	e.fails(2, []string{"--yes"}, "delete", "--cascade", mirror2+":neurips-2024")
	out = e.ok("delete", "--yes", "--cascade", mirror2+":neurips-2024")
	mustf(t, strings.Count(out, "Deleted ") == 3 && strings.Index(out, onAttached.Digest) < strings.Index(out, attached.Digest) &&
		strings.Index(out, attached.Digest) < strings.Index(out, base.Digest), "delete --cascade:\n%s", out)
	for _, d := range []string{base.Digest, attached.Digest, onAttached.Digest} {
		e.fails(3, []string{"not found"}, "inspect", mirror2+"@"+d)
	}
	e.okJSON(&in, "inspect", repo+":neurips-2024") // the original is untouched

	// A chunked upload (3 chunks of 1 MiB and a short one) reads back whole.
	e.write("chunked/big.bin", strings.Repeat("0123456789abcdef", (3<<20+1234)/16))
	e.dir = e.path("chunked")
	e.ok("push", repo+":chunked", "big.bin", "--chunk-size", "1MiB")
	e.dir = filepath.Dir(e.dir)
	e.ok("pull", repo+":chunked", "-o", "chunked-copy")
	sameTree(t, tree(t, e.path("chunked-copy")), tree(t, e.path("chunked")), "chunked push")
	e.fails(2, []string{"--chunk-size"}, "push", repo+":chunked", "chunked/big.bin", "--chunk-size", "12")

	// CAIRN_REGISTRY names the registry of references without one.
	e.env = append(e.env, "CAIRN_REGISTRY="+c.addr)
	e.okJSON(&in, "inspect", "datasets/abstracts:latest")
	mustf(t, in.Digest == base.Digest, "inspect through CAIRN_REGISTRY: %+v", in)
}

// TestPushPullBadInput: each failure is one line, an exit code a script
// can test, and nothing left behind.
func TestPushPullBadInput(t *testing.T) {
	c := startCairn(t)
	e := newCLIEnv(t)
	e.write("a.txt", "a")
	ref := c.addr + "/datasets/bad:1"
	e.ok("push", ref, "a.txt")

	e.fails(2, []string{"missing.txt does not exist"}, "push", ref, "a.txt", "missing.txt")
	e.fails(2, []string{"not REGISTRY/REPOSITORY"}, "push", c.addr+"/Upper/Case:1", "a.txt")
	e.fails(2, []string{"not REGISTRY/REPOSITORY"}, "pull", c.addr+"/datasets/bad:no tag")
	e.fails(2, []string{"URL scheme"}, "pull", "http://"+ref)
	e.fails(2, []string{"tag template", "{nothing}"}, "push", c.addr+"/datasets/bad", "a.txt", "--tag-template", "{nothing}")
	e.fails(2, []string{"--annotation", "KEY=VALUE"}, "push", ref, "a.txt", "-a", "novalue")
	e.fails(2, []string{"unknown flag"}, "push", "--no-such-flag", ref, "a.txt")
	if os.Geteuid() != 0 { // root reads anything
		e.write("locked/x.txt", "x")
		if err := os.Chmod(e.path("locked"), 0); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod(e.path("locked"), 0o755) })
		e.fails(2, []string{"locked"}, "push", ref, "locked")
	}
	e.fails(3, []string{"not found", "cairn ls"}, "pull", c.addr+"/datasets/bad:2", "-o", "out")
	e.fails(3, []string{"not found"}, "pull", c.addr+"/datasets/never:1", "-o", "out")
	down := freeAddr(t)
	e.fails(5, []string{"cannot reach the registry at " + down, "is it running"}, "pull", down+"/datasets/bad:1", "-o", "out")
	e.fails(5, []string{"cannot reach the registry at " + down}, "push", down+"/datasets/bad:1", "a.txt")
	// TLS against a plain-HTTP registry says what to do.
	tls := newCLIEnv(t, "CAIRN_PLAIN_HTTP=")
	tls.fails(5, []string{"plain HTTP", "--plain-http"}, "pull", ref, "-o", "out")
	// An output that is a file.
	e.write("file", "x")
	e.fails(2, []string{"not a directory"}, "pull", ref, "-o", "file")
	_, err := os.Stat(e.path("out"))
	mustf(t, os.IsNotExist(err), "a failed pull created its output: %v", err)
	noStaging(t, e.path("out"))
}
