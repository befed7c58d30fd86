package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
)

// BenchmarkManifestPushRate measures how many small manifests a second 8
// concurrent clients push by tag (config and layer already present, one
// repository per client), against the real servers: embedded cairn, zot as
// configured by default (unsynced), zot with storage.commit, and cairn in
// upstream mode in front of a default zot (the Helm chart's setup, every
// push indexed). -benchtime Nx is the number of pushes per target:
//
//	ZOT_BIN=… CAIRN_BIN=$PWD/bin/cairn go test -run '^$' -bench ManifestPushRate -benchtime 3000x ./e2e/
func BenchmarkManifestPushRate(b *testing.B) {
	bin, zot := os.Getenv("CAIRN_BIN"), os.Getenv("ZOT_BIN")
	if bin == "" || zot == "" {
		b.Skip("SKIPPED: needs CAIRN_BIN and ZOT_BIN")
	}
	for _, tg := range benchTargets(b, bin, zot, b.TempDir()) {
		b.Run(tg.name, func(b *testing.B) {
			b.ReportMetric(pushRate(b, "http://"+tg.addr, b.N), "pushes/s")
		})
	}
}

// pushRate pushes n manifests to base from 8 clients and returns the rate.
func pushRate(b *testing.B, base string, n int) float64 {
	const clients = 8
	cfg := []byte("{}")
	layer := bytes.Repeat([]byte("cairn push rate "), 256)
	var cfgDigest, layerDigest digest.Digest
	run := time.Now().UnixNano()
	for c := range clients {
		repo := fmt.Sprintf("rate/push%d", c)
		cfgDigest = pushBlob(b, base, repo, cfg)
		layerDigest = pushBlob(b, base, repo, layer)
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Value
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	// What the previous target left unsynced is not this one's to write
	// out (the targets share one filesystem; cairn syncs all of it).
	syscall.Sync()
	b.ResetTimer()
	start := time.Now()
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			repo := fmt.Sprintf("rate/push%d", c)
			for {
				i := next.Add(1)
				if i > int64(n) {
					return
				}
				m := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.cairn.bench.v1",`+
					`"config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":%q,"size":%d},`+
					`"layers":[{"mediaType":"application/octet-stream","digest":%q,"size":%d}],`+
					`"annotations":{"org.example.run":"%d-%d","org.example.year":"2024"}}`, cfgDigest, len(cfg), layerDigest, len(layer), run, i)
				req, _ := http.NewRequest(http.MethodPut, fmt.Sprintf("%s/v2/%s/manifests/run-%d", base, repo, i), strings.NewReader(m))
				req.Header.Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
				res, err := client.Do(req)
				if err != nil {
					failed.Store(err.Error())
					return
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != http.StatusCreated {
					failed.Store(res.Status)
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if f := failed.Load(); f != nil {
		b.Fatalf("manifest push to %s: %v", base, f)
	}
	return float64(n) / elapsed.Seconds()
}
