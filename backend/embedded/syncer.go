package embedded

import (
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
	syncfs  func(*os.File) error
	written atomic.Uint64 // writes done
	synced  atomic.Uint64 // writes known durable

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

// wrote records one finished write that a later wait must make durable.
func (s *syncer) wrote() { s.written.Add(1) }

// wait returns once every write recorded before it was called is durable.
func (s *syncer) wait() error {
	target := s.written.Load()
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
