package e2e

import (
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// blobProxy sits in front of a real cairn serve and misbehaves on GETs of
// one blob, as a broken registry or network would: the faults under test
// (a stalled transfer, corrupted or truncated bytes) cannot be made to
// happen on demand with a healthy server, so this is the one place a
// stand-in is used, and everything else it passes through untouched.
type blobProxy struct {
	*httptest.Server
	mu     sync.Mutex
	digest string // the blob to misbehave on
	mode   string // "stall", "corrupt", "truncate"
	// stalled receives once per stalled request, after the first MiB.
	stalled chan struct{}
}

func newBlobProxy(t *testing.T, upstream string) *blobProxy {
	t.Helper()
	target, _ := url.Parse("http://" + upstream)
	rp := httputil.NewSingleHostReverseProxy(target)
	p := &blobProxy{stalled: make(chan struct{}, 8)}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		dig, mode := p.digest, p.mode
		p.mu.Unlock()
		if r.Method != http.MethodGet || dig == "" || !strings.HasSuffix(r.URL.Path, "/blobs/"+dig) {
			rp.ServeHTTP(w, r)
			return
		}
		res, err := http.Get("http://" + upstream + r.URL.Path)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		w.Header().Set("Content-Type", "application/octet-stream")
		switch mode {
		case "corrupt":
			body[len(body)/2] ^= 0xff
			w.Header().Set("Content-Length", fmt.Sprint(len(body)))
			w.Write(body)
		case "truncate":
			// Short of the descriptor's size, with a length that agrees,
			// so only the client's size check can catch it.
			body = body[:len(body)/2]
			w.Header().Set("Content-Length", fmt.Sprint(len(body)))
			w.Write(body)
		case "stall":
			w.Header().Set("Content-Length", fmt.Sprint(len(body)))
			w.Write(body[:1<<20])
			w.(http.Flusher).Flush()
			p.stalled <- struct{}{}
			<-r.Context().Done()
		}
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *blobProxy) misbehave(digest, mode string) {
	p.mu.Lock()
	p.digest, p.mode = digest, mode
	p.mu.Unlock()
}

func (p *blobProxy) addr() string { return strings.TrimPrefix(p.URL, "http://") }

// layerDigest returns the digest of the layer with the title.
func layerDigest(t *testing.T, p cliPushed, title string) string {
	t.Helper()
	for _, l := range p.Layers {
		if l.Title == title {
			return l.Digest
		}
	}
	t.Fatalf("no layer %s in %+v", title, p.Layers)
	return ""
}

// TestPullInterrupted kills a pull midway (SIGKILL, then SIGINT) and finds
// the target exactly as it was; the next pull resumes from the blobs
// already verified.
func TestPullInterrupted(t *testing.T) {
	c := startCairn(t)
	proxy := newBlobProxy(t, c.addr)
	e := newCLIEnv(t)
	repo := c.addr + "/datasets/big"
	version := func(v string) cliPushed {
		e.write("src/a.txt", "small a "+v)
		e.write("src/b.txt", "small b "+v)
		e.write("src/big.bin", strings.Repeat("big "+v+" ", 8<<20/6))
		e.dir = e.path("src")
		var p cliPushed
		e.okJSON(&p, "push", repo+":"+v, "a.txt", "b.txt", "big.bin")
		e.dir = filepath.Dir(e.dir)
		return p
	}
	version("v1")
	e.ok("pull", repo+":v1", "-o", "target")
	v1 := tree(t, e.path("target"))
	v2 := version("v2")
	proxy.misbehave(layerDigest(t, v2, "big.bin"), "stall")
	staging := e.path(".target.cairn-pull")

	for _, sig := range []os.Signal{syscall.SIGKILL, syscall.SIGINT} {
		cmd := exec.Command(binary(t), "pull", proxy.addr()+"/datasets/big:v2", "-o", "target")
		cmd.Env, cmd.Dir = environ(e.env...), e.dir
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		select {
		case <-proxy.stalled:
		case <-time.After(time.Minute):
			cmd.Process.Kill()
			t.Fatalf("the pull never reached the big blob: %s", stderr.String())
		}
		// Let the small layers finish and be verified first.
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if entries, _ := os.ReadDir(filepath.Join(staging, "blobs")); len(entries) == 2 {
				break
			}
		}
		if err := cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
		err := cmd.Wait()
		code := cmd.ProcessState.ExitCode()
		if sig == syscall.SIGINT {
			mustf(t, code == 130 && strings.Contains(stderr.String(), "interrupted"), "SIGINT: exit %d %v\n%s", code, err, stderr.String())
			parts, _ := filepath.Glob(filepath.Join(staging, "tmp", "*"))
			mustf(t, len(parts) == 0, "SIGINT left partial downloads: %v", parts)
		}
		sameTree(t, tree(t, e.path("target")), v1, fmt.Sprintf("target after %v", sig))
		blobs, _ := os.ReadDir(filepath.Join(staging, "blobs"))
		mustf(t, len(blobs) == 2, "after %v the staging directory holds %d verified blobs, want the 2 small ones", sig, len(blobs))
	}

	// Straight from the server this time: the small layers are resumed.
	var got cliPulled
	e.okJSON(&got, "pull", repo+":v2", "-o", "target")
	st := statuses(got.Layers)
	mustf(t, st["a.txt"] == "resumed" && st["b.txt"] == "resumed" && st["big.bin"] == "downloaded", "resumed pull: %v", st)
	sameTree(t, tree(t, e.path("target")), tree(t, e.path("src")), "target after the resumed pull")
	noStaging(t, e.path("target"))
}

