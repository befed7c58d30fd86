package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// cliResult is what a cairn client command did.
type cliResult struct {
	stdout, stderr string
	code           int
}

// runCLI runs the cairn binary as a client with args (and extra environment)
// and returns its output and exit code, failing the test only if it cannot
// be run at all.
func runCLI(t *testing.T, env []string, args ...string) cliResult {
	t.Helper()
	return runCLIIn(t, "", env, args...)
}

// runCLIIn is runCLI in directory dir ("" for the test's own).
func runCLIIn(t *testing.T, dir string, env []string, args ...string) cliResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary(t), args...)
	cmd.Dir = dir
	cmd.Env = environ(append(append(homeVars(t.TempDir()), "CAIRN_SERVER="), env...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("cairn %s: %v", strings.Join(args, " "), err)
	}
	return cliResult{stdout: stdout.String(), stderr: stderr.String(), code: cmd.ProcessState.ExitCode()}
}

// cliOK runs a client command that must succeed and returns its stdout.
func (c *cairn) cliOK(args ...string) string {
	c.t.Helper()
	r := runCLI(c.t, nil, args...)
	if r.code != 0 {
		c.t.Fatalf("cairn %s: exit %d\n%s%s\n--- server log ---\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr, c.log())
	}
	return r.stdout
}

// cliJSON runs cairn search --json and decodes the artifacts.
func (c *cairn) cliJSON(args ...string) []apiArtifact {
	c.t.Helper()
	out := c.cliOK(append([]string{"search", "--server", c.url(""), "--json"}, args...)...)
	var as []apiArtifact
	if err := json.Unmarshal([]byte(out), &as); err != nil {
		c.t.Fatalf("cairn search --json %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return as
}

// TestCLI drives cairn search and cairn resolve against a real server after
// real pushes.
func TestCLI(t *testing.T) {
	c := startCairn(t)
	d := seedCatalog(t, c).digests
	server := c.url("")

	// The example of the README, as JSON: newest first.
	got := digestsOf(c.cliJSON("-a", "org.example.year>=2024", "--type", embeddingsType))
	want := []string{d["iclr-2025/emb"], d["icml-2024/emb"], d["neurips-2024/emb"]}
	mustf(t, slices.Equal(got, want), "search --json: got %v\nwant %v", got, want)

	// Every filter flag reaches the server.
	got = digestsOf(c.cliJSON("-a", "org.example.model=qwen3", "-a", "org.example.year<2025", "--repo-prefix", "datasets/ne", "--sort", "pushed"))
	mustf(t, slices.Equal(got, []string{d["neurips-2024/emb"]}), "two annotations and a prefix: %v", got)
	got = digestsOf(c.cliJSON("--repo", "datasets/icml", "--tag", "2024"))
	mustf(t, slices.Equal(got, []string{d["icml-2024"]}), "--repo --tag: %v", got)
	got = digestsOf(c.cliJSON("-q", "ICLR", "--sort", "pushed"))
	mustf(t, slices.Equal(got, []string{d["iclr-2025"], d["iclr-2025/emb"]}), "-q: %v", got)
	got = digestsOf(c.cliJSON("--subject", d["neurips-2023"]))
	mustf(t, slices.Equal(got, []string{d["neurips-2023/emb"]}), "--subject: %v", got)

	// Pages are followed to the end, and --max caps the total.
	all := digestsOf(c.cliJSON("--sort", "repository", "--max", "0"))
	mustf(t, len(all) == 8, "want 8 artifacts, got %d", len(all))
	paged := digestsOf(c.cliJSON("--sort", "repository", "--limit", "3"))
	mustf(t, slices.Equal(paged, all), "paged by 3: %v\nwhole %v", paged, all)
	r := runCLI(t, nil, "search", "--server", server, "--sort", "repository", "--limit", "2", "--max", "5", "--json")
	var capped []apiArtifact
	mustf(t, r.code == 0 && json.Unmarshal([]byte(r.stdout), &capped) == nil, "--max 5: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	mustf(t, slices.Equal(digestsOf(capped), all[:5]) && strings.Contains(r.stderr, "more match"), "--max 5: %v\n%s", digestsOf(capped), r.stderr)

	// The table lists the repositories, a column for the filtered key, and
	// the server comes from CAIRN_SERVER.
	r = runCLI(t, []string{"CAIRN_SERVER=" + server}, "search", "-a", "org.example.year>=2024", "--type", embeddingsType)
	mustf(t, r.code == 0, "table: exit %d\n%s", r.code, r.stderr)
	lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	mustf(t, len(lines) == 4, "table has %d lines, want a header and 3 rows:\n%s", len(lines), r.stdout)
	header := strings.Fields(lines[0])
	mustf(t, slices.Equal(header, []string{"REPOSITORY", "TAGS", "DIGEST", "TYPE", "SIZE", "PUSHED", "SIGNED", "org.example.year"}), "header %q", header)
	for i, repo := range []string{"datasets/iclr", "datasets/icml", "datasets/neurips"} {
		row := lines[i+1]
		short := want[i][:len("sha256:")+12]
		mustf(t, strings.HasPrefix(row, repo+" ") && strings.Contains(row, " "+short+" ") && strings.Contains(row, embeddingsType) && (strings.Contains(row, " ago ") || strings.Contains(row, " just now ")),
			"row %d is not %s %s: %q", i, repo, short, row)
	}
	mustf(t, strings.HasSuffix(lines[1], " 2025") && strings.HasSuffix(lines[3], " 2024"), "annotation column:\n%s", r.stdout)
	r = runCLI(t, nil, "search", "--server", server, "--repo-prefix", "datasets/", "--max", "0")
	for _, repo := range []string{"datasets/neurips", "datasets/icml", "datasets/iclr"} {
		mustf(t, strings.Contains(r.stdout, "\n"+repo+" "), "the table does not list %s:\n%s", repo, r.stdout)
	}
	r = runCLI(t, nil, "search", "--server", server, "--tag", "1999")
	mustf(t, r.code == 0 && r.stdout == "" && strings.Contains(r.stderr, "no artifacts match"), "no match: %d %q %q", r.code, r.stdout, r.stderr)

	// A bad expression is the server's 400, its message naming the parameter.
	r = runCLI(t, nil, "search", "--server", server, "-a", "bad key=1")
	mustf(t, r.code != 0 && r.stdout == "" && strings.HasPrefix(r.stderr, "cairn: annotation=bad key=1") && strings.Contains(r.stderr, "invalid annotation filter"),
		"bad annotation: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	r = runCLI(t, nil, "search", "--server", server, "--limit", "5000", "--max", "0")
	mustf(t, r.code != 0 && strings.HasPrefix(r.stderr, "cairn: limit \"5000\""), "bad limit: exit %d %s", r.code, r.stderr)

	// A content id resolves to its bytes, verified, to a file or stdout.
	iclr := c.cliJSON("--repo", "datasets/iclr", "--tag", "2025")
	mustf(t, len(iclr) == 1 && len(iclr[0].Layers) == 1, "iclr-2025: %+v", iclr)
	id := "hash://sha256/" + strings.TrimPrefix(iclr[0].Layers[0].Digest, "sha256:")
	file := filepath.Join(t.TempDir(), "iclr-2025.db")
	out := c.cliOK("resolve", "--server", server, id, "-o", file)
	mustf(t, out == "", "resolve -o printed %q", out)
	b, err := os.ReadFile(file)
	mustf(t, err == nil && string(b) == "papers of iclr-2025", "resolved file: %v %q", err, b)
	out = c.cliOK("resolve", "--server", server, id)
	mustf(t, out == "papers of iclr-2025", "resolve to stdout: %q", out)
	// A manifest is content too.
	out = c.cliOK("resolve", "--server", server, "hash://sha256/"+strings.TrimPrefix(d["iclr-2025"], "sha256:"))
	mustf(t, strings.Contains(out, `"schemaVersion"`), "resolved manifest: %q", out)

	// An unknown id fails with a message and leaves no file.
	unknown := "hash://sha256/" + strings.Repeat("0", 64)
	missing := filepath.Join(t.TempDir(), "nothing")
	r = runCLI(t, nil, "resolve", "--server", server, unknown, "-o", missing)
	mustf(t, r.code == 1 && r.stdout == "" && strings.Contains(r.stderr, "cairn: no repository holds "+unknown), "unknown id: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	_, err = os.Stat(missing)
	mustf(t, os.IsNotExist(err), "resolve of an unknown id created %s: %v", missing, err)
	r = runCLI(t, nil, "resolve", "--server", server, "hash://md5/abc")
	mustf(t, r.code != 0 && strings.Contains(r.stderr, "hash://md5/abc"), "bad id: exit %d %s", r.code, r.stderr)

	// A server that is not there is named.
	nobody := "http://" + freeAddr(t)
	for _, args := range [][]string{{"search"}, {"resolve", id}} {
		r = runCLI(t, nil, append(args, "--server", nobody)...)
		mustf(t, r.code != 0 && strings.Contains(r.stderr, "cannot reach the cairn server at "+nobody), "%s against nobody: exit %d %s", args[0], r.code, r.stderr)
	}
}
