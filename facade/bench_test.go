package facade_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	"go.uber.org/zap"

	"github.com/cairn-dev/cairn/backend/embedded"
	"github.com/cairn-dev/cairn/catalog/sqlite"
	"github.com/cairn-dev/cairn/facade"
	"github.com/cairn-dev/cairn/registry"
	"github.com/cairn-dev/cairn/signing"
)

// benchServers starts the embedded engine alone and the façade in front of
// another one, each over real HTTP on loopback with its own storage.
func benchServers(b *testing.B, opts ...registry.Option) map[string]string {
	b.Helper()
	ctx := context.Background()
	log := zap.NewNop()
	urls := map[string]string{}
	for _, name := range []string{"engine", "facade"} {
		dir := b.TempDir()
		eng, err := embedded.New(ctx, log, embedded.Config{DataDir: filepath.Join(dir, "data")})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = eng.Close() })
		var h http.Handler = eng
		if name == "facade" {
			// As served: the catalog beside the storage, whose syncs
			// cover its pending marks.
			st, err := sqlite.Open(ctx, filepath.Join(dir, "catalog.db"), sqlite.InMemoryIndex(), sqlite.SkipMarkSync())
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = st.Close() })
			core, err := registry.New(log, eng, st, opts...)
			if err != nil {
				b.Fatal(err)
			}
			if h, err = facade.New(log, core, eng, st); err != nil {
				b.Fatal(err)
			}
		}
		srv := httptest.NewServer(h)
		b.Cleanup(srv.Close)
		urls[name] = srv.URL
	}
	return urls
}

// blob returns n bytes unique to seed, and their digest.
func blob(n int, seed uint64) ([]byte, string) {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i * 131 % 251)
	}
	binary.BigEndian.PutUint64(p, seed)
	sum := sha256.Sum256(p)
	return p, "sha256:" + hex.EncodeToString(sum[:])
}

func push(b *testing.B, base, repo string, p []byte, dgst string) {
	res, err := http.Post(base+"/v2/"+repo+"/blobs/uploads/", "", nil)
	if err != nil {
		b.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusAccepted {
		b.Fatalf("POST: %s", res.Status)
	}
	loc := res.Header.Get("Location")
	req, _ := http.NewRequest(http.MethodPut, base+loc+"&digest="+dgst, bytes.NewReader(p))
	req.Header.Set("Content-Type", "application/octet-stream")
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		b.Fatalf("PUT: %s", res.Status)
	}
}

func pull(b *testing.B, base, repo, dgst string, size int) {
	res, err := http.Get(base + "/v2/" + repo + "/blobs/" + dgst)
	if err != nil {
		b.Fatal(err)
	}
	n, err := io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if err != nil || n != int64(size) || res.StatusCode != http.StatusOK {
		b.Fatalf("GET: %s, %d bytes, %v", res.Status, n, err)
	}
}

// BenchmarkBlobPush measures a blob upload (POST, then PUT with the whole
// body) of new content each time, through the engine alone and through the
// façade.
func BenchmarkBlobPush(b *testing.B) {
	urls := benchServers(b)
	for _, size := range []int{1 << 20, 100 << 20} {
		for _, target := range []string{"engine", "facade"} {
			b.Run(fmt.Sprintf("%s/%dMiB", target, size>>20), func(b *testing.B) {
				b.SetBytes(int64(size))
				for i := 0; b.Loop(); i++ {
					b.StopTimer()
					p, d := blob(size, uint64(i)<<8|uint64(size>>20))
					b.StartTimer()
					push(b, urls[target], "bench/push", p, d)
				}
			})
		}
	}
}

// BenchmarkBlobPull measures a blob download through the engine alone and
// through the façade.
func BenchmarkBlobPull(b *testing.B) {
	urls := benchServers(b)
	for _, size := range []int{1 << 20, 100 << 20} {
		p, d := blob(size, 1<<40|uint64(size))
		for _, target := range []string{"engine", "facade"} {
			push(b, urls[target], "bench/pull", p, d)
			b.Run(fmt.Sprintf("%s/%dMiB", target, size>>20), func(b *testing.B) {
				b.SetBytes(int64(size))
				for b.Loop() {
					pull(b, urls[target], "bench/pull", d, size)
				}
			})
		}
	}
}

