package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPushPullInterop: what cairn pushes, oras and regctl read; what they
// push, cairn pulls.
func TestPushPullInterop(t *testing.T) {
	c := startCairn(t)
	c.regctlHost(c.addr)
	e := newCLIEnv(t)
	files := map[string]string{
		"papers.db":       "SQLite format 3\x00 papers",
		"emb.npy":         strings.Repeat("\x93NUMPY ", 500),
		"notes/a.txt":     "note a",
		"notes/sub/b.txt": "note b",
	}
	for name, content := range files {
		e.write("src/"+name, content)
		p := filepath.Join(c.workDir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Dir(p), filepath.Base(p), []byte(content))
	}
	want := tree(t, e.path("src"))

	// cairn push → oras pull (the directory unpacked too) and regctl.
	e.dir = e.path("src")
	e.ok("push", c.addr+"/interop/cairn:1", "papers.db", "emb.npy", "notes", "-a", "org.example.year=2024")
	e.dir = filepath.Dir(e.dir)
	orasOut := filepath.Join(c.workDir, "oras-out")
	c.run("oras", "pull", "--plain-http", "-o", orasOut, c.addr+"/interop/cairn:1")
	sameTree(t, tree(t, orasOut), want, "oras pull of a cairn push")
	regctlOut := filepath.Join(c.workDir, "regctl-out")
	if err := os.Mkdir(regctlOut, 0o755); err != nil {
		t.Fatal(err)
	}
	c.run("regctl", "artifact", "get", "-o", regctlOut, "-f", "papers.db", "-f", "emb.npy", c.addr+"/interop/cairn:1")
	got := tree(t, regctlOut)
	mustf(t, got["papers.db"] == files["papers.db"] && got["emb.npy"] == files["emb.npy"], "regctl artifact get of a cairn push: %v", keys(got))
	out := c.run("regctl", "manifest", "get", "--format", "{{ json .Annotations }}", c.addr+"/interop/cairn:1")
	mustf(t, strings.Contains(out, `"org.example.year":"2024"`), "regctl manifest get: %s", out)

	// oras push (files and a directory, from its own working directory) → cairn pull.
	c.run("oras", "push", "--plain-http", c.addr+"/interop/oras:1", "papers.db", "emb.npy")
	e.ok("pull", c.addr+"/interop/oras:1", "-o", "from-oras")
	got = tree(t, e.path("from-oras"))
	mustf(t, got["papers.db"] == files["papers.db"] && got["emb.npy"] == files["emb.npy"] && len(got) == 2, "cairn pull of an oras push: %v", keys(got))
	c.run("oras", "push", "--plain-http", c.addr+"/interop/oras:dir", "notes")
	e.ok("pull", c.addr+"/interop/oras:dir", "-o", "from-oras-dir")
	got = tree(t, e.path("from-oras-dir"))
	mustf(t, got["notes/a.txt"] == "note a" && got["notes/sub/b.txt"] == "note b", "cairn pull of an oras directory: %v", keys(got))

	// regctl artifact put → cairn pull.
	c.run("regctl", "artifact", "put", "--artifact-type", "application/vnd.cairn.dataset.v1", "--file-title",
		"-f", "papers.db", "-m", "application/vnd.sqlite3", "--annotation", "org.example.model=qwen3", c.addr+"/interop/regctl:1")
	e.ok("pull", c.addr+"/interop/regctl:1", "-o", "from-regctl", "--require", "org.example.model=qwen3")
	got = tree(t, e.path("from-regctl"))
	mustf(t, got["papers.db"] == files["papers.db"], "cairn pull of a regctl push: %v", keys(got))
	// Without --file-title a layer has no file name: said, not guessed.
	c.run("regctl", "artifact", "put", "-f", "emb.npy", c.addr+"/interop/regctl:untitled")
	e.fails(3, []string{"no layer has a title"}, "pull", c.addr+"/interop/regctl:untitled", "-o", "untitled")
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
