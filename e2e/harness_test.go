package e2e

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// cairn is a running cairn serve.
type cairn struct {
	t       *testing.T
	addr    string // host:port
	dataDir string
	// workDir is where clients run, so files push under their own names.
	workDir string
	args    []string
	cmd     *exec.Cmd
	logPath string
	done    chan error
}

// TestMain skips the whole package under -short, so that make test-short
// passes on a machine with nothing installed: every test here starts the
// cairn binary or a real client. Without -short nothing is skipped, and a
// missing CAIRN_BIN or client fails each test that needs it (binary, tool),
// so make test can never pass by running nothing.
func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		fmt.Println("e2e: skipped under -short (make test runs them)")
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// binary returns the cairn binary under test.
func binary(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("CAIRN_BIN")
	if bin == "" {
		t.Fatal("CAIRN_BIN is not set: run the end-to-end tests with `make test`, which builds bin/cairn and installs the clients")
	}
	return bin
}

// tool returns the path of a pinned client installed by the Makefile.
func tool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is not installed: run `make tools` (it installs the pinned clients into ~/.cache/cairn-tools/bin and make test puts them on PATH)", name)
	}
	return p
}

// freeAddr returns a loopback address with a port nobody listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startCairn starts cairn serve with a new data directory and extra flags,
// and stops it when the test ends.
func startCairn(t *testing.T, extra ...string) *cairn {
	t.Helper()
	c := &cairn{t: t, dataDir: filepath.Join(t.TempDir(), "data"), workDir: t.TempDir(), args: extra}
	c.addr = freeAddr(t)
	c.start()
	t.Cleanup(c.stop)
	return c
}

func (c *cairn) start() {
	c.t.Helper()
	args := append([]string{"serve", "--addr", c.addr, "--data-dir", c.dataDir, "--log-format", "json", "--log-level", "debug"}, c.args...)
	c.cmd = exec.Command(binary(c.t), args...)
	c.logPath = filepath.Join(c.t.TempDir(), "cairn.log")
	logf, err := os.Create(c.logPath)
	if err != nil {
		c.t.Fatal(err)
	}
	c.cmd.Stdout, c.cmd.Stderr = logf, logf
	if err := c.cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	c.done = make(chan error, 1)
	go func() { c.done <- c.cmd.Wait(); logf.Close() }()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-c.done:
			c.t.Fatalf("cairn exited at start: %v\n%s", err, c.log())
		default:
		}
		res, err := http.Get(c.url("/readyz"))
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.t.Fatalf("cairn did not become ready in 60s\n%s", c.log())
}

