package storetest

import (
	"slices"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/cairn-dev/cairn/annotations"
	"github.com/cairn-dev/cairn/catalog"
)

// evil are strings that break SQL built by pasting values, or LIKE
// patterns used unescaped.
var evil = []string{
	"'; DROP TABLE manifests; --",
	"' OR '1'='1",
	"%",
	"_",
	`\`,
	`\%`,
	"a_c",
	"100%",
	`"; DROP TABLE annotations; --`,
	"ünï/日本",
	"*",
	"$1",
	"?",
}

// evilSpecs is a fixture whose repositories, tags, types and annotations
// are (some of) the evil strings, and look-alikes of them.
func evilSpecs() []spec {
	var specs []spec
	for i, e := range evil[:9] {
		specs = append(specs, spec{
			name: "evil" + itoa(i), repo: e, minute: i, totalSize: int64(i), tags: []string{e},
			artifactType: e, mediaType: e, annotations: map[string]string{"k": e, e: e},
		})
	}
	for i, r := range []string{"abc", "a%c", "100", "x"} {
		specs = append(specs, spec{
			name: "plain" + itoa(i), repo: r, minute: 100 + i, totalSize: 1, tags: []string{r},
			annotations: map[string]string{"k": r},
		})
	}
	return specs
}

// testQueryInjection runs the evil strings through every string field of
// Query, annotation filter keys and values, sort keys and cursors: the
// answers are exactly the matching artifacts (the reference matcher's),
// and every table is still there.
func testQueryInjection(t *testing.T, s catalog.Store) {
	f := load(t, s, evilSpecs())
	check := func(what string, q catalog.Query) {
		t.Helper()
		got := f.namesOf(artifacts(t, s, q, catalog.Sort{}, 1000, nil).Artifacts)
		want := []string{}
		for _, m := range f.all() {
			if matches(m, q) {
				want = append(want, f.nameOf(m))
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s %+v: got %q, want %q", what, q, got, want)
		}
	}
	matched := 0
	for _, e := range evil {
		check("Repository", catalog.Query{Repository: e})
		check("RepositoryPrefix", catalog.Query{RepositoryPrefix: e})
		check("ArtifactType", catalog.Query{ArtifactType: e})
		check("MediaType", catalog.Query{MediaType: e})
		check("Tag", catalog.Query{Tag: e})
		check("Subject", catalog.Query{Subject: digest.Digest(e)})
		check("Text", catalog.Query{Text: e})
		for _, op := range []annotations.Op{annotations.Eq, annotations.Ne, annotations.Prefix, annotations.Ge, annotations.Le, annotations.Gt, annotations.Lt} {
			check("filter on k", catalog.Query{Annotations: []annotations.Filter{{Key: "k", Op: op, Values: []string{e}}}})
			check("filter on an evil key", catalog.Query{Annotations: []annotations.Filter{{Key: e, Op: op, Values: []string{e}}}})
		}
		check("Eq with several values", catalog.Query{Annotations: []annotations.Filter{{Key: "k", Op: annotations.Eq, Values: []string{e, "x", e + "'"}}}})
		check("Exists", catalog.Query{Annotations: []annotations.Filter{{Key: e, Op: annotations.Exists}}})
		check("Absent", catalog.Query{Annotations: []annotations.Filter{{Key: e, Op: annotations.Absent}}})

		// Sorting by an evil key, and cursors holding evil strings.
		so := catalog.Sort{Field: catalog.SortAnnotation, Key: e}
		if got, want := f.namesOf(walk(t, s, catalog.Query{}, so, 2, nil)), f.namesOf(sorted(f.all(), so)); !slices.Equal(got, want) {
			t.Errorf("sort by %q: got %q, want %q", e, got, want)
		}
		artifacts(t, s, catalog.Query{}, so, 10, &catalog.Cursor{Value: e, Repository: e, Digest: digest.Digest(e)})
		artifacts(t, s, catalog.Query{}, so, 10, &catalog.Cursor{Missing: true, Repository: e, Digest: digest.Digest(e)})
		byRepo := catalog.Sort{Field: catalog.SortRepository}
		got := f.namesOf(artifacts(t, s, catalog.Query{}, byRepo, 1000, &catalog.Cursor{Value: e, Repository: e, Digest: digest.Digest(e)}).Artifacts)
		cursor := catalog.Manifest{Repository: e, Digest: digest.Digest(e)}
		var want []string
		for _, m := range sorted(f.all(), byRepo) {
			if compareIn(byRepo, cursor, m) < 0 {
				want = append(want, f.nameOf(m))
			}
		}
		if !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
			t.Errorf("by repository after %q: got %q, want %q", e, got, want)
		}

		got = f.namesOf(artifacts(t, s, catalog.Query{Repository: e}, catalog.Sort{}, 1000, nil).Artifacts)
		matched += len(got)
	}
	if matched != 9 {
		t.Errorf("Repository = each evil string matched %d artifacts in all, want 9 (one each of the first 9)", matched)
	}

	// Every table is still there, with everything in it.
	assertStats(t, s, catalog.Stats{Repositories: 13, Manifests: 13, Tags: 13})
	for _, m := range f.all() {
		assertManifest(t, get(t, s, m.Repository, m.Digest), m)
	}
	vs, err := s.AnnotationValues(t.Context(), "k", catalog.Query{}, 1000)
	if err != nil || len(vs) != 13 {
		t.Errorf("AnnotationValues(k) = %v, %v; want 13 values", vs, err)
	}
	if uses, err := s.BlobUses(t.Context(), dg("shared layer"), "", nil, 1000); err != nil || len(uses) != 13 {
		t.Errorf("BlobUses(shared layer) = %d uses, %v; want 13", len(uses), err)
	}
}
