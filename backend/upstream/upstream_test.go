package upstream

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
)

// newRegistry builds a Registry for cfg, failing the test on error, and
// closes it at the end of the test.
func newRegistry(t *testing.T, cfg Config) *Registry {
	t.Helper()
	u, err := New(zap.NewNop(), cfg)
	if err != nil {
		t.Fatalf("New(%+v): %v", cfg, err)
	}
	t.Cleanup(func() { _ = u.Close() })
	return u
}

// serveProxy puts u behind a loopback test server, as cairn's façade does.
func serveProxy(t *testing.T, u *Registry) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(u)
	t.Cleanup(srv.Close)
	return srv
}

// hostOf is the host:port of a test server's URL.
func hostOf(t *testing.T, rawURL string) string {
	t.Helper()
	p, err := url.Parse(rawURL)
	if err != nil {
		t.Fatalf("parse %q: %v", rawURL, err)
	}
	return p.Host
}

// noRedirect is a client that shows redirects to the test instead of
// following them.
var noRedirect = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Timeout:       10 * time.Second,
}

func do(t *testing.T, req *http.Request) *http.Response {
	t.Helper()
	res, err := noRedirect.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	t.Cleanup(func() { res.Body.Close() })
	return res
}

func get(t *testing.T, rawURL string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	return do(t, req)
}

