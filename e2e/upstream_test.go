package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// upstreamScenario pushes, attaches, discovers and pulls through a cairn in
// upstream mode, and checks that its referrers answer agrees with the
// upstream's own.
func upstreamScenario(t *testing.T, front *cairn, upstreamBase string) {
	dataset, emb, notes := pushDataset(t, front, front.addr)
	ref := front.addr + "/datasets/abstracts:neurips-2024"

	out := front.run("oras", "discover", "--plain-http", "--format", "json", ref)
	for _, d := range []string{emb, notes} {
		mustf(t, strings.Contains(out, d), "oras discover through the façade does not list %s:\n%s", d, out)
	}
	for _, filter := range []string{"", embeddingsType} {
		viaFront, _ := referrersOf(t, "http://"+front.addr, "datasets/abstracts", dataset, filter)
		direct, _ := referrersOf(t, upstreamBase, "datasets/abstracts", dataset, filter)
		mustf(t, reflect.DeepEqual(viaFront.Manifests, direct.Manifests), "referrers (filter %q) disagree:\nfaçade:   %+v\nupstream: %+v", filter, viaFront.Manifests, direct.Manifests)
		mustf(t, len(direct.Manifests) > 0, "upstream has no referrers for %s", dataset)
	}
	pullDir := filepath.Join(front.workDir, "pulled")
	front.run("oras", "pull", "--plain-http", "-o", pullDir, ref)
	got, err := os.ReadFile(filepath.Join(pullDir, "papers.db"))
	mustf(t, err == nil && strings.Contains(string(got), "papers of neurips 2024"), "pulled papers.db: %v %q", err, got)

	// The bytes are in the upstream: it serves the tag itself.
	code, _, body := do(t, http.MethodGet, upstreamBase+"/v2/datasets/abstracts/tags/list", nil, nil)
	mustf(t, code == http.StatusOK && strings.Contains(string(body), "neurips-2024"), "upstream tags: %d %s", code, body)

	// Deletes through the façade reach the upstream and the catalog.
	front.run("oras", "manifest", "delete", "--plain-http", "--force", front.addr+"/datasets/abstracts@"+notes)
	viaFront, _ := referrersOf(t, "http://"+front.addr, "datasets/abstracts", dataset, "")
	mustf(t, len(viaFront.Manifests) == 1 && viaFront.Manifests[0].Digest == emb, "after delete: %+v", viaFront.Manifests)
}

// TestUpstreamModeOverCairn fronts a second cairn serve, as CI does when no
// zot is at hand.
func TestUpstreamModeOverCairn(t *testing.T) {
	up := startCairn(t)
	front := startCairn(t, "--upstream", "http://"+up.addr)
	upstreamScenario(t, front, "http://"+up.addr)
}

// TestUpstreamModeOverZot fronts a real zot when ZOT_BIN points at one.
func TestUpstreamModeOverZot(t *testing.T) {
	zot := os.Getenv("ZOT_BIN")
	if zot == "" {
		t.Skip("SKIPPED: ZOT_BIN is not set; this test needs a zot binary (see README, 'Testing against zot')")
	}
	addr := startZot(t, zot)
	front := startCairn(t, "--upstream", "http://"+addr)
	upstreamScenario(t, front, "http://"+addr)
}

// startZot starts zot on a free port with storage in a temporary directory.
func startZot(t *testing.T, bin string) string {
	t.Helper()
	addr, _ := startZotWith(t, bin, "")
	return addr
}

// startZotWith starts zot with extra top-level config JSON (for example
// `"extensions":{…}`), and returns its address and its log's path.
func startZotWith(t *testing.T, bin, extra string) (string, string) {
	t.Helper()
	addr := freeAddr(t)
	host, port, _ := strings.Cut(addr, ":")
	dir := t.TempDir()
	if extra != "" {
		extra = "," + extra
	}
	conf := fmt.Sprintf(`{"distSpecVersion":"1.1.1","storage":{"rootDirectory":%q},"http":{"address":%q,"port":%q},"log":{"level":"info"}%s}`,
		filepath.Join(dir, "storage"), host, port, extra)
	confPath := filepath.Join(dir, "config.json")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "zot.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", confPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		logf.Close()
	})
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if res, err := http.Get("http://" + addr + "/v2/"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return addr, filepath.Join(dir, "zot.log")
			}
		}
	}
	b, _ := os.ReadFile(filepath.Join(dir, "zot.log"))
	t.Fatalf("zot did not start in 30s:\n%s", b)
	return "", ""
}

// patternReader yields n bytes of a repeating pattern without holding them.
type patternReader struct{ n, off int64 }

func (p *patternReader) Read(b []byte) (int, error) {
	if p.off >= p.n {
		return 0, io.EOF
	}
	if int64(len(b)) > p.n-p.off {
		b = b[:p.n-p.off]
	}
	for i := range b {
		b[i] = byte((p.off + int64(i)) * 131 % 251)
	}
	p.off += int64(len(b))
	return len(b), nil
}

// peakRSS returns a process's peak resident set in bytes.
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb * 1024
		}
	}
	t.Fatal("no VmHWM")
	return 0
}

