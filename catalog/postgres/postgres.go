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
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cairn-dev/cairn/catalog"
	"github.com/cairn-dev/cairn/catalog/sqlquery"
	"github.com/cairn-dev/cairn/catalog/sqlwrite"
)

// Store is a catalog.Store in a PostgreSQL database. Its methods are safe for
// concurrent use. A zero PushedAt given to IndexPush or ReplaceRepository
// is recorded as the time of the call; times are kept to the microsecond and
// returned in UTC.
type Store struct {
	// Writer does the writes (catalog/sqlwrite), on the pool and in its
	// transactions; Lookups reads on the pool.
	*sqlwrite.Writer
	*sqlquery.Lookups

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
	s.Writer = sqlwrite.New(sqlwrite.Config{
		Store:   "postgres",
		Dialect: sqlquery.Postgres,
		DB:      conn{pool},
		InTx: func(ctx context.Context, fn func(ctx context.Context, c sqlwrite.Conn) error) error {
			return s.inTx(ctx, func(tx pgx.Tx) error { return fn(ctx, conn{tx}) })
		},
	})
	s.Lookups = sqlquery.NewLookups("postgres", sqlquery.Postgres, conn{pool})
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
			return sqlquery.DecodeAnnotations(text)
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

// conn runs the statements of the Writer and the Lookups on the pool or
// in a transaction.
type conn struct {
	db interface {
		Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
		Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
		QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
		SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
	}
}

func (c conn) Exec(ctx context.Context, st sqlquery.Statement) (int64, error) {
	tag, err := c.db.Exec(ctx, st.SQL, st.Args...)
	return tag.RowsAffected(), err
}

// ExecAll sends sts in one round trip (a pipeline of pgx.Batch).
func (c conn) ExecAll(ctx context.Context, sts []sqlquery.Statement) error {
	switch len(sts) {
	case 0:
		return nil
	case 1:
		_, err := c.db.Exec(ctx, sts[0].SQL, sts[0].Args...)
		return err
	}
	var batch pgx.Batch
	for _, st := range sts {
		batch.Queue(st.SQL, st.Args...)
	}
	return c.db.SendBatch(ctx, &batch).Close()
}

func (c conn) Strings(ctx context.Context, st sqlquery.Statement) ([]string, error) {
	return queryStrings(ctx, c.db, st.SQL, st.Args...)
}

func (c conn) Row(ctx context.Context, st sqlquery.Statement, dest ...any) error {
	err := c.db.QueryRow(ctx, st.SQL, st.Args...).Scan(dest...)
	if errors.Is(err, pgx.ErrNoRows) {
		return catalog.ErrNotFound
	}
	return err
}

// inReadTx runs fn in a read-only transaction that sees one snapshot.
func (s *Store) inReadTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	opts := pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}
	return pgx.BeginTxFunc(ctx, s.pool, opts, fn)
}