type ociError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// wantOCIError checks that res is an OCI JSON error answered with status
// and code, and returns its message.
func wantOCIError(t *testing.T, res *http.Response, status int, code string) string {
	t.Helper()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	if res.StatusCode != status {
		t.Fatalf("status = %d, want %d; body %s", res.StatusCode, status, body)
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	var b struct {
		Errors []ociError `json:"errors"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		t.Fatalf("body %q is not OCI JSON: %v", body, err)
	}
	if len(b.Errors) != 1 {
		t.Fatalf("errors = %+v, want exactly one", b.Errors)
	}
	if b.Errors[0].Code != code {
		t.Errorf("code = %q, want %q", b.Errors[0].Code, code)
	}
	return b.Errors[0].Message
}

// seen records what an upstream received.
type seen struct {
	mu   sync.Mutex
	reqs []*http.Request
}

func (s *seen) add(r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reqs = append(s.reqs, r.Clone(context.Background()))
}

func (s *seen) all() []*http.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*http.Request(nil), s.reqs...)
}

func (s *seen) last(t *testing.T) *http.Request {
	t.Helper()
	all := s.all()
	if len(all) == 0 {
		t.Fatal("upstream received no request")
	}
	return all[len(all)-1]
}

func TestNewRefusesBadURLs(t *testing.T) {
	for _, raw := range []string{"ftp://x", "not a url", "http://", "", "://x", "zot:5000"} {
		t.Run(raw, func(t *testing.T) {
			u, err := New(zap.NewNop(), Config{URL: raw})
			if err == nil {
				u.Close()
				t.Fatalf("New(%q) succeeded", raw)
			}
			if !strings.Contains(err.Error(), "http:// or https://") || !strings.Contains(err.Error(), raw) {
				t.Errorf("New(%q) error %q should name the URL and say http:// or https://", raw, err)
			}
		})
	}
}

func TestNewRefusesBadTLSFiles(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		cfg  Config
		want string
	}{
		"missing CA file": {Config{URL: "https://x", CAFile: filepath.Join(dir, "nope.pem")}, "CA file"},
		"CA file not PEM": {Config{URL: "https://x", CAFile: notPEM}, "no PEM certificate"},
		"missing key":     {Config{URL: "https://x", CertFile: notPEM}, "client certificate"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := New(zap.NewNop(), tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New error = %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

func TestPassThroughHeadersAndCredentials(t *testing.T) {
	for _, tc := range []struct {
		name           string
		user, pass     string
		wantAuthHeader bool
	}{
		{name: "with credentials", user: "cairn", pass: "s3cret", wantAuthHeader: true},
		{name: "password only", pass: "tok", wantAuthHeader: true},
		{name: "no credentials"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got seen
			up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got.add(r)
				w.Header().Set("Docker-Distribution-Api-Version", "registry/2.0")
				w.WriteHeader(http.StatusTeapot)
				io.WriteString(w, "from upstream")
			}))
			defer up.Close()
			proxy := serveProxy(t, newRegistry(t, Config{URL: up.URL, Username: tc.user, Password: tc.pass}))

			req, err := http.NewRequest(http.MethodGet, proxy.URL+"/v2/lib/app/tags/list?n=10&last=a%2Fb", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.SetBasicAuth("client", "client-password")
			req.Header.Set("Cookie", "session=client")
			req.Header.Set("Accept", "application/vnd.oci.image.index.v1+json")
			res := do(t, req)
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != http.StatusTeapot || string(body) != "from upstream" {
				t.Errorf("client got %d %q, want the upstream's 418 \"from upstream\"", res.StatusCode, body)
			}
			if v := res.Header.Get("Docker-Distribution-Api-Version"); v != "registry/2.0" {
				t.Errorf("response header Docker-Distribution-Api-Version = %q, want it passed back", v)
			}

			r := got.last(t)
			if r.URL.Path != "/v2/lib/app/tags/list" {
				t.Errorf("upstream path = %q", r.URL.Path)
			}
			if r.URL.RawQuery != "n=10&last=a%2Fb" {
				t.Errorf("upstream query = %q, want n=10&last=a%%2Fb", r.URL.RawQuery)
			}
			if r.Host != hostOf(t, up.URL) {
				t.Errorf("upstream Host = %q, want %q", r.Host, hostOf(t, up.URL))
			}
			if a := r.Header.Get("Accept"); a != "application/vnd.oci.image.index.v1+json" {
				t.Errorf("upstream Accept = %q, want the client's", a)
			}
			if c := r.Header.Values("Cookie"); len(c) != 0 {
				t.Errorf("client Cookie reached the upstream: %q", c)
			}
			user, pass, ok := r.BasicAuth()
			switch {
			case tc.wantAuthHeader && (!ok || user != tc.user || pass != tc.pass):
				t.Errorf("upstream basic auth = %q/%q (ok %v), want cairn's %q/%q", user, pass, ok, tc.user, tc.pass)
			case !tc.wantAuthHeader && len(r.Header.Values("Authorization")) != 0:
				t.Errorf("upstream got Authorization %q with no credentials configured", r.Header.Values("Authorization"))
			}
		})
	}
}

func TestPassThroughPathWithEscapes(t *testing.T) {
	var got seen
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got.add(r) }))
	defer up.Close()
	proxy := serveProxy(t, newRegistry(t, Config{URL: up.URL}))

	res := get(t, proxy.URL+"/v2/a/b/manifests/sha256:0123?digest=sha256%3Aab")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d", res.StatusCode)
	}
	r := got.last(t)
	if r.URL.EscapedPath() != "/v2/a/b/manifests/sha256:0123" || r.URL.RawQuery != "digest=sha256%3Aab" {
		t.Errorf("upstream got %q ? %q", r.URL.EscapedPath(), r.URL.RawQuery)
	}
}

func TestRequestBodyStreamsToUpstream(t *testing.T) {
	const size = 8 << 20
	type result struct {
		n   int64
		sum [32]byte
	}
	results := make(chan result, 1)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		n, err := io.Copy(h, r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		var res result
		res.n = n
		copy(res.sum[:], h.Sum(nil))
		results <- res
		w.Header().Set("Location", "/v2/r/blobs/sha256:x")
		w.WriteHeader(http.StatusCreated)
	}))
	defer up.Close()
	proxy := serveProxy(t, newRegistry(t, Config{URL: up.URL}))

	const chunk = 64 << 10
	fill := func(buf []byte, i int) {
		for j := range buf {
			buf[j] = byte(i + j)
		}
	}
	h := sha256.New()
	buf := make([]byte, chunk)
	for i := 0; i < size/chunk; i++ {
		fill(buf, i)
		h.Write(buf)
	}
	var want [32]byte
	copy(want[:], h.Sum(nil))

	pr, pw := io.Pipe()
	go func() {
		buf := make([]byte, chunk)
		for i := 0; i < size/chunk; i++ {
			fill(buf, i)
			if _, err := pw.Write(buf); err != nil {
				return
			}
		}
		pw.Close()
	}()
	req, err := http.NewRequest(http.MethodPut, proxy.URL+"/v2/r/blobs/uploads/abc?digest=sha256:x", pr)
	if err != nil {
		t.Fatal(err)
	}
	res := do(t, req)
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("status %d", res.StatusCode)
	}
	got := <-results
	if got.n != size || got.sum != want {
		t.Errorf("upstream got %d bytes, sum %x; want %d bytes, sum %x", got.n, got.sum, size, want)
	}
}

func TestLocationRewrite(t *testing.T) {
	var upstreamHost string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		loc := r.URL.Query().Get("loc")
		w.Header().Set("Location", strings.ReplaceAll(loc, "UPSTREAM", upstreamHost))
		w.WriteHeader(http.StatusAccepted)
	}))
	defer up.Close()
	upstreamHost = hostOf(t, up.URL)
	proxy := serveProxy(t, newRegistry(t, Config{URL: up.URL}))

	for _, tc := range []struct{ name, loc, want string }{
		{"absolute on upstream", "http://UPSTREAM/v2/r/blobs/uploads/abc?_state=x", "/v2/r/blobs/uploads/abc?_state=x"},
		{"absolute on upstream, escaped", "http://UPSTREAM/v2/r/blobs/uploads/a%2Fb?_state=x%3D%3D", "/v2/r/blobs/uploads/a%2Fb?_state=x%3D%3D"},
		{"other host", "https://s3.example/bucket/blob?X-Amz-Signature=abc", "https://s3.example/bucket/blob?X-Amz-Signature=abc"},
		{"same host name, other port", "http://127.0.0.1:1/v2/r/blobs/uploads/abc", "http://127.0.0.1:1/v2/r/blobs/uploads/abc"},
		{"relative", "/v2/r/blobs/uploads/abc?_state=x", "/v2/r/blobs/uploads/abc?_state=x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := get(t, proxy.URL+"/v2/r/blobs/uploads/?loc="+url.QueryEscape(tc.loc))
			if res.StatusCode != http.StatusAccepted {
				t.Fatalf("status %d", res.StatusCode)
			}
			if got := res.Header.Get("Location"); got != tc.want {
				t.Errorf("Location %q became %q, want %q", strings.ReplaceAll(tc.loc, "UPSTREAM", upstreamHost), got, tc.want)
			}
		})
	}
}

func TestRedirectNotFollowedCredentialsStay(t *testing.T) {
	var other seen
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		other.add(r)
		io.WriteString(w, "elsewhere")
	}))
	defer elsewhere.Close()
	target := elsewhere.URL + "/blob/data?sig=1"
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target, http.StatusTemporaryRedirect)
	}))
	defer up.Close()
	reg := newRegistry(t, Config{URL: up.URL, Username: "cairn", Password: "s3cret"})
	proxy := serveProxy(t, reg)

	res := get(t, proxy.URL+"/v2/r/blobs/sha256:abc")
	if res.StatusCode != http.StatusTemporaryRedirect {
		t.Errorf("client got %d, want the upstream's 307 passed through", res.StatusCode)
	}
	if loc := res.Header.Get("Location"); loc != target {
		t.Errorf("Location = %q, want %q", loc, target)
	}
	// Ready must not follow a redirect either.
	if err := reg.Ready(context.Background()); err == nil {
		t.Error("Ready succeeded on a 307 from /v2/")
	}
	for _, r := range other.all() {
		t.Errorf("the redirect target received %s %s (Authorization %q)", r.Method, r.URL, r.Header.Get("Authorization"))
	}
}

func TestUpstreamRefusesCredentials(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("WWW-Authenticate", `Basic realm="zot"`)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"errors":[{"code":"UNAUTHORIZED","message":"upstream says no"}]}`)
	}))
	defer up.Close()
	proxy := serveProxy(t, newRegistry(t, Config{URL: up.URL, Username: "cairn", Password: "wrong"}))

	res := get(t, proxy.URL+"/v2/r/manifests/latest")
	msg := wantOCIError(t, res, http.StatusBadGateway, "UNAVAILABLE")
	if h := res.Header.Values("WWW-Authenticate"); len(h) != 0 {
		t.Errorf("WWW-Authenticate leaked to the client: %q", h)
	}
	if !strings.Contains(msg, hostOf(t, up.URL)) || !strings.Contains(msg, "credentials") {
		t.Errorf("message %q should name the upstream %s and mention credentials", msg, hostOf(t, up.URL))
	}
}

