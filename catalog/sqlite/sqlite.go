// Package sqlite is the catalog.Store kept in an SQLite database file, through
// the pure-Go modernc.org/sqlite driver.
//
// The database runs in WAL mode. Writes go through a single connection, so
// that writers in this process queue in Go instead of failing with
// SQLITE_BUSY; reads use a pool of read-only connections that run alongside
// the writer. Other processes opening the same file wait on busy_timeout.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/cairn-dev/cairn/catalog"
	"github.com/cairn-dev/cairn/catalog/sqlquery"
)

// busyTimeout is how long a statement waits for a lock held by another
// connection (another process, or a reader checkpointing) before failing.
const busyTimeout = 10 * time.Second

// Store is a catalog.Store in an SQLite database. Its methods are safe for
// concurrent use. A zero PushedAt given to PutManifest or ReplaceRepository
// is recorded as the time of the call; times are kept to the microsecond and
// returned in UTC.
type Store struct {
	write   *sql.DB // one connection, for every write
	read    *sql.DB // read-only connections
	sampler *sqlquery.Sampler
	// postings is the in-memory index, nil unless InMemoryIndex asked.
	postings *postingsState
}

var _ catalog.Store = (*Store)(nil)

// Open opens the SQLite database at path, creating the file if needed, and
// creates or migrates its schema. path names a file; ":memory:" and "file:"
// URIs are refused, because the store opens the file more than once.
func Open(ctx context.Context, path string, opts ...Option) (*Store, error) {
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("sqlite: open %q: path must name a database file", path)
	}
	write, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	write.SetConnMaxIdleTime(0)
	if err := migrate(ctx, write); err != nil {
		write.Close()
		return nil, fmt.Errorf("sqlite: open %s: schema: %w", path, err)
	}

	read, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	read.SetMaxOpenConns(n)
	read.SetMaxIdleConns(n)
	if err := read.PingContext(ctx); err != nil {
		read.Close()
		write.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	s := &Store{write: write, read: read}
	s.sampler = sqlquery.NewSampler(s.readSample)
	for _, o := range opts {
		o(s)
	}
	if s.postings != nil {
		if err := s.startIndex(ctx); err != nil {
			s.Close()
			return nil, fmt.Errorf("sqlite: open %s: in-memory index: %w", path, err)
		}
	}
	return s, nil
}

// readSample reads the query planner's sample of the catalog.
func (s *Store) readSample(ctx context.Context) (*sqlquery.Sample, error) {
	count := func(st sqlquery.Statement) (n int64, err error) {
		return n, s.read.QueryRowContext(ctx, st.SQL, st.Args...).Scan(&n)
	}
	annots := func(st sqlquery.Statement) ([]map[string]string, error) {
		var out []map[string]string
		err := s.query(ctx, st, func(rows *sql.Rows) error {
			var text string
			if err := rows.Scan(&text); err != nil {
				return err
			}
			a, err := decodeAnnotations(text)
			out = append(out, a)
			return err
		})
		return out, err
	}
	return sqlquery.ReadSample(sqlquery.SQLite, count, annots)
}

// dsn returns the modernc.org/sqlite data source name of the database at
// path, for the write connection or for the read-only ones.
func dsn(path string, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	// Queries search the annotations and manifests indexes many times
	// each: read the file through a memory map rather than a read call per
	// page (a third of the time of a filtered query at 100,000 artifacts),
	// and keep 64 MiB of pages per connection rather than 2.
	q.Add("_pragma", fmt.Sprintf("mmap_size(%d)", int64(64)<<30))
	q.Add("_pragma", "cache_size(-65536)")
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		// journal_mode is stored in the file: set once by the writer, it
		// holds for every connection.
		q.Add("_pragma", "journal_mode(WAL)")
		// Take the write lock when a transaction begins, not at its first
		// write, so that it waits on busy_timeout instead of failing.
		q.Set("_txlock", "immediate")
	}
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
}

// Close closes the database.
func (s *Store) Close() error {
	s.sampler.Close()
	s.postings.close()
	if err := errors.Join(s.read.Close(), s.write.Close()); err != nil {
		return fmt.Errorf("sqlite: close: %w", err)
	}
	return nil
}

// Ping reports whether the database can be reached.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.read.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	var one int
	if err := s.read.QueryRowContext(ctx, `SELECT 1`).Scan(&one); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	return nil
}

// inTx runs fn in a write transaction, committed if fn returns nil.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// inReadTx runs fn in a read-only transaction, so that it sees one snapshot.
func (s *Store) inReadTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer tx.Rollback()
	return fn(tx)
}

// micros converts a time to the stored form, microseconds since the epoch.
func micros(t time.Time) int64 { return t.UnixMicro() }

// fromMicros converts the stored form of a time back, in UTC.
func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }
