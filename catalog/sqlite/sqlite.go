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
	"sync"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/cairn-dev/cairn/catalog"
	"github.com/cairn-dev/cairn/catalog/sqlquery"
	"github.com/cairn-dev/cairn/catalog/sqlwrite"
)

// busyTimeout is how long a statement waits for a lock held by another
// connection (another process, or a reader checkpointing) before failing.
const busyTimeout = 10 * time.Second

// Store is a catalog.Store in an SQLite database. Its methods are safe for
// concurrent use. A zero PushedAt given to IndexPush or ReplaceRepository
// is recorded as the time of the call; times are kept to the microsecond and
// returned in UTC.
type Store struct {
	// Writer does the writes (catalog/sqlwrite), on the write connection
	// and in inTx's transactions; durable.go adds what SQLite must sync.
	// Lookups reads on the read-only connections.
	*sqlwrite.Writer
	*sqlquery.Lookups

	write   *sql.DB // one connection, for every write
	read    *sql.DB // read-only connections
	sampler *sqlquery.Sampler
	// postings is the in-memory index, nil unless InMemoryIndex asked.
	postings *postingsState
	// wal makes commits durable where a lost one would lose what exists
	// nowhere else; skipMarkSync: SkipMarkSync asked (see durable.go).
	wal          *walSyncer
	skipMarkSync bool
	// trimLog: TrimChangeLog asked; stopTrim and trimDone end the trims.
	trimLog  bool
	stopTrim context.CancelFunc
	trimDone chan struct{}

	// txMu guards the writers waiting for inTx and whether one of them
	// is committing a batch.
	txMu      sync.Mutex
	txQueue   []*txRequest
	txRunning bool

	// stmts are the write connection's prepared statements, by SQL text,
	// and wanted those to prepare (see prepared).
	stmts, wanted sync.Map
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
	s := &Store{write: write, read: read, wal: newWALSyncer(path)}
	s.Writer = sqlwrite.New(sqlwrite.Config{
		Store:   "sqlite",
		Dialect: sqlquery.SQLite,
		DB:      conn{s: s, db: write},
		InTx: func(ctx context.Context, fn func(ctx context.Context, c sqlwrite.Conn) error) error {
			return s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error { return fn(ctx, conn{s: s, db: write, tx: tx}) })
		},
		// Every push marks its repository: the marks of concurrent pushes
		// share a commit (inTx).
		MarkInTx: true,
	})
	s.Lookups = sqlquery.NewLookups("sqlite", sqlquery.SQLite, conn{s: s, db: read})
	s.sampler = sqlquery.NewSampler(s.readSample)
	for _, o := range opts {
		o(s)
	}
	if s.trimLog && s.postings == nil {
		s.trimChangeLog()
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
			a, err := sqlquery.DecodeAnnotations(text)
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
	if s.stopTrim != nil {
		s.stopTrim()
		<-s.trimDone
	}
	s.stmts.Range(func(_, st any) bool {
		st.(*sql.Stmt).Close()
		return true
	})
	if err := errors.Join(s.read.Close(), s.write.Close()); err != nil {
		return fmt.Errorf("sqlite: close: %w", err)
	}
	return nil
}

// Ping reports whether the database can be reached, and whether its WAL
// still syncs.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.wal.err(); err != nil {
		return err
	}
	if err := s.read.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	var one int
	if err := s.read.QueryRowContext(ctx, `SELECT 1`).Scan(&one); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	return nil
}

// inTx runs fn in a write transaction; what fn wrote is committed if it
// returns nil, and undone if it returns an error. fn runs its statements
// with the context it is given: in a batch, one without the caller's
// cancellation, since an interrupted statement would roll back the whole
// transaction, the other writers' work with it.
//
// Writers that arrive while a transaction commits are committed together
// in the next one (group commit): the first of them runs the batch, each
// fn inside a savepoint of its own, so that one fn's error undoes only its
// own writes. A commit costs more than most of the writes it carries (the
// WAL's frames and the lock), and concurrent pushes each wait for one.
func (s *Store) inTx(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) error {
	req := &txRequest{ctx: ctx, fn: fn, done: make(chan error, 1)}
	s.txMu.Lock()
	s.txQueue = append(s.txQueue, req)
	lead := !s.txRunning
	s.txRunning = true
	s.txMu.Unlock()
	if lead {
		s.runTxBatches()
	}
	return <-req.done
}

// txRequest is one writer waiting for inTx.
type txRequest struct {
	ctx  context.Context
	fn   func(ctx context.Context, tx *sql.Tx) error
	done chan error
}

// maxTxBatch bounds how many writers one transaction carries.
const maxTxBatch = 64