func TestUpstreamDown(t *testing.T) {
	up := httptest.NewServer(http.NotFoundHandler())
	upURL := up.URL
	up.Close()
	proxy := serveProxy(t, newRegistry(t, Config{URL: upURL}))

	res := get(t, proxy.URL+"/v2/")
	msg := wantOCIError(t, res, http.StatusBadGateway, "UNAVAILABLE")
	if !strings.Contains(msg, hostOf(t, upURL)) {
		t.Errorf("message %q should name the upstream %s", msg, hostOf(t, upURL))
	}
}

func TestUpstreamSlow(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(2 * time.Second):
		case <-r.Context().Done():
		}
	}))
	defer up.Close()
	proxy := serveProxy(t, newRegistry(t, Config{URL: up.URL, Timeout: 200 * time.Millisecond}))

	start := time.Now()
	res := get(t, proxy.URL+"/v2/r/manifests/latest")
	msg := wantOCIError(t, res, http.StatusGatewayTimeout, "UNAVAILABLE")
	if el := time.Since(start); el > 1500*time.Millisecond {
		t.Errorf("answer took %v with a 200ms timeout", el)
	}
	if !strings.Contains(msg, hostOf(t, up.URL)) {
		t.Errorf("message %q should name the upstream %s", msg, hostOf(t, up.URL))
	}
}

