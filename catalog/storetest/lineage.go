package storetest

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/cairn-dev/cairn/annotations"
	"github.com/cairn-dev/cairn/catalog"
)

// derived returns an image in repo, made from the references refs
// (annotations.DerivedFrom).
func derived(repo, name string, refs ...string) catalog.Manifest {
	m := image(repo, name, at(1))
	m.Annotations[annotations.DerivedFrom] = strings.Join(refs, ", ")
	return m
}

// ref returns the derived-from reference of m.
func ref(m catalog.Manifest) string { return m.Repository + "@" + m.Digest.String() }

// node returns the lineage node of m.
func node(m catalog.Manifest) catalog.Node {
	return catalog.Node{Repository: m.Repository, Digest: m.Digest}
}

// lineage walks from root or fails the test, and returns the edges as
// "child -kind-> parent" with short names of the digests.
func lineage(t *testing.T, s catalog.Store, names map[digest.Digest]string, root catalog.Node, dir catalog.Direction, depth int) []string {
	t.Helper()
	es, err := s.Lineage(t.Context(), root, dir, depth)
	if err != nil {
		t.Fatalf("Lineage(%v, %v, %d): %v", root, dir, depth, err)
	}
	short := func(n catalog.Node) string {
		name, ok := names[n.Digest]
		if !ok {
			name = n.Digest.String()
		}
		if n.Registry != "" {
			return n.Registry + "/" + n.Repository + "@" + name
		}
		return name
	}
	out := []string{}
	for _, e := range es {
		out = append(out, fmt.Sprintf("%s -%s-> %s", short(e.Child), e.Kind, short(e.Parent)))
	}
	slices.Sort(out)
	return out
}

// testLineage builds a paper database, embeddings derived from it, a
// cluster cache attached to them and a signature on the cache, and walks
// the graph both ways, bounded and not.
func testLineage(t *testing.T, s catalog.Store) {
	db := image("abstracts/neurips", "db", at(1))
	emb := derived("abstracts/neurips-embeddings", "emb", ref(db))
	cache := referrer("abstracts/neurips-embeddings", "cache", emb.Digest, "application/vnd.example.clusters", at(3))
	sig := referrer("abstracts/neurips-embeddings", "sig", cache.Digest, "application/vnd.dev.cosign.artifact.sig.v1+json", at(4))
	put(t, s, db, emb, cache, sig)
	names := map[digest.Digest]string{db.Digest: "db", emb.Digest: "emb", cache.Digest: "cache", sig.Digest: "sig"}

	up := lineage(t, s, names, node(sig), catalog.Up, 0)
	assertStrings(t, "upward from the signature", up, []string{
		"cache -subject-> emb", "emb -derived-from-> db", "sig -subject-> cache"})
	down := lineage(t, s, names, node(db), catalog.Down, 0)
	assertStrings(t, "downward from the database", down, up)
	assertStrings(t, "downward from the database, depth 1", lineage(t, s, names, node(db), catalog.Down, 1),
		[]string{"emb -derived-from-> db"})
	assertStrings(t, "upward from the signature, depth 2", lineage(t, s, names, node(sig), catalog.Up, 2),
		[]string{"cache -subject-> emb", "sig -subject-> cache"})
	assertStrings(t, "upward from the database", lineage(t, s, names, node(db), catalog.Up, 0), []string{})
	assertStrings(t, "downward from the signature", lineage(t, s, names, node(sig), catalog.Down, 0), []string{})
	assertStrings(t, "an unknown node", lineage(t, s, names, catalog.Node{Repository: "x", Digest: dg("nothing")}, catalog.Down, 0), []string{})

	// Deleting the cache takes its edge with it; the signature's edge to
	// it stays until the signature goes (it names the cache's digest).
	if err := s.DeleteManifest(t.Context(), cache.Repository, cache.Digest); err != nil {
		t.Fatal(err)
	}
	assertStrings(t, "downward after deleting the cache", lineage(t, s, names, node(db), catalog.Down, 0),
		[]string{"emb -derived-from-> db"})
	assertStrings(t, "upward from the signature after deleting the cache", lineage(t, s, names, node(sig), catalog.Up, 0),
		[]string{"sig -subject-> cache"})

	// Pushing the embeddings again with other parents replaces the edges.
	emb2 := emb
	emb2.Annotations = map[string]string{annotations.DerivedFrom: ref(sig)}
	put(t, s, emb2)
	assertStrings(t, "downward from the database after the re-push", lineage(t, s, names, node(db), catalog.Down, 0), []string{})
}

// testLineageDanglingAndForeign records edges to artifacts the catalog
// does not hold, here or in other registries, which join the graph when
// they arrive.
func testLineageDanglingAndForeign(t *testing.T, s catalog.Store) {
	base := image("models/base", "base", at(1))
	foreign := "ghcr.io/org/weights@" + dg("foreign").String()
	child := derived("models/tuned", "tuned", ref(base), foreign)
	put(t, s, child)
	names := map[digest.Digest]string{base.Digest: "base", child.Digest: "tuned", dg("foreign"): "foreign"}

	assertStrings(t, "upward to a missing and a foreign parent", lineage(t, s, names, node(child), catalog.Up, 0),
		[]string{"tuned -derived-from-> base", "tuned -derived-from-> ghcr.io/org/weights@foreign"})
	assertStrings(t, "downward from the foreign parent",
		lineage(t, s, names, catalog.Node{Registry: "ghcr.io", Repository: "org/weights", Digest: dg("foreign")}, catalog.Down, 0),
		[]string{"tuned -derived-from-> ghcr.io/org/weights@foreign"})

	put(t, s, derived(base.Repository, "base", ref(image("data/raw", "raw", at(0)))))
	names[dg("manifest raw")] = "raw"
	assertStrings(t, "upward once the parent arrived", lineage(t, s, names, node(child), catalog.Up, 0),
		[]string{"base -derived-from-> raw", "tuned -derived-from-> base", "tuned -derived-from-> ghcr.io/org/weights@foreign"})
}

// testLineageCycles stores a cycle built over several pushes and a
// malformed annotation; walks end.
func testLineageCycles(t *testing.T, s catalog.Store) {
	a := image("c/a", "a", at(1))
	b := derived("c/b", "b", ref(a))
	a = derived("c/a", "a", ref(b)) // same digest: a cycle over two pushes
	self := derived("c/self", "self", "c/self@"+dg("manifest self").String())
	bad := derived("c/bad", "bad", "not a reference")
	bad.Subject = a.Digest
	bad.Repository = a.Repository
	put(t, s, a, b, self, bad)
	names := map[digest.Digest]string{a.Digest: "a", b.Digest: "b", self.Digest: "self", bad.Digest: "bad"}

	want := []string{"a -derived-from-> b", "b -derived-from-> a"}
	for _, depth := range []int{0, 1, 7} {
		got := lineage(t, s, names, node(a), catalog.Up, depth)
		if depth == 1 {
			assertStrings(t, "upward around a cycle, depth 1", got, want[:1])
			continue
		}
		assertStrings(t, fmt.Sprintf("upward around a cycle, depth %d", depth), got, want)
	}
	assertStrings(t, "downward around a cycle", lineage(t, s, names, node(a), catalog.Down, 0),
		[]string{"a -derived-from-> b", "b -derived-from-> a", "bad -subject-> a"})
	assertStrings(t, "a self reference", lineage(t, s, names, node(self), catalog.Down, 0), []string{"self -derived-from-> self"})

	if _, err := s.Lineage(t.Context(), node(a), catalog.Up, -1); err == nil {
		t.Error("Lineage with a negative depth: no error")
	}
}