// runTxBatches commits the queued writers, batch after batch, until none
// is left.
func (s *Store) runTxBatches() {
	for {
		s.txMu.Lock()
		batch := s.txQueue[:min(len(s.txQueue), maxTxBatch)]
		s.txQueue = s.txQueue[len(batch):]
		if len(batch) == 0 {
			s.txQueue = nil
			s.txRunning = false
			s.txMu.Unlock()
			return
		}
		s.txMu.Unlock()
		s.commitBatch(batch)
	}
}

// commitBatch runs a batch of writers in one transaction and tells each
// how it went.
func (s *Store) commitBatch(batch []*txRequest) {
	if len(batch) == 1 {
		r := batch[0]
		r.done <- s.runTx(r.ctx, func(tx *sql.Tx) error { return r.fn(r.ctx, tx) })
		return
	}
	errs := make([]error, len(batch))
	err := s.runTx(context.Background(), func(tx *sql.Tx) error {
		for i, r := range batch {
			if err := r.ctx.Err(); err != nil {
				errs[i] = err
				continue
			}
			if _, err := tx.ExecContext(context.Background(), `SAVEPOINT writer`); err != nil {
				return err
			}
			if errs[i] = r.fn(context.WithoutCancel(r.ctx), tx); errs[i] != nil {
				if _, err := tx.ExecContext(context.Background(), `ROLLBACK TO writer`); err != nil {
					return err
				}
			}
			if _, err := tx.ExecContext(context.Background(), `RELEASE writer`); err != nil {
				return err
			}
		}
		return nil
	})
	for i, r := range batch {
		if err != nil {
			r.done <- err
		} else {
			r.done <- errs[i]
		}
	}
}

// runTx runs fn in a write transaction, committed if fn returns nil.
func (s *Store) runTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	s.prepareWanted(ctx)
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

// conn runs the statements of the Writer and the Lookups: in the write
// transaction tx, through the store's prepared statements, or on db
// outside a transaction when tx is nil.
type conn struct {
	s  *Store
	db *sql.DB
	tx *sql.Tx
}

// exec runs a statement. In a transaction it runs prepared: the SQL of
// the writes of every push is parsed once, not on every push (it was a
// fifth of an indexed push's time).
func (c conn) exec(ctx context.Context, st sqlquery.Statement) (sql.Result, error) {
	if c.tx == nil {
		return c.db.ExecContext(ctx, st.SQL, st.Args...)
	}
	if prep := c.prepared(ctx, st); prep != nil {
		return prep.ExecContext(ctx, st.Args...)
	}
	return c.tx.ExecContext(ctx, st.SQL, st.Args...)
}

// prepared returns st's prepared statement in the transaction, or nil
// if it is not prepared yet: the transaction holds the write connection,
// so it is prepared before the next one (prepareWanted).
func (c conn) prepared(ctx context.Context, st sqlquery.Statement) *sql.Stmt {
	prep, ok := c.s.stmts.Load(st.SQL)
	if !ok {
		c.s.wanted.Store(st.SQL, true)
		return nil
	}
	return c.tx.StmtContext(ctx, prep.(*sql.Stmt))
}

func (c conn) Exec(ctx context.Context, st sqlquery.Statement) (int64, error) {
	res, err := c.exec(ctx, st)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (c conn) ExecAll(ctx context.Context, sts []sqlquery.Statement) error {
	for _, st := range sts {
		if _, err := c.exec(ctx, st); err != nil {
			return err
		}
	}
	return nil
}

// queryer is db or the transaction.
func (c conn) queryer() interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
	QueryRowContext(context.Context, string, ...any) *sql.Row
} {
	if c.tx == nil {
		return c.db
	}
	return c.tx
}

func (c conn) Strings(ctx context.Context, st sqlquery.Statement) ([]string, error) {
	return queryStrings(ctx, c.queryer(), st.SQL, st.Args...)
}

// Row runs prepared in a transaction, as exec: a pending mark's insert is
// one of every push's statements.
func (c conn) Row(ctx context.Context, st sqlquery.Statement, dest ...any) error {
	var row *sql.Row
	if c.tx == nil {
		row = c.db.QueryRowContext(ctx, st.SQL, st.Args...)
	} else if prep := c.prepared(ctx, st); prep != nil {
		row = prep.QueryRowContext(ctx, st.Args...)
	} else {
		row = c.tx.QueryRowContext(ctx, st.SQL, st.Args...)
	}
	err := row.Scan(dest...)
	if errors.Is(err, sql.ErrNoRows) {
		return catalog.ErrNotFound
	}
	return err
}

// prepareWanted prepares the statements prepared transactions asked for,
// while no transaction holds the write connection.
func (s *Store) prepareWanted(ctx context.Context) {
	s.wanted.Range(func(q, _ any) bool {
		s.wanted.Delete(q)
		if _, ok := s.stmts.Load(q); !ok {
			if st, err := s.write.PrepareContext(ctx, q.(string)); err == nil {
				s.stmts.Store(q, st)
			}
		}
		return true
	})
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

// fromMicros converts the stored form of a time back, in UTC.
func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }
