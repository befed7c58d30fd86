package postgres_test

import (
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/cairn-dev/cairn/annotations"
	"github.com/cairn-dev/cairn/catalog"
	"github.com/cairn-dev/cairn/catalog/postgres"
)

// TestMigrateFromVersion1 opens a schema written by the first version:
// total sizes are computed from the layers, annotation sort keys from the
// values (over several backfill batches), and the queries work on it.
func TestMigrateFromVersion1(t *testing.T) {
	ctx := t.Context()
	adm := admin(t)
	_, dsn := freshSchema(t, adm)
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	values := []string{"2023", "10", "2", "abc", "2024-01-01T00:00:00Z", ""}
	n := 2*postgres.BackfillBatch + 7
	for _, st := range []struct {
		sql  string
		args []any
	}{
		{`CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version (version) VALUES (1)`, nil},
		{postgres.MigrationSQL(1), nil},
		{`INSERT INTO manifests (repository, digest, media_type, annotations, size, pushed_at)
SELECT 'r' || (i % 3), 'sha256:' || md5(i::text), 'm', json_build_object('v', ($1::text[])[1 + i % 6])::text, 100, to_timestamp(i)
FROM generate_series(0, $2 - 1) i`, []any{values, n}},
		// Sizes 10 and -1: only positive sizes count.
		{`INSERT INTO layers (repository, manifest_digest, position, kind, digest, media_type, size)
SELECT repository, digest, p, 'layer', 'l', 'x', CASE p WHEN 0 THEN 10 ELSE -1 END
FROM manifests, generate_series(0, 1) p`, nil},
		{`INSERT INTO annotations (repository, digest, key, value)
SELECT 'r' || (i % 3), 'sha256:' || md5(i::text), 'v', ($1::text[])[1 + i % 6]
FROM generate_series(0, $2 - 1) i`, []any{values, n}},
	} {
		if _, err := c.Exec(ctx, st.sql, st.args...); err != nil {
			t.Fatalf("%s: %v", st.sql, err)
		}
	}
	c.Close(ctx)

	s, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatalf("Open of a version 1 schema: %v", err)
	}
	defer s.Close()
	c, err = pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var version, wrongSize int
	if err := c.QueryRow(ctx, `SELECT version FROM schema_version`).Scan(&version); err != nil || version != postgres.Migrations {
		t.Errorf("schema version = %d, %v; want %d", version, err, postgres.Migrations)
	}
	if err := c.QueryRow(ctx, `SELECT COUNT(*) FROM manifests WHERE total_size <> 110`).Scan(&wrongSize); err != nil || wrongSize != 0 {
		t.Errorf("%d manifests with a total size other than 110 (%v)", wrongSize, err)
	}
	rows, _ := c.Query(ctx, `SELECT value, sort_key FROM annotations`)
	seen, wrongKey := 0, 0
	var v, k string
	if _, err := pgx.ForEachRow(rows, []any{&v, &k}, func() error {
		seen++
		if k != annotations.SortKey(v) {
			wrongKey++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if seen != n || wrongKey != 0 {
		t.Errorf("%d annotations, %d with a wrong sort key; want %d and 0", seen, wrongKey, n)
	}

	f, err := annotations.ParseFilter("v>=3")
	if err != nil {
		t.Fatal(err)
	}
	var got []catalog.Manifest
	var after *catalog.Cursor
	for {
		page, err := s.Artifacts(ctx, catalog.Query{Annotations: []annotations.Filter{f}}, catalog.Sort{Field: catalog.SortAnnotation, Key: "v"}, 1000, after)
		if err != nil {
			t.Fatalf("Artifacts: %v", err)
		}
		got = append(got, page.Artifacts...)
		if after = page.Next; after == nil {
			break
		}
	}
	// 2023, 10 and abc (text against a number) are >= 3; 2 is not, nor
	// are "" and the time (by text, both sort before "3").
	want := 0
	for i := range n {
		if j := i % len(values); j == 0 || j == 1 || j == 3 {
			want++
		}
	}
	if len(got) != want {
		t.Errorf("v>=3 selected %d artifacts, want %d", len(got), want)
	}
	for i, m := range got {
		if m.TotalSize != 110 || len(m.Layers) != 2 {
			t.Fatalf("artifact %d read back as %+v", i, m)
		}
		if v := m.Annotations["v"]; v != "2023" && v != "10" && v != "abc" {
			t.Fatalf("artifact %d has v=%q", i, v)
		}
		if i > 0 && annotations.SortKey(m.Annotations["v"]) < annotations.SortKey(got[i-1].Annotations["v"]) {
			t.Fatalf("artifacts not in order of v at %d", i)
		}
	}
}
