package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/cairn-dev/cairn/catalog/sqlite"
)

// TestRacingTagPushes: clients racing to push one tag leave the engine and
// the catalog agreeing on where it points.
func TestRacingTagPushes(t *testing.T) {
	c := startCairn(t)
	base := "http://" + c.addr
	const clients, rounds = 6, 5
	manifests := make([][]byte, clients*rounds)
	for i := range manifests {
		m, ok := tryImageManifest(base, "race/tag", []byte(fmt.Sprintf("layer %d", i)))
		mustf(t, ok, "setting up manifest %d failed", i)
		manifests[i] = m
	}
	for round := 0; round < rounds; round++ {
		var wg sync.WaitGroup
		for i := 0; i < clients; i++ {
			wg.Add(1)
			go func(m []byte) {
				defer wg.Done()
				if code, err := putManifest(base, "race/tag", "race", m); err != nil || code != http.StatusCreated {
					t.Errorf("push: %d %v", code, err)
				}
			}(manifests[round*clients+i])
		}
		wg.Wait()
	}
	code, h, _ := do(t, http.MethodHead, base+"/v2/race/tag/manifests/race", nil, map[string]string{"Accept": ociManifest})
	mustf(t, code == http.StatusOK, "HEAD race: %d", code)
	engineDigest := h.Get("Docker-Content-Digest")
	c.stop()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(c.dataDir, "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	catalogDigest, err := st.ResolveTag(ctx, "race/tag", "race")
	mustf(t, err == nil && catalogDigest.String() == engineDigest, "engine says race is %s, catalog says %s (%v)", engineDigest, catalogDigest, err)
	pending, _ := st.Pending(ctx)
	mustf(t, len(pending) == 0, "pending marks left after clean pushes: %v", pending)
}

// tcpProxy forwards a local port to a target and can be cut and restored,
// to take a database away from cairn mid-run.
type tcpProxy struct {
	t      *testing.T
	addr   string
	target string
	mu     sync.Mutex
	ln     net.Listener
	conns  []net.Conn
}

func newTCPProxy(t *testing.T, target string) *tcpProxy {
	p := &tcpProxy{t: t, target: target, addr: freeAddr(t)}
	p.restore()
	t.Cleanup(p.cut)
	return p
}

func (p *tcpProxy) restore() {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatal(err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", p.target)
			if err != nil {
				in.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, in, out)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(out, in); out.Close() }()
			go func() { _, _ = io.Copy(in, out); in.Close() }()
		}
	}()
}

// cut closes the listener and every open connection.
func (p *tcpProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// TestCatalogDown: with the catalog database gone, pulls keep working,
// pushes still succeed, /readyz says what is wrong, and once the database
// is back the catalog catches up by itself.
func TestCatalogDown(t *testing.T) {
	server, schema, _ := pgSchema(t)
	u, err := url.Parse(server)
	if err != nil {
		t.Fatalf("the PostgreSQL DSN must be a URL for this test: %v", err)
	}
	proxy := newTCPProxy(t, u.Host)
	u.Host = proxy.addr
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	dsn := u.String()
	c := startCairn(t, "--catalog", dsn, "--repair-interval", "200ms")
	dataset, _, _ := pushDataset(t, c, c.addr)

	proxy.cut()
	code, _, body := do(t, http.MethodGet, c.url("/readyz"), nil, nil)
	mustf(t, code == http.StatusServiceUnavailable && strings.Contains(string(body), "catalog"), "readyz with the catalog down: %d %s", code, body)
	// Reads from the engine go on.
	c.run("oras", "pull", "--plain-http", "-o", filepath.Join(c.workDir, "while-down"), c.addr+"/datasets/abstracts:neurips-2024")
	// A push is stored and answered as stored.
	writeFile(t, c.workDir, "late.json", []byte(`{"late":true}`))
	out := c.run("oras", "attach", "--plain-http", "--format", "json", c.addr+"/datasets/abstracts:neurips-2024", "--artifact-type", "application/vnd.cairn.late.v1", "late.json")
	late := parsePushed(t, out).Digest

	proxy.restore()
	deadline := time.Now().Add(20 * time.Second)
	for {
		idx, _ := referrersOf(t, "http://"+c.addr, "datasets/abstracts", dataset, "application/vnd.cairn.late.v1")
		if len(idx.Manifests) == 1 && idx.Manifests[0].Digest == late {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the catalog did not catch up within 20s of the database's return\n%s", c.log())
		}
		time.Sleep(200 * time.Millisecond)
	}
	code, _, body = do(t, http.MethodGet, c.url("/readyz"), nil, nil)
	mustf(t, code == http.StatusOK, "readyz after the database returned: %d %s", code, body)
}

// slowReader yields n bytes over about d.
type slowReader struct {
	n, off int
	step   time.Duration
}

func (s *slowReader) Read(p []byte) (int, error) {
	if s.off >= s.n {
		return 0, io.EOF
	}
	time.Sleep(s.step)
	k := min(len(p), 64<<10, s.n-s.off)
	for i := range p[:k] {
		p[i] = byte(s.off + i)
	}
	s.off += k
	return k, nil
}

// TestGracefulShutdown: an upload in flight when SIGTERM arrives finishes,
// and cairn then exits cleanly.
func TestGracefulShutdown(t *testing.T) {
	c := startCairn(t)
	base := "http://" + c.addr
	const size = 2 << 20
	content := make([]byte, size)
	for i := range content {
		content[i] = byte(i)
	}
	dgst := digest.FromBytes(content)
	code, h, body := do(t, http.MethodPost, base+"/v2/shutdown/test/blobs/uploads/", nil, nil)
	mustf(t, code == http.StatusAccepted, "POST: %d %s", code, body)
	req, _ := http.NewRequest(http.MethodPut, base+h.Get("Location")+"&digest="+dgst.String(), &slowReader{n: size, step: 50 * time.Millisecond})
	req.ContentLength = size
	req.Header.Set("Content-Type", "application/octet-stream")
	result := make(chan int, 1)
	go func() {
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			result <- 0
			return
		}
		res.Body.Close()
		result <- res.StatusCode
	}()
	time.Sleep(300 * time.Millisecond) // the upload is under way
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case code := <-result:
		mustf(t, code == http.StatusCreated, "upload in flight at SIGTERM answered %d, want 201", code)
	case <-time.After(30 * time.Second):
		t.Fatal("upload in flight at SIGTERM did not finish")
	}
	select {
	case err := <-c.done:
		mustf(t, err == nil, "cairn exited with %v after SIGTERM", err)
	case <-time.After(10 * time.Second):
		t.Fatal("cairn did not exit after SIGTERM")
	}
	c.cmd = nil
	c.start()
	code, _, body = do(t, http.MethodGet, base+"/v2/shutdown/test/blobs/"+dgst.String(), nil, nil)
	mustf(t, code == http.StatusOK && len(body) == size, "blob uploaded during shutdown: %d, %d bytes", code, len(body))
}

// TestOperations: /healthz, /readyz, /version, /metrics, and a request id
// on every request's log line.
func TestOperations(t *testing.T) {
	c := startCairn(t)
	pushDataset(t, c, c.addr)
	code, _, body := do(t, http.MethodGet, c.url("/healthz"), nil, nil)
	mustf(t, code == 200, "healthz: %d %s", code, body)
	code, _, body = do(t, http.MethodGet, c.url("/version"), nil, nil)
	mustf(t, code == 200 && strings.Contains(string(body), `"engine":"embedded"`) && strings.Contains(string(body), `"catalog":"sqlite"`), "version: %d %s", code, body)
	code, _, body = do(t, http.MethodGet, c.url("/metrics"), nil, nil)
	mustf(t, code == 200, "metrics: %d", code)
	for _, want := range []string{
		`cairn_http_requests_total{code="201",method="PUT",route="manifest"} 3`,
		`cairn_catalog_manifests 3`,
		`cairn_catalog_repositories 1`,
		`cairn_catalog_tags 1`,
		`cairn_http_request_bytes_total{route="upload"}`,
		`cairn_http_response_bytes_total{route="manifest"}`,
	} {
		mustf(t, strings.Contains(string(body), want), "metrics lack %q", want)
	}
	code, h, _ := do(t, http.MethodGet, c.url("/v2/"), nil, map[string]string{"X-Request-Id": "trace-me-42"})
	mustf(t, code == 200 && h.Get("X-Request-Id") == "trace-me-42", "request id not echoed: %q", h.Get("X-Request-Id"))
	mustf(t, strings.Contains(c.log(), `"request_id":"trace-me-42"`), "log has no line with the request id")
	for _, line := range strings.Split(c.log(), "\n") {
		if strings.Contains(line, `"msg":"request"`) && !strings.Contains(line, `"request_id":"`) {
			t.Fatalf("request log line without request id: %s", line)
		}
	}
}

// TestUploadSurvivesRestart: an upload session begun before a restart
// continues after it (the upload secret is kept in the data directory).
func TestUploadSurvivesRestart(t *testing.T) {
	c := startCairn(t)
	base := "http://" + c.addr
	first, second := []byte(strings.Repeat("first half ", 200)), []byte(strings.Repeat("second half ", 200))
	whole := append(append([]byte{}, first...), second...)
	code, h, body := do(t, http.MethodPost, base+"/v2/resume/me/blobs/uploads/", nil, nil)
	mustf(t, code == http.StatusAccepted, "POST: %d %s", code, body)
	code, h, body = do(t, http.MethodPatch, base+h.Get("Location"), first, map[string]string{
		"Content-Type": "application/octet-stream", "Content-Range": fmt.Sprintf("0-%d", len(first)-1)})
	mustf(t, code == http.StatusAccepted, "PATCH: %d %s", code, body)
	loc := h.Get("Location")

	c.restart()
	code, h, body = do(t, http.MethodPatch, base+loc, second, map[string]string{
		"Content-Type": "application/octet-stream", "Content-Range": fmt.Sprintf("%d-%d", len(first), len(whole)-1)})
	mustf(t, code == http.StatusAccepted, "PATCH after restart: %d %s", code, body)
	dgst := digest.FromBytes(whole)
	code, _, body = do(t, http.MethodPut, base+h.Get("Location")+"&digest="+dgst.String(), nil, nil)
	mustf(t, code == http.StatusCreated, "PUT after restart: %d %s", code, body)
	code, _, body = do(t, http.MethodGet, base+"/v2/resume/me/blobs/"+dgst.String(), nil, nil)
	mustf(t, code == http.StatusOK && string(body) == string(whole), "resumed blob: %d, %d bytes", code, len(body))
}
