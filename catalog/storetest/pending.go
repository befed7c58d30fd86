package storetest

import (
	"testing"

	"github.com/cairn-dev/cairn/catalog"
)

// mark calls MarkPending or fails the test.
func mark(t *testing.T, s catalog.Store, repo string) int64 {
	t.Helper()
	id, err := s.MarkPending(t.Context(), repo)
	if err != nil {
		t.Fatalf("MarkPending(%s): %v", repo, err)
	}
	return id
}

// testPending marks and clears pending repositories.
func testPending(t *testing.T, s catalog.Store) {
	assertStrings(t, "Pending of an empty store", pending(t, s), nil)

	b1 := mark(t, s, "b")
	a1 := mark(t, s, "a")
	a2 := mark(t, s, "a")
	c1 := mark(t, s, "c")
	ids := map[int64]bool{b1: true, a1: true, a2: true, c1: true}
	if len(ids) != 4 {
		t.Fatalf("MarkPending returned ids %d %d %d %d, want distinct ones", b1, a1, a2, c1)
	}
	assertStrings(t, "Pending", pending(t, s), []string{"a", "b", "c"})

	clearMark := func(id int64) {
		t.Helper()
		if err := s.ClearPending(t.Context(), id); err != nil {
			t.Fatalf("ClearPending(%d): %v", id, err)
		}
	}
	clearMark(a1)
	assertStrings(t, "Pending after clearing one mark of a", pending(t, s), []string{"a", "b", "c"})
	clearMark(a2)
	assertStrings(t, "Pending after clearing both marks of a", pending(t, s), []string{"b", "c"})
	// Clearing a mark twice, or one that never existed, is not an error.
	clearMark(a2)
	clearMark(a2 + b1 + c1 + 1000)

	mark(t, s, "c")
	if err := s.ClearPendingRepository(t.Context(), "c"); err != nil {
		t.Fatalf("ClearPendingRepository: %v", err)
	}
	assertStrings(t, "Pending after clearing c", pending(t, s), []string{"b"})
	if err := s.ClearPendingRepository(t.Context(), "never"); err != nil {
		t.Fatalf("ClearPendingRepository of an unmarked repository: %v", err)
	}
	// Pending marks are independent of the catalog's entries.
	put(t, s, image("b", "1", at(0)))
	if err := s.DeleteManifest(t.Context(), "b", image("b", "1", at(0)).Digest); err != nil {
		t.Fatalf("DeleteManifest: %v", err)
	}
	assertStrings(t, "Pending after changes to b", pending(t, s), []string{"b"})
	clearMark(b1)
	assertStrings(t, "Pending at the end", pending(t, s), nil)
}

// testPendingIDsNotReused checks that a cleared mark's id is not handed out
// again, so that a late ClearPending cannot remove a newer mark.
func testPendingIDsNotReused(t *testing.T, s catalog.Store) {
	seen := map[int64]bool{}
	for i := 0; i < 5; i++ {
		id := mark(t, s, "r")
		if seen[id] {
			t.Fatalf("MarkPending reused id %d", id)
		}
		seen[id] = true
		if err := s.ClearPending(t.Context(), id); err != nil {
			t.Fatalf("ClearPending: %v", err)
		}
	}
	assertStrings(t, "Pending", pending(t, s), nil)
}

// testIndexPush records pushes with and without a tag and a pending mark.
func testIndexPush(t *testing.T, s catalog.Store) {
	ctx := t.Context()
	m1 := image("r", "one", at(1))
	m2 := image("r", "two", at(2))

	id := mark(t, s, "r")
	other := mark(t, s, "r")
	if err := s.IndexPush(ctx, m1, "latest", id); err != nil {
		t.Fatalf("IndexPush: %v", err)
	}
	assertManifest(t, get(t, s, "r", m1.Digest), withTags(m1, "latest"))
	assertStrings(t, "Pending after one of two pushes", pending(t, s), []string{"r"})

	// By digest, without a mark: the tag stays where it was.
	if err := s.IndexPush(ctx, m2, "", 0); err != nil {
		t.Fatalf("IndexPush without a tag: %v", err)
	}
	wantTag(t, s, "r", "latest", m1.Digest)
	assertManifest(t, get(t, s, "r", m2.Digest), m2)

	// A tag pushed again moves.
	if err := s.IndexPush(ctx, m2, "latest", other); err != nil {
		t.Fatalf("IndexPush moving a tag: %v", err)
	}
	wantTag(t, s, "r", "latest", m2.Digest)
	assertStrings(t, "Pending after both pushes", pending(t, s), nil)
	assertStats(t, s, catalog.Stats{Repositories: 1, Manifests: 2, Tags: 1})
}
