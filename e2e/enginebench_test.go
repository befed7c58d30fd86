package e2e

import (
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
)

// BenchmarkEngineVsZot measures, with real oras, the engine performance
// table side by side: embedded cairn, zot (ZOT_BIN) as configured by
// default (it does not sync what it writes), zot with storage.commit (it
// syncs, as cairn does), and cairn in upstream mode in front of a default
// zot, interleaved round by round, new content every run, best of the
// rounds. Each sub-benchmark reports the best times and the ratios (ratio:
// embedded cairn / zot; synced-ratio: embedded cairn / zot with commit;
// upstream-ratio: cairn in front of zot / zot; under 1 is faster). Every
// oras run starts after a sync(2), so that no target's timing includes
// writing out another's data. Run it
// with
//
//	make build tools
//	ZOT_BIN=… CAIRN_BIN=$PWD/bin/cairn PATH=$HOME/.cache/cairn-tools/bin:$PATH \
//	  go test -run '^$' -bench EngineVsZot -benchtime 5x -timeout 60m ./e2e/
//
// (-benchtime Nx is the number of rounds.)
func BenchmarkEngineVsZot(b *testing.B) {
	bin, zot := os.Getenv("CAIRN_BIN"), os.Getenv("ZOT_BIN")
	oras, err := exec.LookPath("oras")
	if bin == "" || zot == "" || err != nil {
		b.Skip("SKIPPED: needs CAIRN_BIN, ZOT_BIN and oras on PATH")
	}
	work := b.TempDir()
	targets := benchTargets(b, bin, zot, work)
	home := filepath.Join(work, "home")
	mkdir(b, home)
	env := environ(homeVars(home)...)
	run := func(dir string, args ...string) time.Duration {
		b.Helper()
		// The targets share one filesystem: what one left unsynced (zot by
		// default syncs nothing) must not be written out on another's time
		// (cairn's syncs cover the whole filesystem).
		syscall.Sync()
		start := time.Now()
		cmd := exec.Command(oras, args...)
		cmd.Dir, cmd.Env = dir, env
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("oras %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return time.Since(start)
	}
	seq := 0
	fresh := func(n int, size int64) (string, []string) {
		seq++
		dir := filepath.Join(work, fmt.Sprintf("c%d", seq))
		mkdir(b, dir)
		var names []string
		for i := range n {
			name := fmt.Sprintf("f%03d.bin", i)
			f, err := os.Create(filepath.Join(dir, name))
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.CopyN(f, rand.Reader, size); err != nil {
				b.Fatal(err)
			}
			f.Close()
			names = append(names, name)
		}
		return dir, names
	}
	type op func(addr string) time.Duration
	ops := []struct {
		name string
		make func() op // makes fresh content; the op then runs once per target
	}{
		{"push-256MiB", func() op {
			dir, names := fresh(1, 256<<20)
			return op(func(addr string) time.Duration {
				return run(dir, append([]string{"push", "--plain-http", fmt.Sprintf("%s/big/p%d:v1", addr, seq)}, names...)...)
			})
		}},
		{"pull-256MiB", func() op {
			dir, names := fresh(1, 256<<20)
			return op(func(addr string) time.Duration {
				ref := fmt.Sprintf("%s/big/l%d:v1", addr, seq)
				run(dir, append([]string{"push", "--plain-http", ref}, names...)...)
				out := filepath.Join(dir, "out-"+strings.ReplaceAll(addr, ":", "-"))
				return run(dir, "pull", "--plain-http", ref, "-o", out)
			})
		}},
		{"push-same-256MiB-new-repository", func() op {
			dir, names := fresh(1, 256<<20)
			return op(func(addr string) time.Duration {
				run(dir, append([]string{"push", "--plain-http", fmt.Sprintf("%s/same/a%d:v1", addr, seq)}, names...)...)
				return run(dir, append([]string{"push", "--plain-http", fmt.Sprintf("%s/same/b%d:v1", addr, seq)}, names...)...)
			})
		}},
		{"push-200x4KiB", func() op {
			dir, names := fresh(200, 4096)
			return op(func(addr string) time.Duration {
				return run(dir, append([]string{"push", "--plain-http", fmt.Sprintf("%s/small/p%d:v1", addr, seq)}, names...)...)
			})
		}},
		{"pull-200x4KiB", func() op {
			dir, names := fresh(200, 4096)
			return op(func(addr string) time.Duration {
				ref := fmt.Sprintf("%s/small/l%d:v1", addr, seq)
				run(dir, append([]string{"push", "--plain-http", ref}, names...)...)
				out := filepath.Join(dir, "out-"+strings.ReplaceAll(addr, ":", "-"))
				return run(dir, "pull", "--plain-http", ref, "-o", out)
			})
		}},
		{"get-4KiB-blob", func() op {
			dir, names := fresh(1, 4096)
			return op(func(addr string) time.Duration {
				ref := fmt.Sprintf("%s/get/g%d:v1", addr, seq)
				run(dir, append([]string{"push", "--plain-http", ref}, names...)...)
				return blobGets(b, addr, fmt.Sprintf("get/g%d", seq), filepath.Join(dir, names[0]))
			})
		}},
	}
	for _, o := range ops {
		b.Run(o.name, func(b *testing.B) {
			best := map[string]time.Duration{}
			for round := range b.N {
				run := o.make()
				// Each target first in turn.
				order := append(targets[round%len(targets):len(targets):len(targets)], targets[:round%len(targets)]...)
				for _, t := range order {
					d := run(t.addr)
					if cur, ok := best[t.name]; !ok || d < cur {
						best[t.name] = d
					}
				}
			}
			b.ReportMetric(best["cairn"].Seconds()*1000, "cairn-ms")
			b.ReportMetric(best["zot"].Seconds()*1000, "zot-ms")
			b.ReportMetric(float64(best["cairn"])/float64(best["zot"]), "ratio")
			b.ReportMetric(best["zot-commit"].Seconds()*1000, "zot-commit-ms")
			b.ReportMetric(float64(best["cairn"])/float64(best["zot-commit"]), "synced-ratio")
			b.ReportMetric(best["cairn-zot"].Seconds()*1000, "cairn-zot-ms")
			b.ReportMetric(float64(best["cairn-zot"])/float64(best["zot"]), "upstream-ratio")
		})
	}
}

// blobGets times one 4 KiB blob GET over a keep-alive connection: the best
// of 200.
func blobGets(b *testing.B, addr, repo, file string) time.Duration {
	content, err := os.ReadFile(file)
	if err != nil {
		b.Fatal(err)
	}
	d := digest.FromBytes(content).String()
	client := &http.Client{}
	best := time.Hour
	for range 200 {
		start := time.Now()
		res, err := client.Get("http://" + addr + "/v2/" + repo + "/blobs/" + d)
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || n != int64(len(content)) {
			b.Fatalf("GET blob: %s, %d bytes", res.Status, n)
		}
		if el := time.Since(start); el < best {
			best = el
		}
	}
	return best
}

// benchTarget is a server a side-by-side benchmark measures.
type benchTarget struct{ name, addr string }

// benchTargets starts the servers the side-by-side benchmarks compare, with
// their data under work: cairn with its embedded engine; zot as configured
// by default, which does not sync what it writes, and with storage.commit
// on, which syncs as cairn does (an answered push survives power loss);
// cairn in upstream mode in front of a default zot of its own (what the
// façade adds to zot).
func benchTargets(b *testing.B, bin, zot, work string) []benchTarget {
	return []benchTarget{
		{"cairn", benchServe(b, bin, filepath.Join(work, "cairn-data"))},
		{"zot", benchZot(b, zot, filepath.Join(work, "zot"), false)},
		{"zot-commit", benchZot(b, zot, filepath.Join(work, "zot-commit"), true)},
		{"cairn-zot", benchServe(b, bin, filepath.Join(work, "front-data"), "--upstream", "http://"+benchZot(b, zot, filepath.Join(work, "zot-behind"), false))},
	}
}

// benchZot starts zot for a benchmark.
func benchZot(b *testing.B, bin, dir string, commit bool) string {
	addr := freeAddrTB(b)
	host, port, _ := strings.Cut(addr, ":")
	mkdir(b, dir)
	conf := fmt.Sprintf(`{"distSpecVersion":"1.1.1","storage":{"rootDirectory":%q,"commit":%t},"http":{"address":%q,"port":%q},"log":{"level":"warn"}}`,
		filepath.Join(dir, "storage"), commit, host, port)
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(conf), 0o600); err != nil {
		b.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "zot.log"))
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", filepath.Join(dir, "config.json"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait(); logf.Close() })
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if res, err := http.Get("http://" + addr + "/v2/"); err == nil {
			res.Body.Close()
			return addr
		}
	}
	b.Fatal("zot did not start")
	return ""
}
