package sqlite

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cairn-dev/cairn/catalog"
	"github.com/opencontainers/go-digest"
)

// The write connection commits with synchronous=NORMAL: a commit is in the
// WAL file, not yet on the disk, so a power loss (not a crash: the
// operating system keeps what a dead process wrote) can undo the last
// commits. That is right for what the catalog can recompute from the
// engine's storage (a manifest's index entry, signatures' state), and a
// sync per commit would cost every push. It is wrong for what exists
// nowhere else once answered: a token revoked or issued, a visibility set,
// a setting (the trust policy signature records were checked against),
// and the pending mark that tells the next start which repositories to
// reindex. Those writes sync the WAL (walSyncer) before they return; a
// pending mark skips it when the engine's own sync before its answer
// covers the catalog's file, or when the server walks the engine at every
// start (SkipMarkSync).

// walSyncer makes what was committed to an SQLite database in WAL mode
// durable: it syncs the WAL file, as synchronous=FULL would after each
// commit. Callers that arrive while a sync runs share the next one. A
// failed sync is sticky, as the engine's is: the kernel may have dropped
// what it could not write, and a later sync would report success for it.
type walSyncer struct {
	wal string // the database's WAL file

	requested atomic.Uint64 // syncs asked for
	mu        sync.Mutex    // held while a sync runs
	covered   uint64        // requests the last finished sync covered
	dirSynced bool          // the WAL's directory entry is durable
	failed    error         // the first failed sync's error
	count     atomic.Uint64 // syncs run, for tests
	// syncFiles syncs the WAL (and once its directory); tests replace it.
	syncFiles func() error
}

func newWALSyncer(dbPath string) *walSyncer {
	w := &walSyncer{wal: dbPath + "-wal"}
	w.syncFiles = w.syncWAL
	return w
}

// sync returns once every commit made before it was called is on the disk.
func (w *walSyncer) sync() error {
	seq := w.requested.Add(1)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.failed != nil {
		return w.failed
	}
	if w.covered >= seq {
		return nil // a sync that started after our commit has finished
	}
	// Every request counted so far committed before it was counted.
	target := w.requested.Load()
	if err := w.syncFiles(); err != nil {
		w.failed = fmt.Errorf("sqlite: catalog failed to sync %s to disk (%w); writes that must survive a power cut are refused until cairn restarts: check the disk and its logs", w.wal, err)
		return w.failed
	}
	w.covered = target
	w.count.Add(1)
	return nil
}

func (w *walSyncer) syncWAL() error {
	f, err := os.Open(w.wal)
	if err != nil {
		return err
	}
	err = errors.Join(f.Sync(), f.Close())
	if err != nil || w.dirSynced {
		return err
	}
	// SQLite created the WAL when the store opened; its name must survive
	// too.
	d, err := os.Open(filepath.Dir(w.wal))
	if err != nil {
		return err
	}
	if err = errors.Join(d.Sync(), d.Close()); err == nil {
		w.dirSynced = true
	}
	return err
}

// SkipMarkSync tells the store that its pending marks need no sync of
// their own, because the server has another way to find what a lost mark
// would have named: the engine syncs the whole filesystem this database is
// on before it answers a write (the embedded engine on Linux, its storage
// on the catalog's filesystem), and a mark is committed before the write
// it announces; or the server walks all of the engine's content at every
// start (upstream mode's reconcile).
func SkipMarkSync() Option {
	return func(s *Store) { s.skipMarkSync = true }
}

// durable makes the store's commits so far survive power loss.
func (s *Store) durable() error { return s.wal.sync() }

// err reports a sticky sync failure.
func (w *walSyncer) err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.failed
}

// SetVisibility records the visibility of a manifest, keeping its owner,
// and syncs it.
func (s *Store) SetVisibility(ctx context.Context, repo string, ds []digest.Digest, vis catalog.Visibility) error {
	if err := s.Writer.SetVisibility(ctx, repo, ds, vis); err != nil {
		return err
	}
	if err := s.durable(); err != nil {
		return fmt.Errorf("sqlite: set visibility in %s: %w", repo, err)
	}
	return nil
}

// SetSetting stores a setting and syncs it.
func (s *Store) SetSetting(ctx context.Context, key, value string) error {
	if err := s.Writer.SetSetting(ctx, key, value); err != nil {
		return err
	}
	if err := s.durable(); err != nil {
		return fmt.Errorf("sqlite: set setting %s: %w", key, err)
	}
	return nil
}

// CreateToken stores a token and syncs it.
func (s *Store) CreateToken(ctx context.Context, t catalog.Token) error {
	if err := s.Writer.CreateToken(ctx, t); err != nil {
		return err
	}
	if err := s.durable(); err != nil {
		return fmt.Errorf("sqlite: create token: %w", err)
	}
	return nil
}

// RevokeToken marks a token revoked and syncs it.
func (s *Store) RevokeToken(ctx context.Context, id string, at time.Time) error {
	if err := s.Writer.RevokeToken(ctx, id, at); err != nil {
		return err
	}
	if err := s.durable(); err != nil {
		return fmt.Errorf("sqlite: revoke token %s: %w", id, err)
	}
	return nil
}

// MarkPending records that repo is about to change and returns the mark's
// id, synced unless SkipMarkSync asked.
func (s *Store) MarkPending(ctx context.Context, repo string) (int64, error) {
	id, err := s.Writer.MarkPending(ctx, repo)
	if err != nil {
		return 0, err
	}
	if !s.skipMarkSync {
		if err := s.durable(); err != nil {
			return 0, fmt.Errorf("sqlite: mark %s pending: %w", repo, err)
		}
	}
	return id, nil
}
