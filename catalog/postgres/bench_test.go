package postgres_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/opencontainers/go-digest"

	"github.com/cairn-dev/cairn/catalog"
	"github.com/cairn-dev/cairn/catalog/postgres"
	"github.com/cairn-dev/cairn/catalog/storetest"
)

// BenchmarkCatalogAtScale measures the catalog API's queries on a store of
// CAIRN_BENCH_SCALE artifacts (skipped when unset; see storetest.BenchScale
// and storetest.BenchQueries), in the schema cairn_bench_<n> of the test
// server (CAIRN_TEST_POSTGRES, as for the tests). The schema is dropped at
// the end unless CAIRN_BENCH_KEEP=1; a kept schema is reused by later runs.
// For example:
//
//	CAIRN_BENCH_SCALE=100000 go test -run '^$' -bench CatalogAtScale -benchtime 200x -timeout 2h ./catalog/postgres/
func BenchmarkCatalogAtScale(b *testing.B) {
	n := storetest.BenchScale(b)
	s := benchStore(b, n)
	storetest.BenchQueries(b, s, n, storetest.BenchSeed)
}

// benchStore opens the store of the schema cairn_bench_<n>, seeding it
// first unless it holds the benchmark data already (a table
// bench_seeded, written once seeding is done, names it). After seeding it
// runs VACUUM ANALYZE on the tables, as autovacuum would have done in a
// while: the planner's statistics and the visibility map of a catalog in
// use.
func benchStore(b *testing.B, n int) *postgres.Store {
	b.Helper()
	dsn := testDSN()
	ctx, cancel := context.WithTimeout(b.Context(), 10*time.Second)
	defer cancel()
	adm, err := pgx.Connect(ctx, dsn)
	if err == nil {
		err = adm.Ping(ctx)
	}
	if err != nil {
		b.Fatalf("PostgreSQL at %s is unreachable: %v\n(set CAIRN_TEST_POSTGRES to another DSN)", redact(dsn), err)
	}
	b.Cleanup(func() { adm.Close(context.Background()) })

	schema := fmt.Sprintf("cairn_bench_%d", n)
	ident := pgx.Identifier{schema}.Sanitize()
	b.Cleanup(func() {
		if os.Getenv("CAIRN_BENCH_KEEP") == "1" {
			b.Logf("keeping schema %s (CAIRN_BENCH_KEEP=1)", schema)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		if _, err := adm.Exec(ctx, "DROP SCHEMA IF EXISTS "+ident+" CASCADE"); err != nil {
			b.Errorf("drop schema %s: %v", schema, err)
		}
	})

	want := storetest.BenchDataDescription(n, storetest.BenchSeed)
	var got string
	err = adm.QueryRow(b.Context(), "SELECT note FROM "+pgx.Identifier{schema, "bench_seeded"}.Sanitize()).Scan(&got)
	seeded := err == nil && got == want
	if !seeded {
		for _, q := range []string{"DROP SCHEMA IF EXISTS " + ident + " CASCADE", "CREATE SCHEMA " + ident} {
			if _, err := adm.Exec(b.Context(), q); err != nil {
				b.Fatalf("%s: %v", q, err)
			}
		}
	}
	s, err := postgres.Open(b.Context(), withParam(dsn, "search_path", schema))
	if err != nil {
		b.Fatalf("Open: %v", err)
	}
	b.Cleanup(func() { s.Close() })
	if seeded {
		st, err := s.Stats(b.Context())
		if err != nil || st.Manifests != int64(n) {
			b.Fatalf("schema %s says it holds the benchmark data but has %d artifacts (%v); drop it", schema, st.Manifests, err)
		}
		b.Logf("reusing schema %s (%s)", schema, want)
		return s
	}

	storetest.Seed(b, s, n, storetest.BenchSeed)
	start := time.Now()
	for _, table := range []string{"manifests", "tags", "layers", "annotations"} {
		if _, err := adm.Exec(b.Context(), "VACUUM ANALYZE "+pgx.Identifier{schema, table}.Sanitize()); err != nil {
			b.Fatalf("VACUUM ANALYZE %s: %v", table, err)
		}
	}
	b.Logf("VACUUM ANALYZE in %v", time.Since(start).Round(time.Millisecond))
	marker := pgx.Identifier{schema, "bench_seeded"}.Sanitize()
	if _, err := adm.Exec(b.Context(), "CREATE TABLE "+marker+" (note TEXT NOT NULL)"); err != nil {
		b.Fatal(err)
	}
	if _, err := adm.Exec(b.Context(), "INSERT INTO "+marker+" (note) VALUES ($1)", want); err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkLineageAtScale measures lineage walks on a graph of
// CAIRN_BENCH_SCALE artifacts (see storetest.BenchLineage), seeded into a
// new schema each run and analysed, as autovacuum would:
//
//	CAIRN_BENCH_SCALE=100k go test -run '^$' -bench LineageAtScale -benchtime 200x -timeout 1h ./catalog/postgres/
func BenchmarkLineageAtScale(b *testing.B) {
	n := storetest.BenchScale(b)
	adm := admin(b)
	_, dsn := freshSchema(b, adm)
	s, err := postgres.Open(b.Context(), dsn)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	g := storetest.SeedLineage(b, s, n, storetest.BenchSeed)
	c, err := pgx.Connect(b.Context(), dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close(context.Background())
	if _, err := c.Exec(b.Context(), "VACUUM ANALYZE edges"); err != nil {
		b.Fatal(err)
	}
	storetest.BenchLineage(b, s, g)
}

// BenchmarkIndexPush measures what the catalog adds to each manifest push
// through the façade (a pending mark, then the manifest, its tag and the
// mark's removal in one transaction), from 8 concurrent clients, as the
// SQLite store's BenchmarkIndexPush does:
//
//	go test -run '^$' -bench BenchmarkIndexPush -benchtime 3000x ./catalog/postgres/
func BenchmarkIndexPush(b *testing.B) {
	_, dsn := freshSchema(b, admin(b))
	s, err := postgres.Open(b.Context(), dsn)
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
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "pushes/s")
}
