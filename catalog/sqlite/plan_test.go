package sqlite

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/cairn-dev/cairn/annotations"
	"github.com/cairn-dev/cairn/catalog"
	"github.com/cairn-dev/cairn/catalog/sqlquery"
	"github.com/cairn-dev/cairn/catalog/storetest"
)

// tableScan matches a plan line that reads a whole table without an index.
var tableScan = regexp.MustCompile(`^SCAN (m|d|fa|ft|xa|xt|s|l|t|a|layers|tags|annotations|manifests)$`)

// TestQueryPlans checks, on a few thousand artifacts, that the main shapes
// of the catalog's queries use the indexes meant for them, and that none
// reads a whole table without an index.
func TestQueryPlans(t *testing.T) {
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fill(t, s)

	filter := func(expr string) []annotations.Filter {
		f, err := annotations.ParseFilter(expr)
		if err != nil {
			t.Fatal(err)
		}
		return []annotations.Filter{f}
	}
	cursor := &catalog.Cursor{Value: "1704067200000000", Repository: "repo/05", Digest: "sha256:x"}
	artifacts := func(q catalog.Query, so catalog.Sort, after *catalog.Cursor) func() (sqlquery.Statement, error) {
		return func() (sqlquery.Statement, error) { return sqlquery.Artifacts(sqlquery.SQLite, q, so, 50, after) }
	}
	planned := func(q catalog.Query, so catalog.Sort, after *catalog.Cursor, p sqlquery.Plan) func() (sqlquery.Statement, error) {
		return func() (sqlquery.Statement, error) {
			return sqlquery.ArtifactsPlanned(sqlquery.SQLite, q, so, 50, after, p)
		}
	}
	lead := sqlquery.Plan{Drive: 0}
	byYear := catalog.Sort{Field: catalog.SortAnnotation, Key: "year"}
	yearCursor := &catalog.Cursor{Value: "n", Repository: "r", Digest: "d"}
	for _, c := range []struct {
		name string
		st   func() (sqlquery.Statement, error)
		want []string // plan lines that must appear
	}{
		{"pushed, first page", artifacts(catalog.Query{}, catalog.Sort{}, nil),
			[]string{"SCAN m USING INDEX manifests_pushed"}},
		{"pushed, next page", artifacts(catalog.Query{}, catalog.Sort{}, cursor),
			[]string{"SEARCH m USING INDEX manifests_pushed ((pushed_at,repository,digest)>(?,?,?))"}},
		{"pushed desc, next page", artifacts(catalog.Query{}, catalog.Sort{Desc: true}, cursor),
			[]string{"SEARCH m USING INDEX manifests_pushed ((pushed_at,repository,digest)<(?,?,?))"}},
		{"size desc, next page", artifacts(catalog.Query{}, catalog.Sort{Field: catalog.SortSize, Desc: true}, cursor),
			[]string{"SEARCH m USING INDEX manifests_total_size ((total_size,repository,digest)<(?,?,?))"}},
		{"repository prefix by repository", artifacts(catalog.Query{RepositoryPrefix: "repo/0"}, catalog.Sort{Field: catalog.SortRepository}, nil),
			[]string{"SEARCH m USING INDEX sqlite_autoindex_manifests_1 (repository>? AND repository<?)"}},
		// An annotation filter: checked per entry of the sort order, in
		// one search of an index of annotations...
		{"annotation equality, walk", artifacts(catalog.Query{Annotations: filter("name=n5")}, catalog.Sort{}, cursor),
			[]string{"SEARCH m USING INDEX manifests_pushed ((pushed_at,repository,digest)>(?,?,?))",
				"SEARCH fa EXISTS USING COVERING INDEX annotations_key_value (key=? AND value=? AND repository=? AND digest=?)"}},
		{"annotation range, walk", artifacts(catalog.Query{Annotations: filter("year>=2025")}, catalog.Sort{}, nil),
			[]string{"SCAN m USING INDEX manifests_pushed", "SEARCH fa EXISTS USING PRIMARY KEY (repository=? AND digest=? AND key=?)"}},
		// ...or read first from the index of the filter's key.
		{"annotation equality, led", planned(catalog.Query{Annotations: filter("name=n5")}, catalog.Sort{}, nil, lead),
			[]string{"SEARCH d USING COVERING INDEX annotations_key_value (key=? AND value=?)",
				"SEARCH m USING INDEX sqlite_autoindex_manifests_1 (repository=? AND digest=?)"}},
		{"annotation range, led", planned(catalog.Query{Annotations: filter("year>=2025")}, catalog.Sort{}, nil, lead),
			[]string{"SEARCH d USING INDEX annotations_key_sort (key=? AND sort_key>? AND sort_key<?)",
				"SEARCH d USING INDEX annotations_key_value (key=? AND value>?)"}},
		{"annotation prefix, led", planned(catalog.Query{Annotations: filter("name^=n1")}, catalog.Sort{}, nil, lead),
			[]string{"SEARCH d USING COVERING INDEX annotations_key_value (key=? AND value>? AND value<?)"}},
		{"by annotation, led", planned(catalog.Query{Annotations: filter("name=n5")}, byYear, yearCursor, lead),
			[]string{"SEARCH d USING COVERING INDEX annotations_key_value (key=? AND value=?)",
				"SEARCH s USING PRIMARY KEY (repository=? AND digest=? AND key=?)"}},
		{"tag", artifacts(catalog.Query{Tag: "t10"}, catalog.Sort{}, nil),
			[]string{"SEARCH ft USING INDEX tags_tag (tag=?)"}},
		{"subject", artifacts(catalog.Query{Subject: "sha256:abc"}, catalog.Sort{}, nil),
			[]string{"SEARCH m USING INDEX manifests_subject_any (subject=?)"}},
		{"by annotation, next page", artifacts(catalog.Query{}, catalog.Sort{Field: catalog.SortAnnotation, Key: "year"}, &catalog.Cursor{Value: "n", Repository: "r", Digest: "d"}),
			[]string{"SEARCH s USING COVERING INDEX annotations_key_sort (key=? AND (sort_key,repository,digest)>(?,?,?))"}},
		{"text", artifacts(catalog.Query{Text: "n5"}, catalog.Sort{}, nil),
			[]string{"SEARCH xa USING PRIMARY KEY (repository=? AND digest=?)", "SEARCH xt USING INDEX tags_digest (repository=? AND digest=?)"}},
		{"repository summaries", func() (sqlquery.Statement, error) {
			return sqlquery.RepositorySummaries(sqlquery.SQLite, "repo/", "repo/02", nil, 10)
		}, []string{"SEARCH t USING COVERING INDEX tags_digest (repository=?)"}},
		{"annotation values", func() (sqlquery.Statement, error) {
			return sqlquery.AnnotationValues(sqlquery.SQLite, nil, "year", catalog.Query{}, 10)
		}, []string{"SEARCH a USING COVERING INDEX annotations_key_value (key=?)"}},
		{"blob uses", func() (sqlquery.Statement, error) { return sqlquery.BlobUses(sqlquery.SQLite, "sha256:x", "", nil, 10) },
			[]string{"SEARCH l USING INDEX layers_digest (digest=?)", "SEARCH m USING INDEX manifests_digest (digest=?)"}},
		{"layers of a page", func() (sqlquery.Statement, error) {
			return sqlquery.Layers(sqlquery.SQLite, []catalog.Manifest{{Repository: "a", Digest: "b"}, {Repository: "c", Digest: "d"}}), nil
		}, []string{"SEARCH layers USING INDEX sqlite_autoindex_layers_1 (repository=? AND manifest_digest=?)"}},
	} {
		st, err := c.st()
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		lines := plan(t, s, st)
		for _, w := range c.want {
			found := false
			for _, l := range lines {
				found = found || l == w
			}
			if !found {
				t.Errorf("%s: plan lacks %q:\n%s", c.name, w, strings.Join(lines, "\n"))
			}
		}
		// A scan of a co-routine (a bounded walk's subquery) reads rows
		// the co-routine yields, not a table.
		coroutines := map[string]bool{}
		for _, l := range lines {
			if name, ok := strings.CutPrefix(l, "CO-ROUTINE "); ok {
				coroutines[name] = true
			}
		}
		for _, l := range lines {
			if tableScan.MatchString(l) && !coroutines[strings.TrimPrefix(l, "SCAN ")] {
				t.Errorf("%s: plan reads a whole table (%q):\n%s", c.name, l, strings.Join(lines, "\n"))
			}
		}
	}
}

