package e2e

import (
	"bufio"
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

// BenchmarkCLI compares cairn push and pull with oras push and pull of the
// same content on the same cairn serve: one 1 GiB file, and 1,000 files of
// 4 KiB. It reports each client's wall time per operation and its peak
// resident memory (max RSS of the client process). Run it with
//
//	make build tools
//	CAIRN_BIN=$PWD/bin/cairn PATH=$HOME/.cache/cairn-tools/bin:$PATH \
//	  go test -run '^$' -bench BenchmarkCLI -benchtime 3x -timeout 60m ./e2e/
func BenchmarkCLI(b *testing.B) {
	bin := os.Getenv("CAIRN_BIN")
	oras, err := exec.LookPath("oras")
	if bin == "" || err != nil {
		b.Skip("SKIPPED: needs CAIRN_BIN and oras on PATH (make build tools)")
	}
	work := b.TempDir()
	addr := benchServe(b, bin, filepath.Join(work, "data"))

	big := filepath.Join(work, "big")
	mkdir(b, big)
	writePattern(b, filepath.Join(big, "model.bin"), 1<<30)
	small := filepath.Join(work, "small")
	mkdir(b, small)
	var smallFiles []string
	for i := range 1000 {
		name := fmt.Sprintf("f%04d.bin", i)
		content := []byte(fmt.Sprintf("%04d", i) + strings.Repeat("x", 4096-4))
		if err := os.WriteFile(filepath.Join(small, name), content, 0o644); err != nil {
			b.Fatal(err)
		}
		smallFiles = append(smallFiles, name)
	}
	cases := []struct {
		name  string
		dir   string
		files []string
	}{
		{"1GiB", big, []string{"model.bin"}},
		{"1000x4KiB", small, smallFiles},
	}
	home := filepath.Join(work, "home")
	mkdir(b, home)
	env := environ(append(homeVars(home), "CAIRN_PLAIN_HTTP=true")...)
	seq := 0
	for _, tc := range cases {
		for _, client := range []string{"cairn", "oras"} {
			push := func(repo string) []string {
				if client == "cairn" {
					return append([]string{bin, "push", addr + "/" + repo + ":1"}, tc.files...)
				}
				return append([]string{oras, "push", "--plain-http", "--disable-path-validation", addr + "/" + repo + ":1"}, tc.files...)
			}
			pull := func(repo, out string) []string {
				if client == "cairn" {
					return []string{bin, "pull", addr + "/" + repo + ":1", "-o", out}
				}
				return []string{oras, "pull", "--plain-http", addr + "/" + repo + ":1", "-o", out}
			}
			var lastRepo string
			b.Run("push/"+tc.name+"/"+client, func(b *testing.B) {
				var rss int64
				for b.Loop() {
					seq++
					lastRepo = fmt.Sprintf("bench/%s-%s-%d", client, strings.ToLower(tc.name), seq)
					rss = max(rss, benchRun(b, tc.dir, env, push(lastRepo)))
				}
				b.ReportMetric(float64(rss)/(1<<20), "maxrss-MiB")
			})
			b.Run("pull/"+tc.name+"/"+client, func(b *testing.B) {
				var rss int64
				for b.Loop() {
					b.StopTimer()
					out := filepath.Join(work, "out")
					os.RemoveAll(out)
					mkdir(b, out)
					b.StartTimer()
					rss = max(rss, benchRun(b, work, env, pull(lastRepo, out)))
				}
				b.ReportMetric(float64(rss)/(1<<20), "maxrss-MiB")
			})
		}
	}
}

// benchRun runs a client to completion and returns its peak RSS in bytes.
func benchRun(b *testing.B, dir string, env, args []string) int64 {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir, cmd.Env = dir, env
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.Fatalf("%s: %v\n%s", strings.Join(args[:3], " "), err, out)
	}
	return cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss << 10
}

// benchServe starts cairn serve for the benchmark, logging warnings only.
func benchServe(b *testing.B, bin, dataDir string, extra ...string) string {
	l := freeAddrTB(b)
	cmd := exec.Command(bin, append([]string{"serve", "--addr", l, "--data-dir", dataDir, "--log-level", "warn"}, extra...)...)
	logf, err := os.Create(dataDir + ".log")
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait(); logf.Close() })
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if res, err := http.Get("http://" + l + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return l
			}
		}
	}
	b.Fatal("cairn serve did not become ready")
	return ""
}

func freeAddrTB(b *testing.B) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func mkdir(b *testing.B, p string) {
	if err := os.MkdirAll(p, 0o755); err != nil {
		b.Fatal(err)
	}
}

// writePattern writes n bytes that do not compress to a file.
func writePattern(b *testing.B, p string, n int64) {
	f, err := os.Create(p)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	if _, err := io.Copy(w, &patternReader{n: n}); err != nil {
		b.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
}