// BenchmarkManifestPush measures indexed manifest pushes through the façade
// (engine write, catalog write, tag) from 8 concurrent clients, each into a
// repository of its own, every manifest new (a unique annotation).
func BenchmarkManifestPush(b *testing.B) { benchManifestPush(b, "facade") }

// BenchmarkManifestPushEngine is BenchmarkManifestPush against the
// embedded engine alone, without the façade and its catalog: the engine's
// own ceiling.
func BenchmarkManifestPushEngine(b *testing.B) { benchManifestPush(b, "engine") }

// BenchmarkManifestPushWithTrust is BenchmarkManifestPush with a trust
// policy covering every repository: unsigned pushes must not pay for it.
func BenchmarkManifestPushWithTrust(b *testing.B) {
	_, key := benchKey(b)
	trust, err := signing.NewTrust([]signing.PrefixTrust{{Prefix: "", Keys: []*signing.PublicKey{key}}})
	if err != nil {
		b.Fatal(err)
	}
	benchManifestPush(b, "facade", registry.WithTrust(trust))
}

func benchManifestPush(b *testing.B, target string, opts ...registry.Option) {
	base := benchServers(b, opts...)[target]
	const clients = 8
	cfg := []byte("{}")
	cfgDigest := digestOf(cfg)
	layer, layerDigest := blob(4096, 7)
	for c := 0; c < clients; c++ {
		repo := fmt.Sprintf("bench/push%d", c)
		push(b, base, repo, cfg, cfgDigest)
		push(b, base, repo, layer, layerDigest)
	}
	var next atomic.Int64
	b.SetParallelism((clients + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	start := time.Now()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		client := &http.Client{}
		for pb.Next() {
			i := next.Add(1)
			repo := fmt.Sprintf("bench/push%d", i%clients)
			m := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.cairn.bench.v1",`+
				`"config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":%q,"size":2},`+
				`"layers":[{"mediaType":"application/octet-stream","digest":%q,"size":4096}],`+
				`"annotations":{"org.example.run":"%d","org.example.year":"2024"}}`, cfgDigest, layerDigest, i)
			req, _ := http.NewRequest(http.MethodPut, base+"/v2/"+repo+"/manifests/run-"+strconv.FormatInt(i, 10), strings.NewReader(m))
			req.Header.Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
			res, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusCreated {
				b.Errorf("PUT manifest: %s", res.Status)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "pushes/s")
}

func benchKey(b *testing.B) (*signing.Signer, *signing.PublicKey) {
	b.Helper()
	priv, pub, err := signing.GenerateKeyPair(nil)
	if err != nil {
		b.Fatal(err)
	}
	signer, err := signing.ParsePrivateKey(priv, nil)
	if err != nil {
		b.Fatal(err)
	}
	key, err := signing.ParsePublicKey(pub)
	if err != nil {
		b.Fatal(err)
	}
	return signer, key
}

// BenchmarkSignaturePush measures the push of one cosign signature
// manifest (referrer form) of a manifest of its own, from one client:
// engine write, catalog write, reading the payload back from the engine
// and verifying it. "referrer" pushes the same shape under another
// artifactType, which is not verified: the difference is what
// verification costs.
func BenchmarkSignaturePush(b *testing.B) {
	signer, key := benchKey(b)
	trust, err := signing.NewTrust([]signing.PrefixTrust{{Prefix: "", Keys: []*signing.PublicKey{key}}})
	if err != nil {
		b.Fatal(err)
	}
	base := benchServers(b, registry.WithTrust(trust))["facade"]
	const repo = "bench/signed"
	cfg := []byte("{}")
	cfgDigest := digestOf(cfg)
	push(b, base, repo, cfg, cfgDigest)
	client := &http.Client{}
	put := func(ref, m string) {
		req, _ := http.NewRequest(http.MethodPut, base+"/v2/"+repo+"/manifests/"+ref, strings.NewReader(m))
		req.Header.Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
		res, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusCreated {
			b.Fatalf("PUT manifest: %s", res.Status)
		}
	}
	var n int
	for _, kind := range []string{"signature", "referrer"} {
		b.Run(kind, func(b *testing.B) {
			// One subject per signature, pushed before the clock runs:
			// each push verifies one signature.
			type signed struct{ subject, size, payload, payloadDigest, sig string }
			subjects := make([]signed, b.N)
			for i := range subjects {
				n++
				subject := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":%q,"size":2},"layers":[],"annotations":{"n":"%d"}}`, cfgDigest, n)
				put(digestOf([]byte(subject)), subject)
				payload, err := signing.NewPayload("localhost/"+repo, digest.Digest(digestOf([]byte(subject))), nil)
				if err != nil {
					b.Fatal(err)
				}
				sig, err := signer.Sign(payload)
				if err != nil {
					b.Fatal(err)
				}
				push(b, base, repo, payload, digestOf(payload))
				subjects[i] = signed{digestOf([]byte(subject)), strconv.Itoa(len(subject)), strconv.Itoa(len(payload)), digestOf(payload), sig}
			}
			artifactType := signing.ArtifactType
			if kind == "referrer" {
				artifactType = "application/vnd.cairn.bench.note.v1"
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				s := subjects[i]
				m := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":%q,`+
					`"config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":%q,"size":2},`+
					`"layers":[{"mediaType":%q,"digest":%q,"size":%s,"annotations":{%q:%q}}],`+
					`"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":%q,"size":%s}}`,
					artifactType, cfgDigest, signing.PayloadMediaType, s.payloadDigest, s.payload, signing.SignatureAnnotation, s.sig, s.subject, s.size)
				put(digestOf([]byte(m)), m)
			}
		})
	}
}

func digestOf(p []byte) string {
	sum := sha256.Sum256(p)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// BenchmarkSmallBlobGet measures one 4 KiB blob GET over a keep-alive
// connection, from the engine alone and through the façade (which serves
// filesystem blobs from their files).
func BenchmarkSmallBlobGet(b *testing.B) {
	for target, base := range benchServers(b) {
		p, dgst := blob(4096, 11)
		push(b, base, "bench/small", p, dgst)
		b.Run(target, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				pull(b, base, "bench/small", dgst, len(p))
			}
		})
	}
}