// stop sends SIGTERM and waits for a clean exit.
func (c *cairn) stop() {
	if c.cmd == nil || c.cmd.Process == nil {
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-c.done:
		if err != nil && !c.t.Failed() {
			c.t.Errorf("cairn exited with %v after SIGTERM\n%s", err, c.log())
		}
	case <-time.After(30 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
		c.t.Errorf("cairn did not stop within 30s of SIGTERM\n%s", c.log())
	}
	c.cmd = nil
}

// kill stops cairn with SIGKILL, as a crash would.
func (c *cairn) kill() {
	_ = c.cmd.Process.Kill()
	<-c.done
	c.cmd = nil
}

// restart stops cairn and starts it again on the same data directory.
func (c *cairn) restart() {
	c.t.Helper()
	c.stop()
	c.start()
}

func (c *cairn) url(path string) string { return "http://" + c.addr + path }

// log returns the server's log, for failure messages.
func (c *cairn) log() string {
	b, _ := os.ReadFile(c.logPath)
	if len(b) > 8000 {
		b = b[len(b)-8000:]
	}
	return string(b)
}

// run runs a client and returns its standard output; it fails the test with
// the client's output and the server's log when the client fails.
func (c *cairn) run(name string, args ...string) string {
	c.t.Helper()
	out, err := c.tryRun(name, args...)
	if err != nil {
		c.t.Fatalf("%s %s: %v\n%s\n--- server log ---\n%s", name, strings.Join(args, " "), err, out, c.log())
	}
	return out
}

// runCairn runs the cairn binary with args (a command other than serve).
func (c *cairn) runCairn(args ...string) string {
	c.t.Helper()
	cmd := exec.Command(binary(c.t), args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		c.t.Fatalf("cairn %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// tryRun runs a client and returns its combined output and error.
func (c *cairn) tryRun(name string, args ...string) (string, error) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, tool(c.t, name), args...)
	cmd.Env = environ(homeVars(c.home())...)
	cmd.Dir = c.workDir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		return stdout.String() + stderr.String(), err
	}
	return stdout.String(), nil
}

// home is a private home for clients, so no user configuration leaks in
// and clients of other homes share no login (homeVars).
func (c *cairn) home() string {
	h := filepath.Join(c.dataDir, "..", "home")
	if _, err := os.Stat(h); err == nil {
		return h
	}
	for _, d := range []string{".regctl", "run"} {
		_ = os.MkdirAll(filepath.Join(h, d), 0o700)
	}
	return h
}

// credentialVars point every credential store the clients read into dir,
// whatever the parent environment says (CI systems often set
// DOCKER_CONFIG): docker's config (oras, crane, cosign, regctl's and
// cairn's logins), the containers auth file (crane and cosign read
// REGISTRY_AUTH_FILE, then XDG_RUNTIME_DIR/containers/auth.json),
// regctl's own config and helm's registry config.
func credentialVars(dir string) []string {
	return []string{
		"DOCKER_CONFIG=" + filepath.Join(dir, ".docker"),
		"REGISTRY_AUTH_FILE=" + filepath.Join(dir, ".config", "containers", "auth.json"),
		"XDG_RUNTIME_DIR=" + filepath.Join(dir, "run"),
		"REGCTL_CONFIG=" + filepath.Join(dir, ".regctl", "config.json"),
		"HELM_REGISTRY_CONFIG=" + filepath.Join(dir, ".config", "helm", "registry", "config.json"),
	}
}

// homeVars make home a client's HOME and put every per-user settings
// directory, and every credential store, under it.
func homeVars(home string) []string {
	return append([]string{
		"HOME=" + home,
		"XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"XDG_CACHE_HOME=" + filepath.Join(home, ".cache"),
		"XDG_DATA_HOME=" + filepath.Join(home, ".local", "share"),
		"HELM_CONFIG_HOME=" + filepath.Join(home, ".config", "helm"),
		"HELM_CACHE_HOME=" + filepath.Join(home, ".cache", "helm"),
		"HELM_DATA_HOME=" + filepath.Join(home, ".local", "share", "helm"),
	}, credentialVars(home)...)
}

// unsetVars carry credentials in the environment itself; no client run
// sees the parent's.
var unsetVars = []string{"DOCKER_AUTH_CONFIG"}

// environ is the parent's environment with unsetVars removed and vars
// (KEY=VALUE) set, each replacing the parent's value of its key; among
// vars, a later one of a key wins.
func environ(vars ...string) []string {
	drop := map[string]bool{}
	for _, k := range unsetVars {
		drop[k] = true
	}
	for _, kv := range vars {
		k, _, _ := strings.Cut(kv, "=")
		drop[k] = true
	}
	var env []string
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); !drop[k] {
			env = append(env, kv)
		}
	}
	return append(env, vars...)
}

// regctlHost marks a registry as plain HTTP for regctl.
func (c *cairn) regctlHost(addr string) {
	c.t.Helper()
	c.run("regctl", "registry", "set", "--tls", "disabled", addr)
}

// do sends a raw HTTP request and returns the status, headers and body.
func do(t testing.TB, method, url string, body []byte, header map[string]string) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, res.Header, b
}

// writeFile writes a file in dir and returns its name.
func writeFile(t *testing.T, dir, name string, content []byte) string {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), content, 0o644); err != nil {
		t.Fatal(err)
	}
	return name
}

func mustf(t testing.TB, ok bool, format string, args ...any) {
	t.Helper()
	if !ok {
		t.Fatalf(format, args...)
	}
}