// TestPullDigestMismatch: a registry that serves wrong bytes is caught, the
// pull fails with exit code 6 naming the digest, and the target is as it
// was.
func TestPullDigestMismatch(t *testing.T) {
	c := startCairn(t)
	proxy := newBlobProxy(t, c.addr)
	e := newCLIEnv(t)
	e.write("v1/data.bin", strings.Repeat("first ", 10000))
	e.write("v2/data.bin", strings.Repeat("second ", 10000))
	e.dir = e.path("v1")
	e.ok("push", c.addr+"/datasets/mm:v1", "data.bin")
	e.dir = filepath.Join(filepath.Dir(e.dir), "v2")
	var v2 cliPushed
	e.okJSON(&v2, "push", c.addr+"/datasets/mm:v2", "data.bin")
	e.dir = filepath.Dir(e.dir)
	e.ok("pull", c.addr+"/datasets/mm:v1", "-o", "target")
	before := tree(t, e.path("target"))
	dig := layerDigest(t, v2, "data.bin")
	for _, tc := range []struct {
		mode string
		code int
		want string
	}{
		{"corrupt", 6, "nothing was moved into place"},
		// regclient checks Content-Length against the manifest and retries.
		{"truncate", 1, "kept failing"},
	} {
		mode := tc.mode
		proxy.misbehave(dig, mode)
		e.fails(tc.code, []string{dig, tc.want}, "pull", proxy.addr()+"/datasets/mm:v2", "-o", "target")
		sameTree(t, tree(t, e.path("target")), before, "target after "+mode)
		noStaging(t, e.path("target"))
	}
	var got cliPulled
	e.okJSON(&got, "pull", c.addr+"/datasets/mm:v2", "-o", "target")
	sameTree(t, tree(t, e.path("target")), tree(t, e.path("v2")), "target after a good pull")
}

// TestPushPullCredentials puts a registry that demands basic
// authentication in front of cairn serve (started without --auth) and
// checks where the cairn client's credentials come from, in order: flags,
// environment, .env, docker's config.json.
func TestPushPullCredentials(t *testing.T) {
	c := startCairn(t)
	target, _ := url.Parse("http://" + c.addr)
	rp := httputil.NewSingleHostReverseProxy(target)
	authed := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "alice" || p != "s3cret" {
			w.Header().Set("WWW-Authenticate", `Basic realm="cairn-test"`)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(authed.Close)
	host := strings.TrimPrefix(authed.URL, "http://")
	ref := host + "/datasets/private:1"

	e := newCLIEnv(t)
	e.write("a.txt", "secret data")
	e.fails(4, []string{"refused access", "--username"}, "push", ref, "a.txt")
	e.fails(4, []string{"refused access"}, "push", ref, "a.txt", "-u", "alice", "-p", "wrong")
	e.ok("push", ref, "a.txt", "-u", "alice", "-p", "s3cret")

	env := func(extra ...string) *cliEnv {
		n := newCLIEnv(t, extra...)
		n.dir = e.dir
		return n
	}
	env("CAIRN_USERNAME=alice", "CAIRN_PASSWORD=s3cret").ok("inspect", ref)
	// Flags come before the environment.
	env("CAIRN_USERNAME=alice", "CAIRN_PASSWORD=wrong").ok("inspect", ref, "-u", "alice", "-p", "s3cret")
	env("CAIRN_USERNAME=alice", "CAIRN_PASSWORD=s3cret").fails(4, nil, "inspect", ref, "-u", "alice", "-p", "wrong")

	// A .env file in the working directory; the real environment wins.
	withDotEnv := newCLIEnv(t)
	withDotEnv.write(".env", "# registry login\nexport CAIRN_USERNAME=alice\nCAIRN_PASSWORD=\"s3cret\"\nOTHER=x\n")
	withDotEnv.ok("inspect", ref)
	withDotEnv.env = append(withDotEnv.env, "CAIRN_PASSWORD=wrong")
	withDotEnv.fails(4, nil, "inspect", ref)

	// docker's config.json, read as regclient reads it; the environment wins.
	docker := newCLIEnv(t)
	cfg := fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, host, base64.StdEncoding.EncodeToString([]byte("alice:s3cret")))
	dockerConfig := filepath.Join(docker.home, ".docker")
	if err := os.MkdirAll(dockerConfig, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dockerConfig, "config.json"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	docker.ok("inspect", ref)
	docker.env = append(docker.env, "CAIRN_USERNAME=alice", "CAIRN_PASSWORD=wrong")
	docker.fails(4, nil, "inspect", ref)
}