// BenchmarkBlobHead measures the HEAD a client sends before each upload,
// for a blob the repository holds and for one no repository holds (the
// common case while pushing new content), from the engine alone and
// through the façade.
func BenchmarkBlobHead(b *testing.B) {
	for target, base := range benchServers(b) {
		p, dgst := blob(4096, 12)
		push(b, base, "bench/head", p, dgst)
		_, missing := blob(4096, 13)
		for _, c := range []struct {
			name, digest string
			status       int
		}{{"present", dgst, http.StatusOK}, {"missing", missing, http.StatusNotFound}} {
			b.Run(target+"/"+c.name, func(b *testing.B) {
				client := &http.Client{}
				for b.Loop() {
					req, _ := http.NewRequest(http.MethodHead, base+"/v2/bench/head/blobs/"+c.digest, nil)
					res, err := client.Do(req)
					if err != nil {
						b.Fatal(err)
					}
					io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if res.StatusCode != c.status {
						b.Fatalf("HEAD %s: %s", c.name, res.Status)
					}
				}
			})
		}
	}
}

// BenchmarkManifestPutSequential measures one manifest PUT at a time, new
// manifest each time, through the engine alone and through the façade: the
// difference is what indexing adds to a push.
func BenchmarkManifestPutSequential(b *testing.B) {
	for target, base := range benchServers(b) {
		cfg := []byte("{}")
		cfgDigest := digestOf(cfg)
		push(b, base, "bench/seq", cfg, cfgDigest)
		b.Run(target, func(b *testing.B) {
			client := &http.Client{}
			for i := 0; b.Loop(); i++ {
				m := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.cairn.bench.v1",`+
					`"config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":%q,"size":2},"layers":[],`+
					`"annotations":{"org.example.run":"%s-%d"}}`, cfgDigest, target, i)
				req, _ := http.NewRequest(http.MethodPut, base+"/v2/bench/seq/manifests/run-"+strconv.Itoa(i), strings.NewReader(m))
				req.Header.Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
				res, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != http.StatusCreated {
					b.Fatalf("PUT manifest: %s", res.Status)
				}
			}
		})
	}
}
