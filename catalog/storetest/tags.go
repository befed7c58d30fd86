package storetest

import (
	"sort"
	"testing"

	"github.com/cairn-dev/cairn/catalog"
)

// testTagAndResolve tags manifests, resolves the tags and moves one.
func testTagAndResolve(t *testing.T, s catalog.Store) {
	a := image("r", "a", at(0))
	b := image("r", "b", at(1))
	put(t, s, a, b)
	tag(t, s, a, "latest")
	tag(t, s, a, "v1")
	wantTag(t, s, "r", "latest", a.Digest)
	wantTag(t, s, "r", "v1", a.Digest)
	assertManifest(t, get(t, s, "r", a.Digest), withTags(a, "latest", "v1"))
	assertManifest(t, get(t, s, "r", b.Digest), b)

	// Move latest to b.
	tag(t, s, b, "latest")
	wantTag(t, s, "r", "latest", b.Digest)
	assertManifest(t, get(t, s, "r", a.Digest), withTags(a, "v1"))
	assertManifest(t, get(t, s, "r", b.Digest), withTags(b, "latest"))

	// Tagging again with the same digest is a no-op.
	tag(t, s, b, "latest")
	wantTag(t, s, "r", "latest", b.Digest)
	assertStats(t, s, catalog.Stats{Repositories: 1, Manifests: 2, Tags: 2})

	wantNoTag(t, s, "r", "missing")
	wantNoTag(t, s, "missing", "latest")
}

// testTagsSorted reads a manifest with many tags: they come back sorted by
// byte order, whatever the order they were set in.
func testTagsSorted(t *testing.T, s catalog.Store) {
	m := image("r", "a", at(0))
	put(t, s, m)
	tags := []string{"latest", "v1.10", "v1.9", "B", "a", "_x", "1.0", "Z-9", "v1.0-rc.1", "a.b", "a_b", "a-b"}
	for _, tg := range tags {
		tag(t, s, m, tg)
	}
	got := get(t, s, "r", m.Digest)
	want := append([]string(nil), tags...)
	sort.Strings(want)
	assertStrings(t, "Tags", got.Tags, want)
}

// testDeleteTag deletes tags, leaving their manifests.
func testDeleteTag(t *testing.T, s catalog.Store) {
	m := image("r", "a", at(0))
	put(t, s, m)
	tag(t, s, m, "latest")
	tag(t, s, m, "v1")

	if err := s.DeleteTag(t.Context(), "r", "latest"); err != nil {
		t.Fatalf("DeleteTag: %v", err)
	}
	wantNoTag(t, s, "r", "latest")
	wantTag(t, s, "r", "v1", m.Digest)
	assertManifest(t, get(t, s, "r", m.Digest), withTags(m, "v1"))
	assertStats(t, s, catalog.Stats{Repositories: 1, Manifests: 1, Tags: 1})

	wantNotFound(t, s.DeleteTag(t.Context(), "r", "latest"), "DeleteTag of a deleted tag")
	wantNotFound(t, s.DeleteTag(t.Context(), "r", "never"), "DeleteTag of an unknown tag")
	wantNotFound(t, s.DeleteTag(t.Context(), "other", "v1"), "DeleteTag in another repository")

	if err := s.DeleteTag(t.Context(), "r", "v1"); err != nil {
		t.Fatalf("DeleteTag: %v", err)
	}
	assertManifest(t, get(t, s, "r", m.Digest), m)
	assertStats(t, s, catalog.Stats{Repositories: 1, Manifests: 1, Tags: 0})
}
