package sqlite

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/cairn-dev/cairn/catalog"

	"github.com/cairn-dev/cairn/catalog/storetest"
)

// BenchmarkCatalogAtScale measures the catalog API's queries on a store of
// CAIRN_BENCH_SCALE artifacts (skipped when unset; see storetest.BenchScale
// and storetest.BenchQueries). The seeded database is kept in
// $TMPDIR/cairn-bench-<n>.db and reused by later runs; delete it to seed
// again. For example:
//
//	CAIRN_BENCH_SCALE=1M go test -run '^$' -bench CatalogAtScale -benchtime 200x -timeout 2h ./catalog/sqlite/
//
// The store answers as cairn serve opens it, from its in-memory index
// (read before the queries run; the time it took and the heap it holds are
// logged); BenchmarkCatalogAtScaleSQL measures the same queries answered
// by SQL alone.
func BenchmarkCatalogAtScale(b *testing.B) {
	n := storetest.BenchScale(b)
	benchStore(b, n).Close()
	path := benchPath(n)
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	s, err := Open(b.Context(), path, InMemoryIndex())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	for !s.postings.ready.Load() {
		time.Sleep(10 * time.Millisecond)
	}
	took := time.Since(start)
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	b.Logf("in-memory index of %d artifacts read in %v, heap %d MiB more", s.postings.ix.Len(), took.Round(time.Millisecond), (int64(after.HeapAlloc)-int64(before.HeapAlloc))>>20)
	storetest.BenchQueries(b, s, n, storetest.BenchSeed)
}

// BenchmarkCatalogAtScaleSQL is BenchmarkCatalogAtScale without the
// in-memory index.
func BenchmarkCatalogAtScaleSQL(b *testing.B) {
	n := storetest.BenchScale(b)
	s := benchStore(b, n)
	storetest.BenchQueries(b, s, n, storetest.BenchSeed)
}

// benchPath is where the database of n artifacts is kept.
func benchPath(n int) string {
	return filepath.Join(os.TempDir(), fmt.Sprintf("cairn-bench-%d.db", n))
}

// benchStore opens the cached database of n artifacts, seeding it first
// when there is none or it is incomplete. Its completeness is a file beside
// it, written once seeding is done, that names the data.
func benchStore(b *testing.B, n int) *Store {
	b.Helper()
	path := benchPath(n)
	marker := path + ".complete"
	want := storetest.BenchDataDescription(n, storetest.BenchSeed) + "\n"
	if got, err := os.ReadFile(marker); err == nil && string(got) == want {
		s, err := Open(b.Context(), path)
		if err == nil {
			st, err := s.Stats(b.Context())
			if err == nil && st.Manifests == int64(n) {
				b.Cleanup(func() { s.Close() })
				b.Logf("reusing %s (%s)", path, want[:len(want)-1])
				return s
			}
			s.Close()
		}
		b.Logf("not reusing %s: %v", path, err)
	}

	for _, p := range []string{marker, path, path + "-wal", path + "-shm"} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			b.Fatal(err)
		}
	}
	s, err := Open(b.Context(), path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	// Seeding only: a page cache of 1 GiB on the write connection (the
	// default is 2 MiB), so that the inserts into the indexes keyed by
	// digests and push times, all over their B-trees, do not go through
	// the file for each row. The read connections keep the default.
	if _, err := s.write.ExecContext(b.Context(), `PRAGMA cache_size = -1048576`); err != nil {
		b.Fatal(err)
	}
	storetest.Seed(b, s, n, storetest.BenchSeed)
	for _, q := range []string{`PRAGMA cache_size = -2000`, `PRAGMA wal_checkpoint(TRUNCATE)`} {
		if _, err := s.write.ExecContext(b.Context(), q); err != nil {
			b.Fatal(err)
		}
	}
	if err := os.WriteFile(marker, []byte(want), 0o644); err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkLineageAtScale measures lineage walks on a graph of
// CAIRN_BENCH_SCALE artifacts (see storetest.BenchLineage), seeded into a
// new database each run:
//
//	CAIRN_BENCH_SCALE=1M go test -run '^$' -bench LineageAtScale -benchtime 200x -timeout 1h ./catalog/sqlite/
func BenchmarkLineageAtScale(b *testing.B) {
	n := storetest.BenchScale(b)
	s, err := Open(b.Context(), filepath.Join(b.TempDir(), "lineage.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	g := storetest.SeedLineage(b, s, n, storetest.BenchSeed)
	storetest.BenchLineage(b, s, g)
}

// BenchmarkIndexPush measures what the catalog adds to each manifest
// push through the façade (a pending mark, then the manifest, its tag and
// the mark's removal in one transaction), from 8 concurrent clients, with
// the in-memory index replaying every push as a query would.
func BenchmarkIndexPush(b *testing.B) {
	s, err := Open(b.Context(), filepath.Join(b.TempDir(), "catalog.db"), InMemoryIndex())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	ctx := b.Context()
	var next atomic.Int64
	b.SetParallelism(4) // 8 clients on 2 cores
	start := time.Now()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1)
			repo := fmt.Sprintf("bench/push%d", i%8)
			mark, err := s.MarkPending(ctx, repo)
			if err != nil {
				b.Error(err)
				return
			}
			m := catalog.Manifest{
				Repository: repo, Digest: digest.FromString(fmt.Sprint("push ", i)), MediaType: "application/vnd.oci.image.manifest.v1+json",
				ArtifactType: "application/vnd.cairn.bench.v1", Size: 400, TotalSize: 4500,
				Annotations: map[string]string{"org.example.run": strconv.FormatInt(i, 10), "org.example.year": "2024"},
				Layers: []catalog.Layer{{Kind: "config", Digest: digest.FromString("{}"), MediaType: "application/vnd.oci.empty.v1+json", Size: 2},
					{Kind: "layer", Digest: digest.FromString("layer"), MediaType: "application/octet-stream", Size: 4096}},
			}
			if err := s.IndexPush(ctx, m, "run-"+strconv.FormatInt(i, 10), mark); err != nil {
				b.Error(err)
				return
			}
			if i%50 == 0 {
				s.index(ctx) // a query now and then replays what was pushed
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "pushes/s")
}
