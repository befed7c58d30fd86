package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/cairn-dev/cairn/catalog"
	"github.com/cairn-dev/cairn/catalog/postings"
	"github.com/cairn-dev/cairn/catalog/sqlquery"
)

// The in-memory index (catalog/postings) answers the catalog API's
// filtered, sorted pages and facets; SQL reads the details of the page's
// artifacts. It is read whole when the store opens and kept current from
// the change log (schema version 9) that triggers fill on every write,
// whichever process wrote: before each query the store replays what was
// logged since the index last looked, in one read transaction with the
// rows it reads again, so that a query sees every write committed before
// it began.

// Option configures Open.
type Option func(*Store)

// InMemoryIndex makes the store keep the in-memory index of the catalog
// for its queries (about 1 KB an artifact of eight annotations). It is read when the
// store opens: at once for a catalog of up to syncLoadLimit artifacts,
// in the background for a larger one, the queries going to SQL until it
// is ready. Processes that do not answer the catalog API (cairn reindex)
// open the store without it.
func InMemoryIndex() Option {
	return func(s *Store) { s.postings = &postingsState{} }
}

// TrimChangeLog makes the store delete the change log every
// changeLogTrim, for a server that keeps no in-memory index: the log
// would otherwise grow by every write, with no index to replay it. An
// index in another process that finds its changes gone reads the tables
// again.
func TrimChangeLog() Option {
	return func(s *Store) { s.trimLog = true }
}

// changeLogTrim is how often TrimChangeLog deletes the change log.
const changeLogTrim = 10 * time.Minute

// trimChangeLog deletes the change log now and every changeLogTrim until
// the store closes.
func (s *Store) trimChangeLog() {
	trim := func() {
		if _, err := s.write.ExecContext(context.Background(), `DELETE FROM changes`); err != nil {
			slog.Warn("catalog: trimming the change log", "err", err)
		}
	}
	trim()
	ctx, stop := context.WithCancel(context.Background())
	s.stopTrim = stop
	s.trimDone = make(chan struct{})
	go func() {
		defer close(s.trimDone)
		t := time.NewTicker(changeLogTrim)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				trim()
			}
		}
	}()
}

// syncLoadLimit is the size of catalog up to which Open reads the index
// before it returns (about a second).
const syncLoadLimit = 100_000

// pruneEvery is how many replayed changes the log may keep before the
// index deletes them (a variable for tests).
var pruneEvery int64 = 10_000

// postingsState is the in-memory index and how far it has replayed the
// change log.
type postingsState struct {
	ready atomic.Bool
	// mu serialises replays; ix and applied change under it.
	mu      sync.Mutex
	ix      *postings.Index
	applied int64
	pruned  int64
	pruning atomic.Bool

	stop context.CancelFunc
	wg   sync.WaitGroup
}

// startIndex reads the index, at once or in the background.
func (s *Store) startIndex(ctx context.Context) error {
	p := s.postings
	var n int64
	if err := s.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM manifests`).Scan(&n); err != nil {
		return err
	}
	if n <= syncLoadLimit {
		return s.loadIndex(ctx)
	}
	bg, stop := context.WithCancel(context.Background())
	p.stop = stop
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		if err := s.loadIndex(bg); err != nil && bg.Err() == nil {
			slog.Error("catalog: reading the in-memory index failed; queries go to SQL", "err", err)
		}
	}()
	return nil
}

// loadIndex reads every artifact into a new index, in one snapshot with
// the change log's end.
func (s *Store) loadIndex(ctx context.Context) error {
	p := s.postings
	p.mu.Lock()
	defer p.mu.Unlock()
	ix := postings.New()
	var applied int64
	err := s.inReadTx(ctx, func(tx *sql.Tx) error {
		// The last number handed out, kept even when the log is empty.
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'changes'), 0)`).Scan(&applied); err != nil {
			return err
		}
		for after := int64(0); ; {
			es, last, err := readEntryBatch(ctx, tx, after)
			if err != nil || len(es) == 0 {
				return err
			}
			ix.Update(es, nil)
			after = last
		}
	})
	if err != nil {
		return fmt.Errorf("sqlite: in-memory index: %w", err)
	}
	p.ix, p.applied, p.pruned = ix, applied, 0
	p.ready.Store(true)
	return nil
}