func TestStreamingLargeResponse(t *testing.T) {
	const chunk = 1 << 20
	const chunks = 64
	want := sha256.New()
	buf := make([]byte, chunk)
	fill := func(i int) {
		for j := range buf {
			buf[j] = byte(i*7 + j)
		}
	}
	for i := 0; i < chunks; i++ {
		fill(i)
		want.Write(buf)
	}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := make([]byte, chunk)
		for i := 0; i < chunks; i++ {
			for j := range b {
				b[j] = byte(i*7 + j)
			}
			if _, err := w.Write(b); err != nil {
				return
			}
		}
	}))
	defer up.Close()
	proxy := serveProxy(t, newRegistry(t, Config{URL: up.URL}))

	res := get(t, proxy.URL+"/v2/r/blobs/sha256:big")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d", res.StatusCode)
	}
	got := sha256.New()
	n, err := io.Copy(got, res.Body)
	if err != nil {
		t.Fatalf("reading after %d bytes: %v", n, err)
	}
	if n != chunk*chunks {
		t.Errorf("got %d bytes, want %d", n, chunk*chunks)
	}
	if string(got.Sum(nil)) != string(want.Sum(nil)) {
		t.Error("body hash differs from what the upstream sent")
	}
}

func TestReady(t *testing.T) {
	t.Run("200", func(t *testing.T) {
		var got seen
		up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got.add(r)
			if r.URL.Path != "/v2/" {
				http.NotFound(w, r)
			}
		}))
		defer up.Close()
		if err := newRegistry(t, Config{URL: up.URL, Username: "cairn", Password: "pw"}).Ready(context.Background()); err != nil {
			t.Fatalf("Ready: %v", err)
		}
		if u, p, ok := got.last(t).BasicAuth(); !ok || u != "cairn" || p != "pw" {
			t.Errorf("Ready sent basic auth %q/%q (ok %v), want cairn/pw", u, p, ok)
		}
	})
	t.Run("401", func(t *testing.T) {
		up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("WWW-Authenticate", `Basic realm="zot"`)
			w.WriteHeader(http.StatusUnauthorized)
		}))
		defer up.Close()
		err := newRegistry(t, Config{URL: up.URL}).Ready(context.Background())
		if err == nil || !strings.Contains(err.Error(), "401") {
			t.Fatalf("Ready = %v, want an error mentioning 401", err)
		}
		if !strings.Contains(err.Error(), hostOf(t, up.URL)) {
			t.Errorf("Ready error %q should name the upstream", err)
		}
	})
	t.Run("closed port", func(t *testing.T) {
		up := httptest.NewServer(http.NotFoundHandler())
		upURL := up.URL
		up.Close()
		err := newRegistry(t, Config{URL: upURL}).Ready(context.Background())
		if err == nil {
			t.Fatal("Ready succeeded against a closed port")
		}
		if !strings.Contains(err.Error(), hostOf(t, upURL)) {
			t.Errorf("Ready error %q should name the upstream", err)
		}
	})
}

