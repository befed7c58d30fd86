package storetest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/cairn-dev/cairn/catalog"
)

// testLineageRandom stores random graphs (diamonds, cycles, several
// repositories, several parents each) and checks every walk, both ways
// and at every depth, against a breadth-first walk in Go over the edges
// the graph was built from: an edge is in a walk when its near end is
// fewer than depth edges from the root (any distance for depth 0).
func testLineageRandom(t *testing.T, s catalog.Store) {
	rng := rand.New(rand.NewPCG(7, 11))
	const n = 60
	ms := make([]catalog.Manifest, n)
	names := map[digest.Digest]string{}
	for i := range ms {
		ms[i] = image(fmt.Sprintf("r/%d", i%4), fmt.Sprintf("n%d", i), at(1))
		names[ms[i].Digest] = fmt.Sprintf("n%d", i)
	}
	// Parents by index; pushed twice so that forward references (cycles)
	// resolve to the same digests.
	parents := make([][]int, n)
	for i := range ms {
		for range rng.IntN(3) {
			p := rng.IntN(n)
			if !slices.Contains(parents[i], p) {
				parents[i] = append(parents[i], p)
			}
		}
		var refs []string
		for _, p := range parents[i] {
			refs = append(refs, ref(ms[p]))
		}
		if len(refs) > 0 {
			d := ms[i].Digest
			ms[i] = derived(ms[i].Repository, names[d], refs...)
			ms[i].Digest = d
		}
	}
	put(t, s, ms...)

	edge := func(c, p int) string { return fmt.Sprintf("n%d -derived-from-> n%d", c, p) }
	walk := func(root int, dir catalog.Direction, depth int) []string {
		next := map[int][]int{} // from → to
		for c, ps := range parents {
			for _, p := range ps {
				if dir == catalog.Up {
					next[c] = append(next[c], p)
				} else {
					next[p] = append(next[p], c)
				}
			}
		}
		dist := map[int]int{root: 0}
		queue := []int{root}
		out := []string{}
		for len(queue) > 0 {
			from := queue[0]
			queue = queue[1:]
			if depth > 0 && dist[from] >= depth {
				continue
			}
			for _, to := range next[from] {
				if dir == catalog.Up {
					out = append(out, edge(from, to))
				} else {
					out = append(out, edge(to, from))
				}
				if _, ok := dist[to]; !ok {
					dist[to] = dist[from] + 1
					queue = append(queue, to)
				}
			}
		}
		slices.Sort(out)
		return slices.Compact(out)
	}
	for root := range ms {
		for _, dir := range []catalog.Direction{catalog.Up, catalog.Down} {
			for _, depth := range []int{0, 1, 2, 3, 5} {
				got := lineage(t, s, names, node(ms[root]), dir, depth)
				way := map[catalog.Direction]string{catalog.Up: "up", catalog.Down: "down"}[dir]
				assertStrings(t, fmt.Sprintf("walk %s from n%d, depth %d", way, root, depth), got, walk(root, dir, depth))
			}
		}
	}
}
