package sqlite

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/cairn-dev/cairn/catalog/storetest"
)

// BenchmarkCatalogAtScale measures the catalog API's queries on a store of
// CAIRN_BENCH_SCALE artifacts (skipped when unset; see storetest.BenchScale
// and storetest.BenchQueries). The seeded database is kept in
// $TMPDIR/cairn-bench-<n>.db and reused by later runs; delete it to seed
// again. For example:
//
//	CAIRN_BENCH_SCALE=1M go test -run '^$' -bench CatalogAtScale -benchtime 200x -timeout 2h ./catalog/sqlite/
func BenchmarkCatalogAtScale(b *testing.B) {
	n := storetest.BenchScale(b)
	s := benchStore(b, n)
	storetest.BenchQueries(b, s, n, storetest.BenchSeed)
}

// benchStore opens the cached database of n artifacts, seeding it first
// when there is none or it is incomplete. Its completeness is a file beside
// it, written once seeding is done, that names the data.
func benchStore(b *testing.B, n int) *Store {
	b.Helper()
	path := filepath.Join(os.TempDir(), fmt.Sprintf("cairn-bench-%d.db", n))
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
