// Package postgres is the catalog.Store kept in a PostgreSQL database,
// through github.com/jackc/pgx/v5.
//
// The tables live in the schema the connections select: the first schema of
// the DSN's search_path parameter if it has one (the schema must exist),
// else the server's default (usually public). Text keys use the "C"
// collation, so that lists sort by bytes as in the SQLite store.
package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cairn-dev/cairn/catalog"
	"github.com/cairn-dev/cairn/catalog/sqlquery"
)

// Store is a catalog.Store in a PostgreSQL database. Its methods are safe for
// concurrent use. A zero PushedAt given to IndexPush or ReplaceRepository
// is recorded as the time of the call; times are kept to the microsecond and
// returned in UTC.
type Store struct {
	pool    *pgxpool.Pool
	sampler *sqlquery.Sampler
}

var _ catalog.Store = (*Store)(nil)

// Open connects to the database named by dsn (a postgres:// URL or a
// keyword/value string, as pgx accepts) and creates or migrates the schema.
// Besides pgx's parameters, the DSN may set pgxpool's pool parameters, such
// as pool_max_conns, the number of connections the store opens at most
// (pgxpool's default: 4 or the number of CPUs, whichever is greater).
func Open(ctx context.Context, dsn string) (*Store, error) {
	config, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	// search_path, if the DSN sets it, is a runtime parameter that every
	// connection sends when it starts, so no AfterConnect hook is needed.
	pool, err := pgxpool.NewWithConfig(ctx, config)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		cc := config.ConnConfig
		return nil, fmt.Errorf("postgres: open %s@%s:%d/%s: %w", cc.User, cc.Host, cc.Port, cc.Database, err)
	}
	s := &Store{pool: pool}
	s.sampler = sqlquery.NewSampler(s.readSample)
	return s, nil
}

// readSample reads the query planner's sample of the catalog.
func (s *Store) readSample(ctx context.Context) (*sqlquery.Sample, error) {
	count := func(st sqlquery.Statement) (n int64, err error) {
		return n, s.pool.QueryRow(ctx, st.SQL, st.Args...).Scan(&n)
	}
	annots := func(st sqlquery.Statement) ([]map[string]string, error) {
		rows, err := s.pool.Query(ctx, st.SQL, st.Args...)
		if err != nil {
			return nil, err
		}
		return pgx.CollectRows(rows, func(row pgx.CollectableRow) (map[string]string, error) {
			var text string
			if err := row.Scan(&text); err != nil {
				return nil, err
			}
			return decodeAnnotations(text)
		})
	}
	return sqlquery.ReadSample(sqlquery.Postgres, count, annots)
}

// Close closes the store's connections, waiting for those in use to be
// released. It always returns nil.
func (s *Store) Close() error {
	s.sampler.Close()
	s.pool.Close()
	return nil
}

// Ping reports whether the database can be reached.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: ping: %w", err)
	}
	return nil
}

// inTx runs fn in a read-committed transaction, committed if fn returns nil.
func (s *Store) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.pool, fn)
}

// inReadTx runs fn in a read-only transaction that sees one snapshot.
func (s *Store) inReadTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	opts := pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}
	return pgx.BeginTxFunc(ctx, s.pool, opts, fn)
}

// exec runs one statement outside a transaction and returns its command tag.
func (s *Store) exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	return s.pool.Exec(ctx, sql, args...)
}

// affected returns catalog.ErrNotFound if a statement changed no row.
func affected(tag pgconn.CommandTag, err error) error {
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return catalog.ErrNotFound
	}
	return nil
}

// pushTime returns the time to record for a push at t: now if t is zero,
// truncated to the microseconds PostgreSQL keeps.
func pushTime(t time.Time) time.Time {
	if t.IsZero() {
		t = time.Now()
	}
	return t.Truncate(time.Microsecond)
}