// index returns the in-memory index, brought up to date with the change
// log, or nil when the store keeps none or it is not ready (or could not
// be brought up to date: the query goes to SQL).
func (s *Store) index(ctx context.Context) *postings.Index {
	p := s.postings
	if p == nil || !p.ready.Load() {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := s.replay(ctx); err != nil {
		if ctx.Err() == nil {
			slog.Warn("catalog: replaying changes into the in-memory index", "err", err)
		}
		return nil
	}
	if p.applied-p.pruned >= pruneEvery && p.pruning.CompareAndSwap(false, true) {
		upTo := p.applied
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer p.pruning.Store(false)
			if _, err := s.write.ExecContext(context.Background(), `DELETE FROM changes WHERE seq <= ?`, upTo); err != nil {
				slog.Warn("catalog: pruning the change log", "err", err)
				return
			}
			p.mu.Lock()
			p.pruned = max(p.pruned, upTo)
			p.mu.Unlock()
		}()
	}
	return p.ix
}

// replay applies the changes logged since the index last looked (under
// p.mu). When the log no longer holds them (another process deleted
// them), it reads the index again.
func (s *Store) replay(ctx context.Context) error {
	p := s.postings
	const batch = 20_000
	for {
		var keys []postings.Key
		seen := map[postings.Key]bool{}
		last, first := p.applied, int64(0)
		err := s.inReadTx(ctx, func(tx *sql.Tx) error {
			rows, err := tx.QueryContext(ctx, `SELECT seq, repository, digest FROM changes WHERE seq > ? ORDER BY seq LIMIT ?`, p.applied, batch)
			if err != nil {
				return err
			}
			for rows.Next() {
				var k postings.Key
				var seq int64
				if err := rows.Scan(&seq, &k.Repository, &k.Digest); err != nil {
					rows.Close()
					return err
				}
				if first == 0 {
					first = seq
				}
				last = seq
				if !seen[k] {
					seen[k] = true
					keys = append(keys, k)
				}
			}
			if err := errors.Join(rows.Err(), rows.Close()); err != nil {
				return err
			}
			if len(keys) == 0 || first != p.applied+1 {
				return nil
			}
			es, err := readEntries(ctx, tx, keys)
			if err != nil {
				return err
			}
			found := map[postings.Key]bool{}
			for _, e := range es {
				found[postings.Key{Repository: e.Repository, Digest: e.Digest}] = true
			}
			var gone []postings.Key
			for _, k := range keys {
				if !found[k] {
					gone = append(gone, k)
				}
			}
			p.ix.Update(es, gone)
			return nil
		})
		if err != nil {
			return err
		}
		if len(keys) > 0 && first != p.applied+1 {
			// Numbers are handed out in commit order and a rollback
			// takes its own back, so a gap is changes deleted before
			// this index replayed them: read it again from the tables,
			// in the background, queries going to SQL meanwhile.
			p.ready.Store(false)
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				if err := s.loadIndex(context.Background()); err != nil {
					slog.Error("catalog: reading the in-memory index again failed; queries go to SQL", "err", err)
				}
			}()
			return errors.New("the change log lost changes the index had not replayed")
		}
		p.applied = last
		if len(seen) == 0 || last-first+1 < batch {
			return nil
		}
	}
}

// entryColumns are what readEntries reads of a manifest.
const entryColumns = `m.repository, m.digest, m.media_type, m.artifact_type, m.annotations, m.subject, m.total_size, m.pushed_at,
	COALESCE(o.owner, ''), COALESCE(o.visibility, ''),
	EXISTS (SELECT 1 FROM signatures sg WHERE sg.repository = m.repository AND sg.digest = m.digest AND sg.verified)`