// writeCertPEM writes srv's certificate as a PEM file and returns its path.
func writeCertPEM(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "upstream-ca.pem")
	b := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestTLS(t *testing.T) {
	up := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "over tls")
	}))
	defer up.Close()
	caFile := writeCertPEM(t, up)

	for _, tc := range []struct {
		name   string
		cfg    Config
		wantOK bool
	}{
		{"CA file", Config{URL: up.URL, CAFile: caFile}, true},
		{"system roots only", Config{URL: up.URL}, false},
		{"insecure skip verify", Config{URL: up.URL, InsecureSkipVerify: true}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := newRegistry(t, tc.cfg)
			proxy := serveProxy(t, reg)
			res := get(t, proxy.URL+"/v2/")
			if !tc.wantOK {
				wantOCIError(t, res, http.StatusBadGateway, "UNAVAILABLE")
				if err := reg.Ready(context.Background()); err == nil {
					t.Error("Ready succeeded with an unverifiable certificate")
				}
				return
			}
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != http.StatusOK || string(body) != "over tls" {
				t.Errorf("got %d %q, want 200 \"over tls\"", res.StatusCode, body)
			}
			if err := reg.Ready(context.Background()); err != nil {
				t.Errorf("Ready: %v", err)
			}
		})
	}
}

func TestMetadata(t *testing.T) {
	reg := newRegistry(t, Config{URL: "http://zot:5000"})
	if reg.Name() != "upstream" {
		t.Errorf("Name = %q", reg.Name())
	}
	if !reg.NativeReferrers() {
		t.Error("NativeReferrers = false")
	}
}

// TestStreamingFlushesEarly checks that bytes reach the client as the
// upstream sends them, not when a buffer fills or the body ends.
func TestStreamingFlushesEarly(t *testing.T) {
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A blob has a Content-Length; Go's proxy flushes chunked bodies
		// on its own, but these only as FlushInterval says.
		w.Header().Set("Content-Length", "10")
		io.WriteString(w, "first")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
		io.WriteString(w, "-rest")
	}))
	defer up.Close()
	defer close(release)
	proxy := serveProxy(t, newRegistry(t, Config{URL: up.URL}))

	first := make(chan string, 1)
	go func() {
		res, err := noRedirect.Get(proxy.URL + "/v2/r/blobs/sha256:slow")
		if err != nil {
			first <- "error: " + err.Error()
			return
		}
		defer res.Body.Close()
		buf := make([]byte, len("first"))
		n, _ := io.ReadFull(res.Body, buf)
		first <- string(buf[:n])
	}()
	select {
	case got := <-first:
		if got != "first" {
			t.Errorf("first bytes = %q, want %q", got, "first")
		}
	case <-time.After(2 * time.Second):
		t.Fatal("the upstream's flushed bytes did not reach the client while the upstream held the body open")
	}
}
