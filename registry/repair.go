package registry

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/cairn-dev/cairn/annotations"
	"github.com/cairn-dev/cairn/backend"
	"github.com/cairn-dev/cairn/catalog"
)

// repairs remembers the repositories whose catalog entries may be behind
// the engine (an index write failed, or the catalog could not even be told
// a write was coming) until a reindex of them succeeds. The set is kept in
// a journal file too, so a restart does not forget it.
type repairs struct {
	mu    sync.Mutex
	repos map[string]bool
	path  string // "" keeps the set in memory only
}

// loadRepairs reads the journal at path; a missing file is an empty set.
func loadRepairs(path string) (*repairs, error) {
	r := &repairs{repos: map[string]bool{}, path: path}
	if path == "" {
		return r, nil
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return r, nil
	}
	if err != nil {
		return nil, fmt.Errorf("repair journal: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if name := strings.TrimSpace(sc.Text()); name != "" && annotations.ValidRepository(name) {
			r.repos[name] = true
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("repair journal: %w", err)
	}
	return r, nil
}

// add records that repo needs a reindex.
func (r *repairs) add(repo string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.repos[repo] {
		return nil
	}
	r.repos[repo] = true
	if r.path == "" {
		return nil
	}
	f, err := os.OpenFile(r.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("repair journal: %w", err)
	}
	if _, err := f.WriteString(repo + "\n"); err != nil {
		f.Close()
		return fmt.Errorf("repair journal: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("repair journal: %w", err)
	}
	return f.Close()
}

// pending lists the repositories waiting for a reindex, sorted.
func (r *repairs) pending() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.repos))
	for name := range r.repos {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// done forgets repo (reindexed) and rewrites the journal with the rest.
// The caller holds repo's lock, so no push of repo can have queued it
// again since its reindex began.
func (r *repairs) done(repo string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.repos, repo)
	if r.path == "" {
		return nil
	}
	if len(r.repos) == 0 {
		if err := os.Remove(r.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("repair journal: %w", err)
		}
		return nil
	}
	var b strings.Builder
	for name := range r.repos {
		b.WriteString(name + "\n")
	}
	tmp := r.path + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o600); err != nil {
		return fmt.Errorf("repair journal: %w", err)
	}
	if err := os.Rename(tmp, filepath.Clean(r.path)); err != nil {
		return fmt.Errorf("repair journal: %w", err)
	}
	return nil
}

// NeedsRepair records that repo's catalog entries may be behind the engine
// and wakes the repair loop.
func (r *Registry) NeedsRepair(ctx context.Context, repo string) {
	if err := r.repairs.add(repo); err != nil {
		r.logger(ctx).Error("cannot record the repository for repair; run cairn reindex", zap.String("repo", repo), zap.Error(err))
	}
}

// RepairSoon wakes the repair loop instead of waiting for its next round.
func (r *Registry) RepairSoon() {
	select {
	case r.repairNow <- struct{}{}:
	default: // a wake-up is already waiting
	}
}

// PendingRepairs lists the repositories waiting for a reindex.
func (r *Registry) PendingRepairs() []string { return r.repairs.pending() }

// RunRepairs reindexes the repositories recorded for repair, now and then
// every interval, until ctx ends. With an engine whose storage cannot be
// walked it only reports them.
func (r *Registry) RunRepairs(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if repos := r.repairs.pending(); len(repos) > 0 {
			r.repair(ctx, repos)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-r.repairNow:
		}
	}
}

func (r *Registry) repair(ctx context.Context, repos []string) {
	if _, ok := r.engine.(backend.Walker); !ok {
		r.log.Warn("catalog may be behind the engine for these repositories; the engine's storage cannot be walked to repair it", zap.Strings("repositories", repos))
		return
	}
	if err := r.store.Ping(ctx); err != nil {
		return // still down; the next round tries again
	}
	var repaired []string
	for _, repo := range repos {
		if err := r.repairOne(ctx, repo); err != nil {
			r.log.Warn("catalog repair failed; will retry", zap.String("repo", repo), zap.Error(err))
			continue
		}
		repaired = append(repaired, repo)
	}
	if len(repaired) > 0 {
		r.log.Info("catalog repaired", zap.Strings("repositories", repaired))
	}
}

// repairOne reindexes repo and forgets it, holding repo's lock throughout:
// a push of repo whose index write fails while its reindex runs then
// queues it again after the reindex, instead of being forgotten with it.
func (r *Registry) repairOne(ctx context.Context, repo string) error {
	defer r.locks.lock(repo)()
	if _, err := catalog.Reindex(ctx, r.log, r.store, r.engine.(backend.Walker), []string{repo}); err != nil {
		return err
	}
	if err := r.RefreshSignatures(ctx, repo); err != nil {
		r.log.Warn("signature records not recomputed after repair", zap.String("repo", repo), zap.Error(err))
	}
	if err := r.repairs.done(repo); err != nil {
		r.log.Warn("catalog repaired but the journal was not updated", zap.Error(err))
	}
	return nil
}

// Reindex makes the catalog agree with the engine's storage for repos, or
// for every repository in storage or in the catalog when repos is empty,
// one repository at a time under its lock, so that a reindex and the
// pushes of the same repository never interleave.
func (r *Registry) Reindex(ctx context.Context, repos []string) (catalog.ReindexResult, error) {
	var total catalog.ReindexResult
	w, ok := r.engine.(backend.Walker)
	if !ok {
		return total, errors.New("this engine's content cannot be walked")
	}
	if len(repos) == 0 {
		var err error
		if repos, err = catalog.ReindexTargets(ctx, r.store, w); err != nil {
			return total, err
		}
	}
	for _, repo := range repos {
		res, err := r.reindexOne(ctx, w, repo)
		total.Repositories += res.Repositories
		total.Manifests += res.Manifests
		total.Skipped += res.Skipped
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

func (r *Registry) reindexOne(ctx context.Context, w backend.Walker, repo string) (catalog.ReindexResult, error) {
	defer r.locks.lock(repo)()
	return catalog.Reindex(ctx, r.log, r.store, w, []string{repo})
}
