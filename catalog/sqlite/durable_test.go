package sqlite

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/cairn-dev/cairn/catalog"
)

// TestDurableWrites checks which writes sync the WAL before they return:
// those whose loss in a power cut nothing could repair.
func TestDurableWrites(t *testing.T) {
	ctx := context.Background()
	m := catalog.Manifest{
		Repository: "data/set", Digest: digest.FromString("m"),
		MediaType: "application/vnd.oci.image.manifest.v1+json", Size: 2,
	}
	cases := []struct {
		name     string
		skipMark bool
		write    func(*Store) error
		synced   bool
	}{
		{"pending mark", false, func(s *Store) error { _, err := s.MarkPending(ctx, "data/set"); return err }, true},
		{"pending mark the engine's sync covers", true, func(s *Store) error { _, err := s.MarkPending(ctx, "data/set"); return err }, false},
		{"indexed push (a mark repairs its loss)", false, func(s *Store) error { return s.IndexPush(ctx, m, "v1", 0) }, false},
		{"token issued", false, func(s *Store) error {
			return s.CreateToken(ctx, catalog.Token{ID: "t2", User: "ann", Hash: []byte("h2"), CreatedAt: time.Now()})
		}, true},
		{"token revoked", false, func(s *Store) error { return s.RevokeToken(ctx, "t1", time.Now()) }, true},
		{"token used (a time stamp)", false, func(s *Store) error { return s.TouchToken(ctx, "t1", time.Now()) }, false},
		{"visibility", false, func(s *Store) error {
			return s.SetVisibility(ctx, m.Repository, []digest.Digest{m.Digest}, catalog.Private)
		}, true},
		{"setting", false, func(s *Store) error { return s.SetSetting(ctx, "trust", "x") }, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var opts []Option
			if tc.skipMark {
				opts = append(opts, SkipMarkSync())
			}
			s, err := Open(ctx, filepath.Join(t.TempDir(), "catalog.db"), opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if err := s.IndexPush(ctx, m, "", 0); err != nil {
				t.Fatal(err)
			}
			if err := s.CreateToken(ctx, catalog.Token{ID: "t1", User: "ann", Hash: []byte("h1"), CreatedAt: time.Now()}); err != nil {
				t.Fatal(err)
			}
			before := s.wal.count.Load()
			if err := tc.write(s); err != nil {
				t.Fatal(err)
			}
			if got := s.wal.count.Load() > before; got != tc.synced {
				t.Errorf("WAL synced: %v, want %v", got, tc.synced)
			}
		})
	}
}

// TestWALSyncGroups checks that callers arriving while a sync runs share
// the next one, and that none returns before a sync that began after it
// was called has finished.
func TestWALSyncGroups(t *testing.T) {
	w := newWALSyncer(filepath.Join(t.TempDir(), "x.db"))
	started, release := make(chan struct{}), make(chan struct{})
	var mu sync.Mutex
	var finished int // syncs finished
	w.syncFiles = func() error {
		started <- struct{}{}
		<-release
		mu.Lock()
		finished++
		mu.Unlock()
		return nil
	}
	first := make(chan error)
	go func() { first <- w.sync() }()
	<-started // the first sync runs; these arrive during it
	const waiting = 5
	var wg sync.WaitGroup
	for range waiting {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w.sync(); err != nil {
				t.Error(err)
			}
			mu.Lock()
			defer mu.Unlock()
			if finished < 2 {
				t.Error("a caller returned before a sync that began after it was called")
			}
		}()
	}
	for w.requested.Load() < 1+waiting {
		time.Sleep(time.Millisecond)
	}
	release <- struct{}{}
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	<-started // the second sync, for all five
	release <- struct{}{}
	wg.Wait()
	if n := w.count.Load(); n != 2 {
		t.Errorf("%d syncs for 6 callers, want 2", n)
	}
}

// TestWALSyncFailureSticks checks that after a failed sync every later
// durable write fails, without another sync that might report success for
// what the kernel dropped, and that Ping reports it.
func TestWALSyncFailureSticks(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	calls := 0
	s.wal.syncFiles = func() error { calls++; return errors.New("EIO") }
	if _, err := s.MarkPending(ctx, "data/set"); err == nil {
		t.Fatal("a mark whose sync failed was reported durable")
	}
	s.wal.syncFiles = func() error { calls++; return nil }
	if err := s.SetSetting(ctx, "trust", "x"); err == nil {
		t.Error("a write after a failed sync was reported durable")
	}
	if calls != 1 {
		t.Errorf("%d syncs run, want 1: none after the failure", calls)
	}
	if err := s.Ping(ctx); err == nil {
		t.Error("Ping does not report the failed sync")
	}
}