// TestUpstreamStreamsLargeBlobs pushes and pulls a 2 GiB blob through a
// façade in upstream mode: the façade's memory stays flat (it streams).
func TestUpstreamStreamsLargeBlobs(t *testing.T) {
	const size = 2 << 30
	up := startCairn(t)
	front := startCairn(t, "--upstream", "http://"+up.addr)
	base := "http://" + front.addr

	h := sha256.New()
	if _, err := io.Copy(h, &patternReader{n: size}); err != nil {
		t.Fatal(err)
	}
	dgst := "sha256:" + hex.EncodeToString(h.Sum(nil))

	code, hdr, body := do(t, http.MethodPost, base+"/v2/big/blob/blobs/uploads/", nil, nil)
	mustf(t, code == http.StatusAccepted, "POST: %d %s", code, body)
	loc := hdr.Get("Location")
	mustf(t, strings.HasPrefix(loc, "/v2/"), "upload Location %q does not keep the client on the façade", loc)
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPut, base+loc+"&digest="+dgst, &patternReader{n: size})
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = size
	req.Header.Set("Content-Type", "application/octet-stream")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	mustf(t, res.StatusCode == http.StatusCreated, "PUT 2 GiB: %d %s", res.StatusCode, b)

	res, err = http.Get(base + "/v2/big/blob/blobs/" + dgst)
	if err != nil {
		t.Fatal(err)
	}
	h.Reset()
	n, err := io.Copy(h, res.Body)
	res.Body.Close()
	mustf(t, err == nil && n == size, "GET 2 GiB: %d bytes, %v", n, err)
	mustf(t, "sha256:"+hex.EncodeToString(h.Sum(nil)) == dgst, "GET 2 GiB: digest differs")

	peak := peakRSS(t, front.cmd.Process.Pid)
	t.Logf("façade peak RSS after moving 2 GiB each way: %d MiB", peak>>20)
	mustf(t, peak < 200<<20, "façade peak RSS %d MiB: it buffers blobs instead of streaming them", peak>>20)
	// The cairn behind it stored and served the blob with its embedded
	// engine: flat too.
	peak = peakRSS(t, up.cmd.Process.Pid)
	t.Logf("embedded engine's peak RSS after the same: %d MiB", peak>>20)
	mustf(t, peak < 200<<20, "embedded cairn peak RSS %d MiB: it buffers blobs instead of streaming them", peak>>20)
}

// catalogDigests lists every artifact digest the catalog API answers.
func catalogDigests(t *testing.T, c *cairn) []string {
	t.Helper()
	var l struct {
		Artifacts []apiArtifact `json:"artifacts"`
	}
	code, e := apiGet(t, c, "/api/v1/artifacts?limit=1000&sort=repository", &l)
	mustf(t, code == http.StatusOK, "artifacts: %d %+v", code, e)
	out := digestsOf(l.Artifacts)
	slices.Sort(out)
	return out
}

// TestUpstreamReconcile: pushes and deletes that go straight to the
// upstream, behind cairn's back, reach cairn's catalog by the scheduled
// walk, and cairn reindex does the same on demand.
func TestUpstreamReconcile(t *testing.T) {
	up := startCairn(t)
	front := startCairn(t, "--upstream", "http://"+up.addr, "--reconcile-interval", "300ms")
	dataset, _, notes := pushDataset(t, front, front.addr)

	// Behind the front's back: a new artifact with a referrer, and a delete.
	writeFile(t, up.workDir, "model.bin", []byte("weights"))
	out := up.run("oras", "push", "--plain-http", "--format", "json", up.addr+"/models/tiny:v1", "model.bin", "--artifact-type", "application/vnd.cairn.model.v1")
	model := parsePushed(t, out).Digest
	writeFile(t, up.workDir, "card.md", []byte("# tiny"))
	out = up.run("oras", "attach", "--plain-http", "--format", "json", up.addr+"/models/tiny:v1", "card.md", "--artifact-type", "application/vnd.cairn.card.v1")
	card := parsePushed(t, out).Digest
	up.run("oras", "manifest", "delete", "--plain-http", "--force", up.addr+"/datasets/abstracts@"+notes)

	// What the upstream holds, by its own catalog.
	want := catalogDigests(t, up)
	mustf(t, slices.Contains(want, model) && slices.Contains(want, card) && slices.Contains(want, dataset) && !slices.Contains(want, notes), "upstream catalog: %v", want)
	deadline := time.Now().Add(20 * time.Second)
	for !slices.Equal(catalogDigests(t, front), want) {
		if time.Now().After(deadline) {
			t.Fatalf("front catalog %v never matched the upstream's %v\n%s", catalogDigests(t, front), want, front.log())
		}
		time.Sleep(200 * time.Millisecond)
	}

	// cairn reindex walks the upstream too.
	writeFile(t, up.workDir, "more.bin", []byte("more weights"))
	out = up.run("oras", "push", "--plain-http", "--format", "json", up.addr+"/models/tiny:v2", "more.bin", "--artifact-type", "application/vnd.cairn.model.v1")
	v2 := parsePushed(t, out).Digest
	msg := front.runCairn("reindex", "--data-dir", front.dataDir, "--upstream", "http://"+up.addr, "models/tiny")
	mustf(t, strings.Contains(msg, "reindexed 1 repositories, 3 manifests"), "reindex said: %s", msg)
	mustf(t, slices.Contains(catalogDigests(t, front), v2), "cairn reindex did not add %s", v2)
}
