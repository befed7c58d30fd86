package storetest

import (
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/cairn-dev/cairn/catalog"
)

// testRepositories lists repositories: sorted by byte order, only those
// holding a manifest.
func testRepositories(t *testing.T, s catalog.Store) {
	assertStrings(t, "Repositories of an empty store", repositories(t, s), nil)

	names := []string{"b", "a/x", "a", "B", "a-b", "library/alpine", "a_b", "z"}
	for i, n := range names {
		put(t, s, image(n, "m", at(i)), image(n, "n", at(i)))
	}
	if _, err := s.MarkPending(t.Context(), "only-pending"); err != nil {
		t.Fatalf("MarkPending: %v", err)
	}
	if err := s.DeleteManifest(t.Context(), "z", image("z", "m", at(0)).Digest); err != nil {
		t.Fatalf("DeleteManifest: %v", err)
	}
	if err := s.DeleteManifest(t.Context(), "z", image("z", "n", at(0)).Digest); err != nil {
		t.Fatalf("DeleteManifest: %v", err)
	}
	want := []string{"B", "a", "a-b", "a/x", "a_b", "b", "library/alpine"}
	assertStrings(t, "Repositories", repositories(t, s), want)
}

// replaceFixture fills repo "r" with three manifests and two tags, and repo
// "other" with one manifest of the same digest, and returns the manifests.
func replaceFixture(t *testing.T, s catalog.Store) (m1, m2, m3, o1 catalog.Manifest) {
	t.Helper()
	m1, m2, m3 = image("r", "1", at(1)), image("r", "2", at(2)), image("r", "3", at(3))
	o1 = image("other", "1", at(4))
	put(t, s, m1, m2, m3, o1)
	tag(t, s, m1, "t1")
	tag(t, s, m2, "t2")
	tag(t, s, o1, "t1")
	return m1, m2, m3, o1
}

// replace calls ReplaceRepository or fails the test.
func replace(t *testing.T, s catalog.Store, repo string, ms []catalog.Manifest, tags map[string]digest.Digest) {
	t.Helper()
	if err := s.ReplaceRepository(t.Context(), repo, ms, tags); err != nil {
		t.Fatalf("ReplaceRepository(%s): %v", repo, err)
	}
}

// testReplaceRepository replaces a repository's entries: new ones are added,
// missing ones removed, tags moved, push times of kept entries preserved,
// other repositories untouched.
func testReplaceRepository(t *testing.T, s catalog.Store) {
	m1, m2, m3, o1 := replaceFixture(t, s)

	m1b := m1
	m1b.MediaType = "application/vnd.docker.distribution.manifest.v2+json"
	m1b.Annotations = map[string]string{"reindexed": "yes"}
	m1b.Layers = m1.Layers[1:]
	m1b.PushedAt = at(90)
	m4 := image("r", "4", at(40))
	m4.Repository = "" // ReplaceRepository sets the repository itself.
	ref := referrer("r", "sig", m4.Digest, atSig, at(41))
	replace(t, s, "r", []catalog.Manifest{m1b, m4, ref}, map[string]digest.Digest{
		"t1": m4.Digest,
		"t3": m1.Digest,
		"t4": m1.Digest,
	})

	m4.Repository = "r"
	assertManifest(t, get(t, s, "r", m1.Digest), withTags(withPushedAt(m1b, m1.PushedAt), "t3", "t4"))
	assertManifest(t, get(t, s, "r", m4.Digest), withTags(m4, "t1"))
	assertManifests(t, "Referrers after replace", referrers(t, s, "r", m4.Digest, ""), []catalog.Manifest{ref})
	wantNoManifest(t, s, "r", m2.Digest)
	wantNoManifest(t, s, "r", m3.Digest)
	wantNoTag(t, s, "r", "t2")
	wantTag(t, s, "r", "t1", m4.Digest)
	wantTag(t, s, "r", "t3", m1.Digest)

	assertManifest(t, get(t, s, "other", o1.Digest), withTags(o1, "t1"))
	assertStrings(t, "Repositories", repositories(t, s), []string{"other", "r"})
	assertStats(t, s, catalog.Stats{Repositories: 2, Manifests: 4, Tags: 4})

	// Replacing with the same view changes nothing.
	replace(t, s, "r", []catalog.Manifest{m1b, m4, ref}, map[string]digest.Digest{"t1": m4.Digest, "t3": m1.Digest, "t4": m1.Digest})
	assertManifest(t, get(t, s, "r", m1.Digest), withTags(withPushedAt(m1b, m1.PushedAt), "t3", "t4"))
	assertStats(t, s, catalog.Stats{Repositories: 2, Manifests: 4, Tags: 4})

	// No tags at all removes every tag.
	replace(t, s, "r", []catalog.Manifest{m1b, m4, ref}, nil)
	wantNoTag(t, s, "r", "t1")
	assertManifest(t, get(t, s, "r", m1.Digest), withPushedAt(m1b, m1.PushedAt))
	assertStats(t, s, catalog.Stats{Repositories: 2, Manifests: 4, Tags: 1})
}

