package catalog

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/opencontainers/go-digest"
	"go.uber.org/zap"

	"github.com/cairn-dev/cairn/backend"
)

// ReindexResult counts what a reindex visited.
type ReindexResult struct {
	Repositories int
	Manifests    int
	Skipped      int
}

// Reindexed is what a reindex writes to: the index of manifests, and the
// pending marks it clears.
type Reindexed interface {
	Index
	PendingMarks
}

// ReindexTargets lists what a reindex of everything visits: every
// repository in storage or in the catalog, sorted, once each.
func ReindexTargets(ctx context.Context, store Index, w backend.Walker) ([]string, error) {
	inStorage, err := w.Repositories(ctx)
	if err != nil {
		return nil, fmt.Errorf("reindex: %w", err)
	}
	inCatalog, err := store.Repositories(ctx)
	if err != nil {
		return nil, fmt.Errorf("reindex: %w", err)
	}
	repos := append(inStorage, inCatalog...)
	slices.Sort(repos)
	return slices.Compact(repos), nil
}

// Reindex makes the catalog agree with what the engine's storage holds, for
// the named repositories, or for every repository in storage or in the
// catalog when repos is empty. Storage is the truth: entries it lacks are
// removed, entries it has are (re)written.
func Reindex(ctx context.Context, log *zap.Logger, store Reindexed, w backend.Walker, repos []string) (ReindexResult, error) {
	var res ReindexResult
	if len(repos) == 0 {
		var err error
		if repos, err = ReindexTargets(ctx, store, w); err != nil {
			return res, err
		}
	}
	for _, repo := range repos {
		var ms []Manifest
		seen := map[digest.Digest]bool{}
		tags := map[string]digest.Digest{}
		err := w.Walk(ctx, repo, func(bm backend.Manifest) error {
			d, err := digest.Parse(bm.Digest)
			if err != nil || seen[d] {
				res.Skipped++
				return nil
			}
			seen[d] = true
			pushed := bm.ModTime
			if pushed.IsZero() {
				pushed = time.Now()
			}
			m, err := ParseManifest(repo, d, bm.MediaType, bm.Payload, pushed)
			if err != nil {
				log.Warn("reindex: manifest not indexable, skipped", zap.String("repo", repo), zap.Stringer("digest", d), zap.Error(err))
				res.Skipped++
				return nil
			}
			ms = append(ms, m)
			for _, t := range bm.Tags {
				tags[t] = d
			}
			return nil
		})
		if err != nil {
			return res, fmt.Errorf("reindex %s: %w", repo, err)
		}
		if err := store.ReplaceRepository(ctx, repo, ms, tags); err != nil {
			return res, fmt.Errorf("reindex %s: %w", repo, err)
		}
		if err := store.ClearPendingRepository(ctx, repo); err != nil {
			return res, fmt.Errorf("reindex %s: %w", repo, err)
		}
		res.Repositories++
		res.Manifests += len(ms)
	}
	return res, nil
}

// ReindexIfBehind repairs the catalog at start: the repositories left
// marked pending by a crash or a failed index write, or everything when the
// catalog is empty while storage is not (a new catalog over old storage).
func ReindexIfBehind(ctx context.Context, log *zap.Logger, store Reindexed, w backend.Walker) (ReindexResult, error) {
	inCatalog, err := store.Repositories(ctx)
	if err != nil {
		return ReindexResult{}, fmt.Errorf("reindex: %w", err)
	}
	if len(inCatalog) == 0 {
		inStorage, err := w.Repositories(ctx)
		if err != nil {
			return ReindexResult{}, fmt.Errorf("reindex: %w", err)
		}
		if len(inStorage) > 0 {
			log.Info("catalog is empty but storage is not: reindexing everything", zap.Int("repositories", len(inStorage)))
			return Reindex(ctx, log, store, w, inStorage)
		}
	}
	pending, err := store.Pending(ctx)
	if err != nil {
		return ReindexResult{}, fmt.Errorf("reindex: %w", err)
	}
	if len(pending) == 0 {
		return ReindexResult{}, nil
	}
	log.Info("catalog is behind storage: reindexing", zap.Strings("repositories", pending))
	return Reindex(ctx, log, store, w, pending)
}
