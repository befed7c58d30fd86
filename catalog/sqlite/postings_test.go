package sqlite

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/opencontainers/go-digest"

	"github.com/cairn-dev/cairn/annotations"
	"github.com/cairn-dev/cairn/catalog"
	"github.com/cairn-dev/cairn/catalog/storetest"
)

// TestIndexAgreesWithSQL checks the in-memory index against SQL on one
// database: a store with the index and one without (as another process
// would open it) answer random queries alike, page by page, with their
// facets; then again after the other store has deleted, tagged, promoted,
// signed and replaced artifacts behind the index's back, and after the
// change log was pruned under it.
func TestIndexAgreesWithSQL(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds 2,000 artifacts")
	}
	ctx := t.Context()
	defer func(n int64) { pruneEvery = n }(pruneEvery)
	pruneEvery = 500 // the index prunes the log as it goes
	path := filepath.Join(t.TempDir(), "catalog.db")
	ix, err := Open(ctx, path, InMemoryIndex())
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	sq, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer sq.Close()
	storetest.Seed(t, ix, 2000, storetest.BenchSeed)
	if ix.index(ctx) == nil {
		t.Fatal("the index is not answering: the comparison would prove nothing")
	}

	r := rand.New(rand.NewPCG(7, 9))
	compareStores(t, "seeded", r, ix, sq, 250)

	// Writes by the store without the index: what another process does.
	all := listAll(t, sq)
	for i, m := range all[:300] {
		switch i % 6 {
		case 0:
			if err := sq.DeleteManifest(ctx, m.Repository, m.Digest); err != nil {
				t.Fatal(err)
			}
		case 1:
			if err := sq.IndexPush(ctx, m, "moved-"+strconv.Itoa(i%7), 0); err != nil {
				t.Fatal(err)
			}
		case 2:
			vis := []catalog.Visibility{catalog.Staged, catalog.Private, catalog.Unlisted, catalog.Public}[i%4]
			if err := sq.SetVisibility(ctx, m.Repository, []digest.Digest{m.Digest}, vis); err != nil {
				t.Fatal(err)
			}
		case 3:
			sig := catalog.Signature{Manifest: digest.FromString(fmt.Sprint("sig", i)), Form: "referrer", Verified: i%2 == 1, SignedAt: time.Now()}
			if err := sq.SetSignatures(ctx, m.Repository, m.Digest, []catalog.Signature{sig}); err != nil {
				t.Fatal(err)
			}
		case 4:
			n := m
			n.Digest = digest.FromString(fmt.Sprint("new", i))
			n.Owner = []string{"ana", "ben"}[i%2]
			n.Visibility = catalog.Staged
			n.PushedAt = time.Time{}
			n.Annotations = map[string]string{"org.example.year": strconv.Itoa(2000 + i%30), "org.example.fresh": "yes"}
			if err := sq.IndexPush(ctx, n, "fresh", 0); err != nil {
				t.Fatal(err)
			}
		case 5:
			if len(m.Tags) > 0 {
				if err := sq.DeleteTag(ctx, m.Repository, m.Tags[0]); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	repo := all[301].Repository
	if err := sq.ReplaceRepository(ctx, repo, []catalog.Manifest{all[301]}, map[string]digest.Digest{"only": all[301].Digest}); err != nil {
		t.Fatal(err)
	}
	compareStores(t, "after writes elsewhere", r, ix, sq, 250)
	var logged int64
	if err := sq.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM changes`).Scan(&logged); err != nil || logged >= 1000 {
		t.Errorf("the change log holds %d changes (%v): the index does not prune it", logged, err)
	}

	// The log pruned under the index (by a process that should not have):
	// the index notices the gap and reads the tables again.
	for _, m := range all[400:420] {
		if err := sq.DeleteManifest(ctx, m.Repository, m.Digest); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := sq.write.ExecContext(ctx, `DELETE FROM changes`); err != nil {
		t.Fatal(err)
	}
	if err := sq.DeleteManifest(ctx, all[421].Repository, all[421].Digest); err != nil {
		t.Fatal(err)
	}
	compareStores(t, "after the log was pruned", r, ix, sq, 100)
	for !ix.postings.ready.Load() {
		time.Sleep(time.Millisecond) // read again in the background
	}
	if ix.index(ctx) == nil {
		t.Fatal("the index did not come back after the log was pruned")
	}
	compareStores(t, "read again after the log was pruned", r, ix, sq, 100)
}

// listAll returns every artifact of s, oldest first.
func listAll(t *testing.T, s *Store) []catalog.Manifest {
	t.Helper()
	var out []catalog.Manifest
	var after *catalog.Cursor
	for {
		page, err := s.Artifacts(t.Context(), catalog.Query{}, catalog.Sort{}, 1000, after)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, page.Artifacts...)
		if page.Next == nil {
			return out
		}
		after = page.Next
	}
}

// compareStores runs n random queries on both stores.
func compareStores(t *testing.T, stage string, r *rand.Rand, ix, sq *Store, n int) {
	t.Helper()
	ctx := t.Context()
	g := newQueryGen(t, sq, r)
	for i := range n {
		q, so := g.query(), g.sort()
		limit := 1 + r.IntN(30)
		var after *catalog.Cursor
		for page := range 4 {
			name := fmt.Sprintf("%s: query %d %+v, sort %+v, limit %d, page %d", stage, i, q, so, limit, page+1)
			want, werr := sq.Artifacts(ctx, q, so, limit, after)
			got, gerr := ix.Artifacts(ctx, q, so, limit, after)
			if (werr != nil) != (gerr != nil) {
				t.Fatalf("%s: SQL error %v, index error %v", name, werr, gerr)
			}
			if werr != nil {
				break
			}
			if !reflect.DeepEqual(keysOf(got.Artifacts), keysOf(want.Artifacts)) || !reflect.DeepEqual(got.Next, want.Next) {
				t.Fatalf("%s:\nindex %v next %+v\nSQL   %v next %+v", name, keysOf(got.Artifacts), got.Next, keysOf(want.Artifacts), want.Next)
			}
			if !reflect.DeepEqual(got.Artifacts, want.Artifacts) {
				t.Fatalf("%s: the same artifacts with other details", name)
			}
			if want.Next == nil {
				break
			}
			after = want.Next
		}
		flimit := 1 + r.IntN(12)
		wk, werr := sq.AnnotationKeys(ctx, q, flimit)
		gk, gerr := ix.AnnotationKeys(ctx, q, flimit)
		if werr != nil || gerr != nil || !reflect.DeepEqual(gk, wk) {
			t.Fatalf("%s: query %d %+v: keys: index %v (%v), SQL %v (%v)", stage, i, q, gk, gerr, wk, werr)
		}
		prefix, from := "", ""
		if name := g.pick(g.repos); r.IntN(2) == 0 {
			prefix = name[:r.IntN(min(len(name), 6)+1)]
		}
		if r.IntN(3) == 0 {
			from = g.pick(g.repos)
		}
		wr, werr := sq.RepositorySummaries(ctx, prefix, from, q.Viewer, flimit)
		gr, gerr := ix.RepositorySummaries(ctx, prefix, from, q.Viewer, flimit)
		if werr != nil || gerr != nil || !reflect.DeepEqual(gr, wr) {
			t.Fatalf("%s: repositories %q after %q, viewer %+v: index %+v (%v), SQL %+v (%v)", stage, prefix, from, q.Viewer, gr, gerr, wr, werr)
		}
		key := g.key()
		wv, werr := sq.AnnotationValues(ctx, key, q, flimit)
		gv, gerr := ix.AnnotationValues(ctx, key, q, flimit)
		if werr != nil || gerr != nil || !reflect.DeepEqual(gv, wv) {
			t.Fatalf("%s: query %d %+v: values of %s: index %v (%v), SQL %v (%v)", stage, i, q, key, gv, gerr, wv, werr)
		}
	}
}

func keysOf(ms []catalog.Manifest) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Repository + "@" + string(m.Digest)
	}
	return out
}

// queryGen makes random queries from what a store holds.
type queryGen struct {
	r                                   *rand.Rand
	repos, types, media, tags, subjects []string
	values                              map[string][]string
	keys                                []string
	pushed                              []time.Time
}

func newQueryGen(t *testing.T, s *Store, r *rand.Rand) *queryGen {
	g := &queryGen{r: r, values: map[string][]string{}}
	seen := map[string]bool{}
	addTo := func(list *[]string, v string) {
		if v != "" && !seen[fmt.Sprint(len(*list), v)] && !slices.Contains(*list, v) {
			*list = append(*list, v)
		}
	}
	for _, m := range listAll(t, s) {
		addTo(&g.repos, m.Repository)
		addTo(&g.types, m.ArtifactType)
		addTo(&g.media, m.MediaType)
		addTo(&g.subjects, string(m.Subject))
		for _, tag := range m.Tags {
			addTo(&g.tags, tag)
		}
		for k, v := range m.Annotations {
			if _, ok := g.values[k]; !ok {
				g.keys = append(g.keys, k)
			}
			if len(g.values[k]) < 200 && !slices.Contains(g.values[k], v) {
				g.values[k] = append(g.values[k], v)
			}
		}
		g.pushed = append(g.pushed, m.PushedAt)
	}
	slices.Sort(g.keys)
	g.keys = append(g.keys, "org.example.none")
	return g
}

func (g *queryGen) pick(list []string) string {
	if len(list) == 0 || g.r.IntN(10) == 0 {
		return "no-such-" + strconv.Itoa(g.r.IntN(3))
	}
	return list[g.r.IntN(len(list))]
}

func (g *queryGen) key() string { return g.keys[g.r.IntN(len(g.keys))] }

func (g *queryGen) value(key string) string {
	vs := g.values[key]
	switch {
	case len(vs) == 0 || g.r.IntN(8) == 0:
		return []string{"2020", "0.5", "2024-06-01T00:00:00Z", "m", "train", "-3"}[g.r.IntN(6)]
	default:
		return vs[g.r.IntN(len(vs))]
	}
}

func (g *queryGen) query() catalog.Query {
	var q catalog.Query
	r := g.r
	chance := func(p int) bool { return r.IntN(100) < p }
	if chance(10) {
		q.Repository = g.pick(g.repos)
	}
	if chance(15) {
		name := g.pick(g.repos)
		q.RepositoryPrefix = name[:1+r.IntN(min(len(name), 6))]
	}
	if chance(15) {
		q.ArtifactType = g.pick(g.types)
	}
	if chance(8) {
		q.MediaType = g.pick(g.media)
	}
	if chance(10) {
		q.Tag = g.pick(g.tags)
	}
	if chance(5) {
		q.Subject = digest.Digest(g.pick(g.subjects))
	}
	if chance(15) {
		b := chance(50)
		q.HasSubject = &b
	}
	if chance(10) {
		b := chance(50)
		q.Signed = &b
	}
	if chance(10) && len(g.pushed) > 0 {
		q.PushedAfter = g.pushed[r.IntN(len(g.pushed))]
	}
	if chance(10) && len(g.pushed) > 0 {
		q.PushedBefore = g.pushed[r.IntN(len(g.pushed))].Add(time.Duration(r.IntN(3)) * time.Microsecond)
	}
	for range r.IntN(4) {
		k := g.key()
		f := annotations.Filter{Key: k, Op: annotations.Op(r.IntN(int(annotations.Lt) + 1))}
		switch f.Op {
		case annotations.Exists, annotations.Absent:
		case annotations.Eq:
			for range 1 + r.IntN(3) {
				f.Values = append(f.Values, g.value(k))
			}
		case annotations.Prefix:
			v := g.value(k)
			f.Values = []string{v[:r.IntN(len(v)+1)]}
		default:
			f.Values = []string{g.value(k)}
		}
		q.Annotations = append(q.Annotations, f)
	}
	if chance(15) {
		q.Text = g.text()
	}
	if chance(20) {
		q.Viewer = g.viewer()
	}
	return q
}

// text returns a piece of a value, repository name or tag, its ASCII
// letters' case changed at random, or a string with LIKE's wildcards.
func (g *queryGen) text() string {
	r := g.r
	var s string
	switch r.IntN(5) {
	case 0:
		s = g.pick(g.repos)
	case 1:
		s = g.pick(g.tags)
	case 2:
		return []string{"%", "_", "\\", "a%b", "ü", "Ü", "x_y", "100%"}[r.IntN(8)]
	default:
		k := g.key()
		s = g.value(k)
	}
	if len(s) > 3 {
		i := r.IntN(len(s) - 2)
		s = s[i : i+1+r.IntN(min(len(s)-i, 12))]
	}
	b := []byte(s)
	for i, c := range b {
		if r.IntN(2) == 0 && 'a' <= c && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	if !utf8.Valid(b) {
		return "a"
	}
	return string(b)
}

func (g *queryGen) viewer() *catalog.Viewer {
	r := g.r
	v := &catalog.Viewer{User: []string{"", "ana", "ben", "cy"}[r.IntN(4)], ByDigest: r.IntN(4) == 0}
	set := func() catalog.RepoSet {
		var s catalog.RepoSet
		switch r.IntN(4) {
		case 1:
			name := g.pick(g.repos)
			s.Prefixes = []string{name[:1+r.IntN(min(len(name), 4))]}
		case 2:
			s.Names = []string{g.pick(g.repos), g.pick(g.repos)}
		case 3:
			s.Prefixes = []string{""}
			name := g.pick(g.repos)
			s.Except = []string{name[:1+r.IntN(min(len(name), 4))]}
		}
		return s
	}
	v.Admin, v.Read, v.Public = set(), set(), set()
	return v
}

func (g *queryGen) sort() catalog.Sort {
	s := catalog.Sort{Field: catalog.SortField(g.r.IntN(4)), Desc: g.r.IntN(2) == 0}
	if s.Field == catalog.SortAnnotation {
		s.Key = g.key()
	}
	return s
}

// TestTrimChangeLog checks that a store opened to trim the change log
// (a server without the in-memory index) empties it, and that an index in
// another process then reads the tables again rather than miss changes.
func TestTrimChangeLog(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "catalog.db")
	ix, err := Open(ctx, path, InMemoryIndex())
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	put := func(s *Store, name string) {
		m := catalog.Manifest{Repository: "r", Digest: digest.FromString(name), MediaType: "x", Annotations: map[string]string{"k": name}}
		if err := s.IndexPush(ctx, m, "", 0); err != nil {
			t.Fatal(err)
		}
	}
	put(ix, "one")
	ix.index(ctx)
	trimmer, err := Open(ctx, path, TrimChangeLog())
	if err != nil {
		t.Fatal(err)
	}
	defer trimmer.Close()
	put(trimmer, "two")
	var logged int
	if err := trimmer.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM changes`).Scan(&logged); err != nil {
		t.Fatal(err)
	}
	if logged != 1 {
		t.Fatalf("change log holds %d rows after the trim and one write, want 1", logged)
	}
	if err := trimmer.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := Open(ctx, path, TrimChangeLog()) // trims at open
	if err != nil {
		t.Fatal(err)
	}
	if err := again.Close(); err != nil {
		t.Fatal(err)
	}
	put(ix, "three") // the index finds a gap before this one
	for range 2 {
		ix.index(ctx)
		for !ix.postings.ready.Load() {
			time.Sleep(time.Millisecond)
		}
	}
	cs, err := ix.AnnotationValues(ctx, "k", catalog.Query{}, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 3 || ix.index(ctx) == nil {
		t.Fatalf("values of k = %v (index answering: %v), want one, two and three from the index", cs, ix.index(ctx) != nil)
	}
}
