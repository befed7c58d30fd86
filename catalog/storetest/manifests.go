package storetest

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/catalog"
)

// testManifestRoundtrip stores manifests with every field set and reads
// them back unchanged.
func testManifestRoundtrip(t *testing.T, s catalog.Store) {
	img := image("library/alpine", "a", at(0))
	ref := referrer("library/alpine", "sig", img.Digest, atSig, at(1))
	index := catalog.Manifest{
		Repository:   "library/alpine",
		Digest:       dg("index"),
		MediaType:    mtIndex,
		ArtifactType: "application/vnd.example.bundle",
		Annotations:  map[string]string{"a": "1", "b": "", "c": "multi\nline"},
		Layers: []catalog.Layer{
			{Kind: "manifest", Digest: img.Digest, MediaType: mtImage, Size: img.Size, ArtifactType: mtConfig},
			{Kind: "manifest", Digest: ref.Digest, MediaType: mtImage, Size: ref.Size, Annotations: map[string]string{"platform": "linux/arm64"}},
		},
		Size:     9_000_000_000,
		PushedAt: at(2),
	}
	put(t, s, img, ref, index)
	for _, m := range []catalog.Manifest{img, ref, index} {
		assertManifest(t, get(t, s, m.Repository, m.Digest), m)
	}
}

// testManifestMinimal stores a manifest with only the required fields.
func testManifestMinimal(t *testing.T, s catalog.Store) {
	m := catalog.Manifest{Repository: "r", Digest: dg("minimal"), MediaType: mtImage, PushedAt: at(0)}
	put(t, s, m)
	got := get(t, s, "r", m.Digest)
	assertManifest(t, got, m)
	if got.Subject != "" || got.ArtifactType != "" || len(got.Annotations) != 0 || len(got.Layers) != 0 || len(got.Tags) != 0 {
		t.Errorf("minimal manifest read back as %+v", got)
	}
}

// testManifestNotFound reads manifests that are not there.
func testManifestNotFound(t *testing.T, s catalog.Store) {
	wantNoManifest(t, s, "nothing", dg("x"))
	put(t, s, image("r", "a", at(0)))
	wantNoManifest(t, s, "r", dg("x"))
	wantNoManifest(t, s, "r2", image("r", "a", at(0)).Digest)
}

// testIndexPushReplaces pushes a manifest again: fields, layers and
// annotations are replaced, the push time and the tags are kept.
func testIndexPushReplaces(t *testing.T, s catalog.Store) {
	first := image("r", "a", at(0))
	put(t, s, first)
	tag(t, s, first, "latest")

	second := first
	second.MediaType = "application/vnd.docker.distribution.manifest.v2+json"
	second.ArtifactType = "application/vnd.example.other"
	second.Annotations = map[string]string{"new": "value"}
	second.Layers = []catalog.Layer{{Kind: "config", Digest: dg("other config"), MediaType: mtConfig, Size: 7}}
	second.Subject = dg("some subject")
	second.Size = 999
	second.PushedAt = at(60)
	put(t, s, second)

	got := get(t, s, "r", first.Digest)
	assertManifest(t, got, withTags(withPushedAt(second, first.PushedAt), "latest"))
	wantTag(t, s, "r", "latest", first.Digest)
	assertStats(t, s, catalog.Stats{Repositories: 1, Manifests: 1, Tags: 1})

	// Replace again with no layers and no annotations at all.
	third := catalog.Manifest{Repository: "r", Digest: first.Digest, MediaType: mtImage, Size: 1, PushedAt: at(120)}
	put(t, s, third)
	assertManifest(t, get(t, s, "r", first.Digest), withTags(withPushedAt(third, first.PushedAt), "latest"))
	if got := referrers(t, s, "r", second.Subject, ""); len(got) != 0 {
		t.Errorf("subject of the replaced entry still has referrers %v", digests(got))
	}
}

// testIndexPushZeroPushedAt writes manifests without a push time, by
// IndexPush and by ReplaceRepository: the store records the time of the
// call, from the process's clock, to the microsecond it keeps (not
// rounded up past the call, nor a second off), and keeps it when the
// manifest is written again.
func testIndexPushZeroPushedAt(t *testing.T, s catalog.Store) {
	within := func(what string, got, before, after time.Time) {
		t.Helper()
		if got.Before(before.Truncate(time.Microsecond)) || got.After(after) {
			t.Errorf("%s: PushedAt = %v, want the time of the call (%v … %v)", what, got, before, after)
		}
		if got.Location() != time.UTC {
			t.Errorf("%s: PushedAt %v is not in UTC", what, got)
		}
	}
	m := image("r", "a", time.Time{})
	before := time.Now()
	put(t, s, m)
	after := time.Now()
	pushed := get(t, s, "r", m.Digest).PushedAt
	within("IndexPush", pushed, before, after)

	r := image("q", "b", time.Time{})
	before = time.Now()
	if err := s.ReplaceRepository(t.Context(), "q", []catalog.Manifest{r}, nil); err != nil {
		t.Fatalf("ReplaceRepository: %v", err)
	}
	after = time.Now()
	replaced := get(t, s, "q", r.Digest).PushedAt
	within("ReplaceRepository", replaced, before, after)

	time.Sleep(2 * time.Millisecond)
	put(t, s, m)
	if got := get(t, s, "r", m.Digest).PushedAt; !got.Equal(pushed) {
		t.Errorf("PushedAt after pushing again = %v, want the first push's %v", got, pushed)
	}
	if err := s.ReplaceRepository(t.Context(), "q", []catalog.Manifest{r}, nil); err != nil {
		t.Fatalf("ReplaceRepository: %v", err)
	}
	if got := get(t, s, "q", r.Digest).PushedAt; !got.Equal(replaced) {
		t.Errorf("PushedAt after replacing again = %v, want the first write's %v", got, replaced)
	}
}

