package storetest

import (
	"fmt"
	"slices"
	"testing"

	"github.com/cairn-dev/cairn/annotations"
	"github.com/cairn-dev/cairn/catalog"
)

// sorts are the orders the sort tests walk.
var sorts = []catalog.Sort{
	{Field: catalog.SortPushed},
	{Field: catalog.SortPushed, Desc: true},
	{Field: catalog.SortRepository},
	{Field: catalog.SortRepository, Desc: true},
	{Field: catalog.SortSize},
	{Field: catalog.SortSize, Desc: true},
	{Field: catalog.SortAnnotation, Key: "year"},
	{Field: catalog.SortAnnotation, Key: "year", Desc: true},
	{Field: catalog.SortAnnotation, Key: "created"},
	{Field: catalog.SortAnnotation, Key: "score", Desc: true},
	{Field: catalog.SortAnnotation, Key: "nobody has it"},
}

// testArtifactsSortExplicit checks a few orders spelled out by hand.
func testArtifactsSortExplicit(t *testing.T, s catalog.Store) {
	f := load(t, s, querySpecs)
	for _, c := range []struct {
		sort catalog.Sort
		want []string
	}{
		{catalog.Sort{Field: catalog.SortPushed}, f.order},
		{catalog.Sort{Field: catalog.SortPushed, Desc: true}, reversed(f.order)},
		// Numbers by value (ties by repository: a%b before library/alpine),
		// then text; those without a year last, by repository then digest,
		// in either direction.
		{catalog.Sort{Field: catalog.SortAnnotation, Key: "year"},
			[]string{"alpine1", "pct", "alpine2", "busybox", "model", "alpineSig", "abc", "teamdash", "modelExtra", "teamx"}},
		{catalog.Sort{Field: catalog.SortAnnotation, Key: "year", Desc: true},
			[]string{"alpineSig", "model", "busybox", "alpine2", "pct", "alpine1", "teamx", "modelExtra", "teamdash", "abc"}},
		// Times by instant: alpine2's 01:30+02:00 is before alpine1's 00:00Z.
		{catalog.Sort{Field: catalog.SortAnnotation, Key: "created"},
			[]string{"alpine2", "alpine1", "pct", "abc", "alpineSig", "busybox", "teamdash", "model", "modelExtra", "teamx"}},
		{catalog.Sort{Field: catalog.SortAnnotation, Key: "score", Desc: true},
			[]string{"busybox", "model", "modelExtra"}},
		// Sizes, ties by repository: a%b < abc; library/alpine < team-x/y
		// < team/models-extra.
		{catalog.Sort{Field: catalog.SortSize},
			[]string{"teamx", "pct", "abc", "alpineSig", "alpine1", "teamdash", "modelExtra", "busybox", "alpine2", "model"}},
		{catalog.Sort{Field: catalog.SortRepository},
			[]string{"pct", "abc"}},
	} {
		got := f.namesOf(artifacts(t, s, catalog.Query{}, c.sort, len(c.want), nil).Artifacts)
		if !slices.Equal(got, c.want) {
			t.Errorf("sort %+v: got %q, want %q", c.sort, got, c.want)
		}
	}
}

// reversed returns a reversed copy of ss.
func reversed(ss []string) []string {
	out := slices.Clone(ss)
	slices.Reverse(out)
	return out
}

// testArtifactsPagination walks every order with several page sizes, with
// and without a filter: the pages together are the whole answer, in
// order, each artifact once, and the last page has no Next.
func testArtifactsPagination(t *testing.T, s catalog.Store) {
	f := load(t, s, querySpecs)
	for _, q := range []catalog.Query{{}, {Annotations: filters(t, "year")}, {RepositoryPrefix: "library/"}} {
		var want []catalog.Manifest
		for _, m := range f.all() {
			if matches(m, q) {
				want = append(want, m)
			}
		}
		for _, so := range sorts {
			ref := f.namesOf(sorted(want, so))
			for _, limit := range []int{1, 2, 3, 4, len(want), len(want) + 1, 1000} {
				got := f.namesOf(walk(t, s, q, so, limit, nil))
				if !slices.Equal(got, ref) {
					t.Errorf("query %+v, sort %+v, limit %d: got %q, want %q", q, so, limit, got, ref)
				}
			}
		}
	}
	// A page that ends exactly at the last artifact has no Next.
	p := artifacts(t, s, catalog.Query{Repository: "library/alpine"}, catalog.Sort{}, 3, nil)
	if len(p.Artifacts) != 3 || p.Next != nil {
		t.Errorf("page of all 3 artifacts: got %d, Next %+v; want 3 and no Next", len(p.Artifacts), p.Next)
	}
	p = artifacts(t, s, catalog.Query{Repository: "library/alpine"}, catalog.Sort{}, 2, nil)
	if len(p.Artifacts) != 2 || p.Next == nil {
		t.Errorf("page of 2 of 3 artifacts: got %d, Next %+v; want 2 and a Next", len(p.Artifacts), p.Next)
	}
	p = artifacts(t, s, catalog.Query{Repository: "nothing"}, catalog.Sort{}, 2, nil)
	if len(p.Artifacts) != 0 || p.Next != nil {
		t.Errorf("empty answer: got %d, Next %+v", len(p.Artifacts), p.Next)
	}
}

