package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/cairn-dev/cairn/annotations"
	"github.com/cairn-dev/cairn/catalog"
)

// The lineage benchmarks' graph: chains of artifacts each derived from
// the one before (in the next repository of 20), up to 20 deep, and one
// fan-out of 10 children per artifact over 4 levels (11,110 artifacts
// below its root).
const (
	lineageChainDepth  = 20
	lineageFanout      = 10
	lineageFanoutDepth = 4
)

// lineageDigest is the digest of artifact i of the lineage graph.
func lineageDigest(seed uint64, i int) digest.Digest {
	return digest.FromString(fmt.Sprintf("cairn lineage bench %d artifact %d", seed, i))
}

// lineageArtifact returns artifact i of repository repo, derived from
// parent (none when parent is "").
func lineageArtifact(seed uint64, i int, repo string, parent string) catalog.Manifest {
	m := catalog.Manifest{
		Repository:   repo,
		Digest:       lineageDigest(seed, i),
		MediaType:    mtImage,
		ArtifactType: atModel,
		Size:         300,
		TotalSize:    300,
		PushedAt:     benchPushedFrom.Add(time.Duration(i) * time.Second),
	}
	if parent != "" {
		m.Annotations = map[string]string{annotations.DerivedFrom: parent}
	}
	return m
}

// LineageGraph is what SeedLineage wrote: the root of the fan-out and the
// leaf at the end of the first full-depth chain.
type LineageGraph struct {
	FanoutRoot, DeepLeaf catalog.Node
	FanoutSize           int // artifacts below FanoutRoot
}

// SeedLineage fills s (empty) with n artifacts in a lineage graph (see the
// constants above), 20 repositories of chains plus one of the fan-out,
// and returns where the benchmarks start.
func SeedLineage(tb testing.TB, s catalog.Store, n int, seed uint64) LineageGraph {
	tb.Helper()
	ctx := tb.Context()
	repos := make([][]catalog.Manifest, lineageChainDepth+1)
	ref := func(m catalog.Manifest) string { return m.Repository + "@" + m.Digest.String() }
	i := 0
	var g LineageGraph

	// The fan-out, in its own repository.
	fan := fmt.Sprintf("lineage/fanout-%d", seed%1000)
	level := []catalog.Manifest{lineageArtifact(seed, i, fan, "")}
	i++
	g.FanoutRoot = catalog.Node{Repository: fan, Digest: level[0].Digest}
	repos[lineageChainDepth] = append(repos[lineageChainDepth], level...)
	for range lineageFanoutDepth {
		var next []catalog.Manifest
		for _, p := range level {
			for range lineageFanout {
				m := lineageArtifact(seed, i, fan, ref(p))
				i++
				next = append(next, m)
			}
		}
		g.FanoutSize += len(next)
		repos[lineageChainDepth] = append(repos[lineageChainDepth], next...)
		level = next
	}

	// Chains: depth 1 to 20, round robin, until n artifacts.
	for chain := 0; i < n; chain++ {
		depth := 1 + chain%lineageChainDepth
		parent := ""
		for d := 0; d < depth && i < n; d++ {
			m := lineageArtifact(seed, i, fmt.Sprintf("lineage/step-%02d", d), parent)
			i++
			repos[d] = append(repos[d], m)
			parent = ref(m)
			if depth == lineageChainDepth && d == depth-1 && g.DeepLeaf.Digest == "" {
				g.DeepLeaf = catalog.Node{Repository: m.Repository, Digest: m.Digest}
			}
		}
	}
	start := time.Now()
	for _, ms := range repos {
		if len(ms) == 0 {
			continue
		}
		if err := s.ReplaceRepository(ctx, ms[0].Repository, ms, nil); err != nil {
			tb.Fatalf("seed lineage: %v", err)
		}
	}
	tb.Logf("seeded a lineage graph of %d artifacts in %v", i, time.Since(start).Round(time.Millisecond))
	return g
}

// BenchLineage measures lineage walks on the graph SeedLineage wrote:
// upward from the leaf of a chain 20 deep (up/depth-20), and downward from
// the root of the fan-out (down/fanout, 11,110 artifacts).
func BenchLineage(b *testing.B, s catalog.Store, g LineageGraph) {
	b.Helper()
	if g.DeepLeaf.Digest == "" {
		b.Fatal("the graph has no chain 20 deep: seed more artifacts")
	}
	b.Run("up/depth-20", func(b *testing.B) {
		benchMeasure(b, func(ctx context.Context, _ int) (int, error) {
			es, err := s.Lineage(ctx, g.DeepLeaf, catalog.Up, 0)
			if err == nil && len(es) != lineageChainDepth-1 {
				err = fmt.Errorf("%d edges up from the leaf, want %d", len(es), lineageChainDepth-1)
			}
			return len(es), err
		})
	})
	b.Run("down/fanout", func(b *testing.B) {
		benchMeasure(b, func(ctx context.Context, _ int) (int, error) {
			es, err := s.Lineage(ctx, g.FanoutRoot, catalog.Down, 0)
			if err == nil && len(es) != g.FanoutSize {
				err = fmt.Errorf("%d edges down from the fan-out, want %d", len(es), g.FanoutSize)
			}
			return len(es), err
		})
	})
}
