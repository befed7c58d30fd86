package embedded

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
)

// syncer makes the filesystem storage's deferred writes durable with one
// syncfs(2) shared by every request waiting at that moment (group commit).
// Writers count a write once it is done; a waiter needs a sync that started
// after its own writes, and any sync that did serves every waiter.
//
// A failed sync is sticky: after it, what the kernel dropped cannot be known
// (a later sync may report success for data it already lost), so every
// later wait fails until the process restarts.
type syncer struct {
	root *os.File
	// syncfs syncs the filesystem (syncFS; tests count or fail it).
	syncfs    func(*os.File) error
	written   atomic.Uint64 // writes done
	synced    atomic.Uint64 // writes known durable
	untracked atomic.Uint64 // the last write done outside a request

	mu      sync.Mutex
	changed *sync.Cond
	running bool
	failed  error
}

var (
	syncersMu sync.Mutex
	syncers   = map[string]*syncer{}
)

// syncerFor returns the syncer of the storage under root, shared by every
// driver the process opens there (the library opens its own besides the
// engine's).
func syncerFor(root string) (*syncer, error) {
	root = filepath.Clean(root)
	syncersMu.Lock()
	defer syncersMu.Unlock()
	if s, ok := syncers[root]; ok {
		return s, nil
	}
	if err := os.MkdirAll(root, 0o777); err != nil {
		return nil, fmt.Errorf("storage root: %w", err)
	}
	f, err := os.Open(root)
	if err != nil {
		return nil, fmt.Errorf("storage root: %w", err)
	}
	s := &syncer{root: f, syncfs: syncFS}
	s.changed = sync.NewCond(&s.mu)
	syncers[root] = s
	return s, nil
}

// wrote records one finished write that a later wait must make durable:
// the request's, when ctx carries its writes (see withWrites), or every
// write request's after it.
func (s *syncer) wrote(ctx context.Context) {
	seq := s.written.Add(1)
	if w, ok := ctx.Value(writesKey{}).(*writes); ok {
		w.last.Store(seq)
		return
	}
	for {
		cur := s.untracked.Load()
		if cur >= seq || s.untracked.CompareAndSwap(cur, seq) {
			return
		}
	}
}

// writes is what one request wrote: the number of its last write.
type writes struct{ last atomic.Uint64 }

type writesKey struct{}

// withWrites returns a context whose storage writes are counted as one
// request's, and what they are.
func withWrites(ctx context.Context) (context.Context, *writes) {
	w := &writes{}
	return context.WithValue(ctx, writesKey{}, w), w
}

// waitFor returns once the request's writes, and any write made outside a
// request, are durable.
func (s *syncer) waitFor(w *writes) error {
	return s.waitUntil(max(w.last.Load(), s.untracked.Load()))
}

// wait returns once every write recorded before it was called is durable.
func (s *syncer) wait() error { return s.waitUntil(s.written.Load()) }

// waitUntil returns once the writes numbered up to target are durable.
func (s *syncer) waitUntil(target uint64) error {
	if s.synced.Load() >= target {
		s.mu.Lock()
		err := s.failed
		s.mu.Unlock()
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		if s.failed != nil {
			return s.failed
		}
		if s.synced.Load() >= target {
			return nil
		}
		if s.running {
			s.changed.Wait()
			continue
		}
		s.running = true
		covers := s.written.Load() // every write counted here is done
		s.mu.Unlock()
		err := s.syncfs(s.root)
		s.mu.Lock()
		s.running = false
		if err != nil {
			s.failed = fmt.Errorf("storage failed to sync to disk (%w); writes are refused until cairn restarts: check the disk and its logs", err)
		} else if covers > s.synced.Load() {
			s.synced.Store(covers)
		}
		s.changed.Broadcast()
	}
}

// err reports a sticky sync failure.
func (s *syncer) err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failed
}