// fill puts 4000 artifacts in 20 repositories, with tags and annotations.
func fill(t *testing.T, s *Store) {
	t.Helper()
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for r := range 20 {
		repo := fmt.Sprintf("repo/%02d", r)
		var ms []catalog.Manifest
		tags := map[string]digest.Digest{}
		for i := range 200 {
			d := digest.FromString(fmt.Sprintf("%s %d", repo, i))
			ms = append(ms, catalog.Manifest{
				Digest: d, MediaType: "m", Size: int64(i), TotalSize: int64(i * 7 % 1000),
				PushedAt:    base.Add(time.Duration(r*1000+i) * time.Second),
				Annotations: map[string]string{"year": fmt.Sprint(2000 + i%30), "name": fmt.Sprintf("n%d", i), "k": "v"},
				Layers:      []catalog.Layer{{Kind: "layer", Digest: digest.FromString(fmt.Sprint("l", i)), MediaType: "x", Size: 1}},
			})
			if i%10 == 0 {
				tags[fmt.Sprint("t", i)] = d
			}
		}
		if err := s.ReplaceRepository(t.Context(), repo, ms, tags); err != nil {
			t.Fatal(err)
		}
	}
}

// plan returns the detail lines of the query plan of st.
func plan(t *testing.T, s *Store, st sqlquery.Statement) []string {
	t.Helper()
	rows, err := s.read.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+st.SQL, st.Args...)
	if err != nil {
		t.Fatalf("EXPLAIN QUERY PLAN: %v", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		out = append(out, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestPlansAgree checks that every plan of the artifacts query answers
// alike, and that the store with its in-memory index answers as they do
// (see storetest.PlansAgree).
func TestPlansAgree(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds 3,000 artifacts")
	}
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "catalog.db"), InMemoryIndex())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	storetest.PlansAgree(t, s, sqlquery.SQLite, artifactRows(t.Context(), s.read))
}