// testArtifactsPaginationWithInserts walks every order three at a time
// while artifacts are added before and after the cursor, and the
// artifact at the cursor deleted, between pages: every artifact present
// from the start and not deleted is seen exactly once, and what is seen
// is in order.
func testArtifactsPaginationWithInserts(t *testing.T, s catalog.Store) {
	load(t, s, querySpecs)
	n := 0
	for _, so := range sorts {
		start := artifacts(t, s, catalog.Query{}, catalog.Sort{}, 1000, nil).Artifacts
		deleted := map[string]bool{}
		var added []catalog.Manifest
		got := walk(t, s, catalog.Query{}, so, 3, func(last catalog.Manifest) {
			for _, early := range []bool{true, false} {
				n++
				sp := spec{name: "new" + itoa(n), repo: fmt.Sprintf("new/%d", n%4), minute: 1000 + n, totalSize: 1e6 + int64(n),
					annotations: map[string]string{"year": "99999", "created": "2099-01-01T00:00:00Z", "score": "1e9"}}
				if early {
					sp.minute, sp.totalSize = -1000-n, int64(n%2)
					sp.annotations = map[string]string{"year": "1", "created": "1999-01-01T00:00:00Z", "score": "-1e9"}
				}
				m := artifact(sp, "")
				put(t, s, m)
				added = append(added, m)
			}
			// The cursor's own artifact goes: the next page still starts after it.
			if err := s.DeleteManifest(t.Context(), last.Repository, last.Digest); err != nil {
				t.Fatalf("DeleteManifest: %v", err)
			}
			deleted[last.Repository+"@"+string(last.Digest)] = true
		})
		seen := map[string]int{}
		for i, m := range got {
			seen[m.Repository+"@"+string(m.Digest)]++
			if i > 0 && compareIn(so, got[i-1], m) >= 0 {
				t.Errorf("sort %+v: %s@%s seen after %s@%s, out of order", so, m.Repository, m.Digest, got[i-1].Repository, got[i-1].Digest)
			}
		}
		for key, c := range seen {
			if c > 1 {
				t.Errorf("sort %+v: %s seen %d times", so, key, c)
			}
		}
		for _, m := range start {
			key := m.Repository + "@" + string(m.Digest)
			if seen[key] != 1 && !deleted[key] {
				t.Errorf("sort %+v: %s, present from the start, seen %d times", so, key, seen[key])
			}
			// Put back what the walk deleted, for the next order.
			if deleted[key] {
				put(t, s, m)
			}
		}
		for _, m := range added {
			if !deleted[m.Repository+"@"+string(m.Digest)] {
				if err := s.DeleteManifest(t.Context(), m.Repository, m.Digest); err != nil {
					t.Fatalf("DeleteManifest: %v", err)
				}
			}
		}
		if len(added) == 0 {
			t.Errorf("sort %+v: the walk had a single page", so)
		}
	}
}

// testArtifactsComplete checks that the artifacts of a page are whole:
// annotations, layers, tags, subject and total size, as Manifest returns
// them.
func testArtifactsComplete(t *testing.T, s catalog.Store) {
	f := load(t, s, querySpecs)
	for _, so := range sorts {
		got := walk(t, s, catalog.Query{}, so, 4, nil)
		if len(got) != len(f.order) {
			t.Fatalf("sort %+v: %d artifacts, want %d", so, len(got), len(f.order))
		}
		for _, m := range got {
			want := f.byName[f.nameOf(m)]
			assertManifest(t, m, want)
			assertManifest(t, m, get(t, s, m.Repository, m.Digest))
		}
	}
	sig := artifacts(t, s, catalog.Query{ArtifactType: atSig}, catalog.Sort{}, 10, nil).Artifacts
	if len(sig) != 1 || sig[0].Subject != f.byName["alpine2"].Digest || sig[0].TotalSize != 50 || len(sig[0].Layers) != 3 {
		t.Errorf("signature artifact read back as %+v", sig)
	}
	a2 := artifacts(t, s, catalog.Query{Tag: "edge"}, catalog.Sort{}, 10, nil).Artifacts
	if len(a2) != 1 || !slices.Equal(a2[0].Tags, []string{"edge", "latest"}) || a2[0].Annotations["year"] != "2024" {
		t.Errorf("alpine2 read back as %+v", a2)
	}
}

