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
	tag(t, s, "r", "latest", a.Digest)
	tag(t, s, "r", "v1", a.Digest)
	wantTag(t, s, "r", "latest", a.Digest)
	wantTag(t, s, "r", "v1", a.Digest)
	assertManifest(t, get(t, s, "r", a.Digest), withTags(a, "latest", "v1"))
	assertManifest(t, get(t, s, "r", b.Digest), b)

	// Move latest to b.
	tag(t, s, "r", "latest", b.Digest)
	wantTag(t, s, "r", "latest", b.Digest)
	assertManifest(t, get(t, s, "r", a.Digest), withTags(a, "v1"))
	assertManifest(t, get(t, s, "r", b.Digest), withTags(b, "latest"))

	// Tagging again with the same digest is a no-op.
	tag(t, s, "r", "latest", b.Digest)
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
		tag(t, s, "r", tg, m.Digest)
	}
	got := get(t, s, "r", m.Digest)
	want := append([]string(nil), tags...)
	sort.Strings(want)
	assertStrings(t, "Tags", got.Tags, want)
}

// testTagUnknownManifest tags digests that are not in the repository.
func testTagUnknownManifest(t *testing.T, s catalog.Store) {
	wantNotFound(t, s.Tag(t.Context(), "r", "latest", dg("nothing")), "Tag in an empty store")
	m := image("r", "a", at(0))
	put(t, s, m)
	wantNotFound(t, s.Tag(t.Context(), "r", "latest", dg("nothing")), "Tag of an unknown digest")
	wantNotFound(t, s.Tag(t.Context(), "other", "latest", m.Digest), "Tag of a digest held by another repository")
	wantNoTag(t, s, "r", "latest")
	wantNoTag(t, s, "other", "latest")

	// A failed move leaves the tag where it was.
	tag(t, s, "r", "latest", m.Digest)
	wantNotFound(t, s.Tag(t.Context(), "r", "latest", dg("nothing")), "Tag move to an unknown digest")
	wantTag(t, s, "r", "latest", m.Digest)
	assertStrings(t, "Repositories", repositories(t, s), []string{"r"})
}

// testDeleteTag deletes tags, leaving their manifests.
func testDeleteTag(t *testing.T, s catalog.Store) {
	m := image("r", "a", at(0))
	put(t, s, m)
	tag(t, s, "r", "latest", m.Digest)
	tag(t, s, "r", "v1", m.Digest)

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
