package facade

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
		if name := strings.TrimSpace(sc.Text()); name != "" && checkName(name) == nil {
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

// done forgets repos (reindexed) and rewrites the journal with the rest.
func (r *repairs) done(repos []string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, name := range repos {
		delete(r.repos, name)
	}
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

// needsRepair records that repo's catalog entries may be behind the engine.
func (s *Server) needsRepair(log *zap.Logger, repo string) {
	if err := s.repairs.add(repo); err != nil {
		log.Error("cannot record the repository for repair; run cairn reindex", zap.String("repo", repo), zap.Error(err))
	}
}

// repairSoon wakes the repair loop instead of waiting for its next round.
func (s *Server) repairSoon() {
	select {
	case s.repairNow <- struct{}{}:
	default: // a wake-up is already waiting
	}
}

// PendingRepairs lists the repositories waiting for a reindex.
func (s *Server) PendingRepairs() []string { return s.repairs.pending() }

// RunRepairs reindexes the repositories recorded for repair, now and then
// every interval, until ctx ends. Without a reindex function (an engine
// whose storage cairn cannot read) it only reports them.
func (s *Server) RunRepairs(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if repos := s.repairs.pending(); len(repos) > 0 {
			s.repair(ctx, repos)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.repairNow:
		}
	}
}

func (s *Server) repair(ctx context.Context, repos []string) {
	if s.reindex == nil {
		s.log.Warn("catalog may be behind the engine for these repositories; the engine's storage cannot be walked to repair it", zap.Strings("repositories", repos))
		return
	}
	if err := s.store.Ping(ctx); err != nil {
		return // still down; the next round tries again
	}
	if err := s.reindex(ctx, repos); err != nil {
		s.log.Warn("catalog repair failed; will retry", zap.Strings("repositories", repos), zap.Error(err))
		return
	}
	for _, repo := range repos {
		if err := s.RefreshSignatures(ctx, repo); err != nil {
			s.log.Warn("signature records not recomputed after repair", zap.String("repo", repo), zap.Error(err))
		}
	}
	if err := s.repairs.done(repos); err != nil {
		s.log.Warn("catalog repaired but the journal was not updated", zap.Error(err))
	}
	s.log.Info("catalog repaired", zap.Strings("repositories", repos))
}