// testArtifactsLimits passes limits outside [1, 1000]: the store clamps
// them instead of failing.
func testArtifactsLimits(t *testing.T, s catalog.Store) {
	f := load(t, s, querySpecs)
	for _, c := range []struct{ limit, want int }{{0, 1}, {-5, 1}, {1, 1}, {5000, len(f.order)}} {
		p := artifacts(t, s, catalog.Query{}, catalog.Sort{}, c.limit, nil)
		if len(p.Artifacts) != c.want {
			t.Errorf("limit %d: %d artifacts, want %d", c.limit, len(p.Artifacts), c.want)
		}
		if (c.want < len(f.order)) != (p.Next != nil) {
			t.Errorf("limit %d: Next = %+v", c.limit, p.Next)
		}
	}
	var bulk []catalog.Manifest
	for i := range 1100 - len(f.order) {
		bulk = append(bulk, artifact(spec{name: "bulk" + itoa(i), repo: "bulk", minute: 100 + i}, ""))
	}
	replace(t, s, "bulk", bulk, nil)
	p := artifacts(t, s, catalog.Query{}, catalog.Sort{}, 1_000_000, nil)
	if len(p.Artifacts) != 1000 || p.Next == nil {
		t.Errorf("limit 1000000 over 1100 artifacts: %d, Next %+v; want 1000 and a Next", len(p.Artifacts), p.Next)
	}
	if got := f.namesOf(walk(t, s, catalog.Query{}, catalog.Sort{Desc: true}, 1000, nil)); len(got) != 1100 {
		t.Errorf("walk of 1100 artifacts in pages of 1000: %d", len(got))
	}
}

// testArtifactsBadInput passes queries the store cannot answer: errors,
// not panics or garbage.
func testArtifactsBadInput(t *testing.T, s catalog.Store) {
	load(t, s, querySpecs)
	m := artifact(querySpecs[0], "")
	bad := []struct {
		name  string
		q     catalog.Query
		sort  catalog.Sort
		after *catalog.Cursor
	}{
		{"unknown sort field", catalog.Query{}, catalog.Sort{Field: 99}, nil},
		{"pushed cursor not a number", catalog.Query{}, catalog.Sort{}, &catalog.Cursor{Value: "x", Repository: m.Repository, Digest: m.Digest}},
		{"size cursor not a number", catalog.Query{}, catalog.Sort{Field: catalog.SortSize}, &catalog.Cursor{Value: "'; --", Repository: m.Repository, Digest: m.Digest}},
		{"= without values", catalog.Query{Annotations: []annotations.Filter{{Key: "year", Op: annotations.Eq}}}, catalog.Sort{}, nil},
		{"range without value", catalog.Query{Annotations: []annotations.Filter{{Key: "year", Op: annotations.Ge}}}, catalog.Sort{}, nil},
		{"range with two values", catalog.Query{Annotations: []annotations.Filter{{Key: "year", Op: annotations.Lt, Values: []string{"1", "2"}}}}, catalog.Sort{}, nil},
		{"unknown operator", catalog.Query{Annotations: []annotations.Filter{{Key: "year", Op: 99, Values: []string{"1"}}}}, catalog.Sort{}, nil},
		{"invalid UTF-8", catalog.Query{Repository: "a\xff"}, catalog.Sort{}, nil},
		{"invalid UTF-8 in a filter", catalog.Query{Annotations: []annotations.Filter{{Key: "year", Op: annotations.Ge, Values: []string{"\xc3"}}}}, catalog.Sort{}, nil},
		{"NUL", catalog.Query{Text: "a\x00b"}, catalog.Sort{}, nil},
	}
	for _, c := range bad {
		if p, err := s.Artifacts(t.Context(), c.q, c.sort, 10, c.after); err == nil {
			t.Errorf("%s: no error, %d artifacts", c.name, len(p.Artifacts))
		}
	}
	// The store still answers.
	if got := artifacts(t, s, catalog.Query{}, catalog.Sort{}, 1000, nil).Artifacts; len(got) != len(querySpecs) {
		t.Errorf("after bad queries: %d artifacts, want %d", len(got), len(querySpecs))
	}
}