// readEntries reads the index entries of the manifests of keys that the
// catalog holds.
func readEntries(ctx context.Context, tx *sql.Tx, keys []postings.Key) ([]postings.Entry, error) {
	pairs, err := pairsOf(keys)
	if err != nil {
		return nil, err
	}
	es, _, err := scanEntries(ctx, tx, ` WHERE (m.repository, m.digest) IN (SELECT value ->> 0, value ->> 1 FROM json_each(?))`, pairs)
	if err != nil || len(es) == 0 {
		return es, err
	}
	return es, attachTags(ctx, tx, es)
}

// entryBatch is how many manifests loadIndex reads at a time, so that the
// rows read and the index being built are not both whole in memory.
const entryBatch = 20_000

// readEntryBatch reads the index entries of the next entryBatch manifests
// after rowid after, and the last rowid read (after when none is left).
func readEntryBatch(ctx context.Context, tx *sql.Tx, after int64) ([]postings.Entry, int64, error) {
	es, last, err := scanEntries(ctx, tx, ` WHERE m.rowid > ? ORDER BY m.rowid LIMIT `+fmt.Sprint(entryBatch), after)
	if err != nil || len(es) == 0 {
		return nil, after, err
	}
	return es, last, attachTags(ctx, tx, es)
}

// pairsOf binds keys as one JSON list of [repository, digest] pairs.
func pairsOf(keys []postings.Key) (string, error) {
	pairs := make([][2]string, len(keys))
	for i, k := range keys {
		pairs[i] = [2]string{k.Repository, string(k.Digest)}
	}
	j, err := json.Marshal(pairs)
	return string(j), err
}

// scanEntries reads the entries of the manifests m that where selects,
// and the largest rowid read.
func scanEntries(ctx context.Context, tx *sql.Tx, where string, arg any) ([]postings.Entry, int64, error) {
	rows, err := tx.QueryContext(ctx, `SELECT m.rowid, `+entryColumns+`
FROM manifests m LEFT JOIN owners o ON o.repository = m.repository AND o.digest = m.digest`+where, arg)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var es []postings.Entry
	var last int64
	for rows.Next() {
		var e postings.Entry
		var annots, vis string
		var rowid int64
		if err := rows.Scan(&rowid, &e.Repository, &e.Digest, &e.MediaType, &e.ArtifactType, &annots, &e.Subject,
			&e.TotalSize, &e.PushedAt, &e.Owner, &vis, &e.Signed); err != nil {
			return nil, 0, err
		}
		if e.Annotations, err = sqlquery.DecodeAnnotations(annots); err != nil {
			return nil, 0, err
		}
		e.Visibility = catalog.Visibility(vis)
		last = max(last, rowid)
		es = append(es, e)
	}
	return es, last, rows.Err()
}

// attachTags fills the tags of es.
func attachTags(ctx context.Context, tx *sql.Tx, es []postings.Entry) error {
	at := make(map[postings.Key]int, len(es))
	ms := make([]catalog.Manifest, len(es))
	for i, e := range es {
		at[postings.Key{Repository: e.Repository, Digest: e.Digest}] = i
		ms[i] = catalog.Manifest{Repository: e.Repository, Digest: e.Digest}
	}
	st := sqlquery.Tags(sqlquery.SQLite, ms)
	rows, err := tx.QueryContext(ctx, st.SQL, st.Args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var repo, dgst, tag string
		if err := rows.Scan(&repo, &dgst, &tag); err != nil {
			return err
		}
		if i, ok := at[postings.Key{Repository: repo, Digest: digest.Digest(dgst)}]; ok {
			es[i].Tags = append(es[i].Tags, tag)
		}
	}
	return rows.Err()
}

// close stops a background read or prune and waits for it.
func (p *postingsState) close() {
	if p == nil {
		return
	}
	if p.stop != nil {
		p.stop()
	}
	p.wg.Wait()
}
