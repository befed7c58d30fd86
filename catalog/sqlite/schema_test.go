package sqlite

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/cairn-dev/cairn/annotations"
	"github.com/cairn-dev/cairn/catalog"
)

func TestPragmas(t *testing.T) {
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "catalog.db"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	for _, c := range []struct {
		db     *sql.DB
		pragma string
		want   string
	}{
		{s.write, "journal_mode", "wal"},
		{s.write, "foreign_keys", "1"},
		{s.write, "synchronous", "1"}, // NORMAL
		{s.write, "busy_timeout", "10000"},
		{s.write, "query_only", "0"},
		{s.read, "journal_mode", "wal"},
		{s.read, "foreign_keys", "1"},
		{s.read, "synchronous", "1"},
		{s.read, "busy_timeout", "10000"},
		{s.read, "query_only", "1"},
	} {
		var got string
		if err := c.db.QueryRowContext(t.Context(), "PRAGMA "+c.pragma).Scan(&got); err != nil {
			t.Fatalf("PRAGMA %s: %v", c.pragma, err)
		}
		if got != c.want {
			t.Errorf("PRAGMA %s = %s, want %s", c.pragma, got, c.want)
		}
	}
	var version int
	if err := s.read.QueryRowContext(t.Context(), `SELECT version FROM schema_version`).Scan(&version); err != nil {
		t.Fatalf("schema_version: %v", err)
	}
	if version != len(migrations) {
		t.Errorf("schema version = %d, want %d", version, len(migrations))
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "catalog.db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if _, err := s.write.ExecContext(t.Context(), `UPDATE schema_version SET version = ?`, len(migrations)+1); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err := Open(t.Context(), path); err == nil {
		s.Close()
		t.Fatal("Open of a newer schema: no error")
	}
}

// TestMigrateFromVersion1 opens a database written by the first schema:
// total sizes are computed from the layers, annotation sort keys from the
// values (over several backfill batches), and the queries work on it.
func TestMigrateFromVersion1(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "catalog.db")
	db, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		t.Fatal(err)
	}
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec(`CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version (version) VALUES (1)`)
	exec(migrations[0].sql)
	values := []string{"2023", "10", "2", "abc", "2024-01-01T00:00:00Z", ""}
	const n = 2*backfillBatch + 7
	for i := range n {
		repo, dgst := fmt.Sprintf("r%d", i%3), digest.FromString(fmt.Sprint(i)).String()
		a, _ := json.Marshal(map[string]string{"v": values[i%len(values)]})
		exec(`INSERT INTO manifests (repository, digest, media_type, annotations, size, pushed_at) VALUES (?, ?, 'm', ?, ?, ?)`, repo, dgst, string(a), 100, i)
		exec(`INSERT INTO layers (repository, manifest_digest, position, kind, digest, media_type, size) VALUES (?, ?, 0, 'config', 'c', 'x', 10), (?, ?, 1, 'layer', 'l', 'x', ?)`,
			repo, dgst, repo, dgst, i%2-1) // sizes 10 and -1 or 0: only positive sizes count
		exec(`INSERT INTO annotations (repository, digest, key, value) VALUES (?, ?, 'v', ?)`, repo, dgst, values[i%len(values)])
	}
	db.Close()

	s, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open of a version 1 database: %v", err)
	}
	defer s.Close()
	var version, wrongSize, wrongKey int
	if err := s.read.QueryRowContext(ctx, `SELECT version FROM schema_version`).Scan(&version); err != nil || version != len(migrations) {
		t.Errorf("schema version = %d, %v; want %d", version, err, len(migrations))
	}
	if err := s.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM manifests WHERE total_size <> 110`).Scan(&wrongSize); err != nil || wrongSize != 0 {
		t.Errorf("%d manifests with a total size other than 110 (%v)", wrongSize, err)
	}
	rows, err := s.read.QueryContext(ctx, `SELECT value, sort_key FROM annotations`)
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for rows.Next() {
		var v, k string
		if err := rows.Scan(&v, &k); err != nil {
			t.Fatal(err)
		}
		seen++
		if k != annotations.SortKey(v) {
			wrongKey++
		}
	}
	rows.Close()
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