// testReplaceRepositoryNew replaces a repository the catalog does not hold.
func testReplaceRepositoryNew(t *testing.T, s catalog.Store) {
	m := image("new", "1", at(1))
	replace(t, s, "new", []catalog.Manifest{m}, map[string]digest.Digest{"latest": m.Digest})
	assertManifest(t, get(t, s, "new", m.Digest), withTags(m, "latest"))
	assertStrings(t, "Repositories", repositories(t, s), []string{"new"})
}

// testReplaceRepositoryEmpty replaces a repository with nothing: it is gone.
func testReplaceRepositoryEmpty(t *testing.T, s catalog.Store) {
	m1, m2, _, o1 := replaceFixture(t, s)
	replace(t, s, "r", nil, nil)
	wantNoManifest(t, s, "r", m1.Digest)
	wantNoManifest(t, s, "r", m2.Digest)
	wantNoTag(t, s, "r", "t1")
	assertStrings(t, "Repositories", repositories(t, s), []string{"other"})
	assertManifest(t, get(t, s, "other", o1.Digest), withTags(o1, "t1"))
	assertStats(t, s, catalog.Stats{Repositories: 1, Manifests: 1, Tags: 1})

	// Replacing an unknown repository with nothing is fine too.
	replace(t, s, "never", []catalog.Manifest{}, map[string]digest.Digest{})
}

// testReplaceRepositoryBadTag replaces a repository with a tag pointing
// outside the new view: ErrNotFound, and nothing changes.
func testReplaceRepositoryBadTag(t *testing.T, s catalog.Store) {
	m1, m2, m3, _ := replaceFixture(t, s)
	m4 := image("r", "4", at(40))
	err := s.ReplaceRepository(t.Context(), "r", []catalog.Manifest{m4}, map[string]digest.Digest{
		"t1": m4.Digest,
		"t2": m2.Digest, // not in the new view
	})
	wantNotFound(t, err, "ReplaceRepository with a dangling tag")

	wantNoManifest(t, s, "r", m4.Digest)
	assertManifest(t, get(t, s, "r", m1.Digest), withTags(m1, "t1"))
	assertManifest(t, get(t, s, "r", m2.Digest), withTags(m2, "t2"))
	assertManifest(t, get(t, s, "r", m3.Digest), m3)
	assertStats(t, s, catalog.Stats{Repositories: 2, Manifests: 4, Tags: 3})

	err = s.ReplaceRepository(t.Context(), "r", nil, map[string]digest.Digest{"t1": m1.Digest})
	wantNotFound(t, err, "ReplaceRepository with no manifests and a tag")
	assertStats(t, s, catalog.Stats{Repositories: 2, Manifests: 4, Tags: 3})
}

// testStats counts repositories, manifests and tags.
func testStats(t *testing.T, s catalog.Store) {
	assertStats(t, s, catalog.Stats{})
	a, b, c := image("r1", "a", at(0)), image("r1", "b", at(1)), image("r2", "a", at(2))
	put(t, s, a, b, c)
	tag(t, s, a, "x")
	tag(t, s, a, "y")
	tag(t, s, b, "z")
	tag(t, s, c, "x")
	if _, err := s.MarkPending(t.Context(), "r3"); err != nil {
		t.Fatalf("MarkPending: %v", err)
	}
	assertStats(t, s, catalog.Stats{Repositories: 2, Manifests: 3, Tags: 4})
	if err := s.DeleteManifest(t.Context(), "r1", a.Digest); err != nil {
		t.Fatalf("DeleteManifest: %v", err)
	}
	assertStats(t, s, catalog.Stats{Repositories: 2, Manifests: 2, Tags: 2})
	if err := s.DeleteManifest(t.Context(), "r2", c.Digest); err != nil {
		t.Fatalf("DeleteManifest: %v", err)
	}
	assertStats(t, s, catalog.Stats{Repositories: 1, Manifests: 1, Tags: 1})
}