// testSameDigestTwoRepositories stores the same digest in two repositories:
// the entries, their tags and their deletion are independent.
func testSameDigestTwoRepositories(t *testing.T, s catalog.Store) {
	a := image("one", "same", at(0))
	b := image("two", "same", at(5))
	b.Annotations = map[string]string{"only": "in two"}
	b.Layers = b.Layers[:1]
	put(t, s, a, b)
	tag(t, s, a, "latest")
	tag(t, s, b, "v1")

	assertManifest(t, get(t, s, "one", a.Digest), withTags(a, "latest"))
	assertManifest(t, get(t, s, "two", b.Digest), withTags(b, "v1"))
	wantNoTag(t, s, "one", "v1")
	wantNoTag(t, s, "two", "latest")

	if err := s.DeleteManifest(t.Context(), "one", a.Digest); err != nil {
		t.Fatalf("DeleteManifest: %v", err)
	}
	wantNoManifest(t, s, "one", a.Digest)
	wantNoTag(t, s, "one", "latest")
	assertManifest(t, get(t, s, "two", b.Digest), withTags(b, "v1"))
	assertStrings(t, "Repositories", repositories(t, s), []string{"two"})
}

// testDeleteManifest deletes manifests and their tags.
func testDeleteManifest(t *testing.T, s catalog.Store) {
	a := image("r", "a", at(0))
	b := image("r", "b", at(1))
	ref := referrer("r", "sig", a.Digest, atSig, at(2))
	put(t, s, a, b, ref)
	tag(t, s, a, "latest")
	tag(t, s, a, "v1")
	tag(t, s, b, "stable")

	if err := s.DeleteManifest(t.Context(), "r", ref.Digest); err != nil {
		t.Fatalf("DeleteManifest(referrer): %v", err)
	}
	if got := referrers(t, s, "r", a.Digest, ""); len(got) != 0 {
		t.Errorf("Referrers after deleting the referrer = %v, want none", digests(got))
	}
	if err := s.DeleteManifest(t.Context(), "r", a.Digest); err != nil {
		t.Fatalf("DeleteManifest: %v", err)
	}
	wantNoManifest(t, s, "r", a.Digest)
	wantNoTag(t, s, "r", "latest")
	wantNoTag(t, s, "r", "v1")
	wantTag(t, s, "r", "stable", b.Digest)
	assertManifest(t, get(t, s, "r", b.Digest), withTags(b, "stable"))
	assertStats(t, s, catalog.Stats{Repositories: 1, Manifests: 1, Tags: 1})

	wantNotFound(t, s.DeleteManifest(t.Context(), "r", a.Digest), "DeleteManifest of a deleted manifest")
	wantNotFound(t, s.DeleteManifest(t.Context(), "other", b.Digest), "DeleteManifest in another repository")

	// A deleted manifest can be put again, without its old tags.
	put(t, s, a)
	assertManifest(t, get(t, s, "r", a.Digest), a)

	if err := s.DeleteManifest(t.Context(), "r", b.Digest); err != nil {
		t.Fatalf("DeleteManifest: %v", err)
	}
	if err := s.DeleteManifest(t.Context(), "r", a.Digest); err != nil {
		t.Fatalf("DeleteManifest: %v", err)
	}
	assertStrings(t, "Repositories after deleting every manifest", repositories(t, s), nil)
	assertStats(t, s, catalog.Stats{})
}

// testManifestsBatch reads many manifests at once: each as Manifest reads
// it, missing and foreign nodes left out, duplicates once, across the
// batch size and across repositories.
func testManifestsBatch(t *testing.T, s catalog.Store) {
	var ms []catalog.Manifest
	for i := range 1203 {
		ms = append(ms, image(fmt.Sprintf("batch/r%d", i%3), fmt.Sprintf("m%d", i), at(i%50)))
	}
	put(t, s, ms...)
	for i, m := range ms[:40] {
		if i%7 == 0 {
			tag(t, s, m, fmt.Sprintf("t%d", i))
		}
	}
	var nodes []catalog.Node
	for _, m := range ms {
		nodes = append(nodes, node(m), node(m))
	}
	nodes = append(nodes,
		catalog.Node{Repository: "batch/r0", Digest: dg("not stored")},
		catalog.Node{Registry: "ghcr.io", Repository: ms[0].Repository, Digest: ms[0].Digest})
	got, err := s.Manifests(t.Context(), nodes)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(ms) {
		t.Fatalf("Manifests returned %d entries, want %d", len(got), len(ms))
	}
	byKey := map[catalog.Node]catalog.Manifest{}
	for _, m := range got {
		byKey[node(m)] = m
	}
	for _, m := range ms {
		b, ok := byKey[node(m)]
		if !ok {
			t.Fatalf("%s@%s missing", m.Repository, m.Digest)
		}
		if one := get(t, s, m.Repository, m.Digest); !reflect.DeepEqual(one, b) {
			t.Fatalf("batch read %+v\nManifest reads %+v", b, one)
		}
	}
	if got, err := s.Manifests(t.Context(), nil); err != nil || len(got) != 0 {
		t.Errorf("Manifests(nil) = %v, %v", got, err)
	}
}
