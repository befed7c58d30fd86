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
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/cairn-dev/cairn/catalog"
)

// defaultPoolSize is the number of connections a store opens at most, unless
// the DSN sets pool_max_conns.
const defaultPoolSize = 8

// Store is a catalog.Store in a PostgreSQL database. Its methods are safe for
// concurrent use. A zero PushedAt given to PutManifest or ReplaceRepository
// is recorded as the time of the call; times are kept to the microsecond and
// returned in UTC.
type Store struct {
	pool *pool
}

var _ catalog.Store = (*Store)(nil)

// Open connects to the database named by dsn (a postgres:// URL or a
// keyword/value string, as pgx accepts) and creates or migrates the schema.
// Besides pgx's parameters, the DSN may set pool_max_conns, the number of
// connections the store opens at most (8 by default).
func Open(ctx context.Context, dsn string) (*Store, error) {
	config, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	size := defaultPoolSize
	if v, ok := config.RuntimeParams["pool_max_conns"]; ok {
		delete(config.RuntimeParams, "pool_max_conns")
		if size, err = strconv.Atoi(v); err != nil || size < 1 {
			return nil, fmt.Errorf("postgres: open: pool_max_conns %q is not a positive number", v)
		}
	}
	s := &Store{pool: newPool(config, size)}
	if err := s.pool.with(ctx, func(c *pgx.Conn) error { return migrate(ctx, c) }); err != nil {
		s.pool.close()
		return nil, fmt.Errorf("postgres: open %s@%s:%d/%s: %w", config.User, config.Host, config.Port, config.Database, err)
	}
	return s, nil
}

// Close closes the store's connections.
func (s *Store) Close() error {
	if err := s.pool.close(); err != nil {
		return fmt.Errorf("postgres: close: %w", err)
	}
	return nil
}

// Ping reports whether the database can be reached.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.with(ctx, func(c *pgx.Conn) error { return c.Ping(ctx) }); err != nil {
		return fmt.Errorf("postgres: ping: %w", err)
	}
	return nil
}

// inTx runs fn in a read-committed transaction, committed if fn returns nil.
func (s *Store) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return s.pool.with(ctx, func(c *pgx.Conn) error { return pgx.BeginFunc(ctx, c, fn) })
}

// inReadTx runs fn in a read-only transaction that sees one snapshot.
func (s *Store) inReadTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	opts := pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}
	return s.pool.with(ctx, func(c *pgx.Conn) error { return pgx.BeginTxFunc(ctx, c, opts, fn) })
}

// exec runs one statement outside a transaction and returns its command tag.
func (s *Store) exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	var tag pgconn.CommandTag
	err := s.pool.with(ctx, func(c *pgx.Conn) error {
		var err error
		tag, err = c.Exec(ctx, sql, args...)
		return err
	})
	return tag, err
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

// isForeignKeyViolation reports whether err is PostgreSQL's
// foreign_key_violation, what a write racing a delete of its manifest gets.
func isForeignKeyViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23503"
}

// pushTime returns the time to record for a push at t: now if t is zero,
// truncated to the microseconds PostgreSQL keeps.
func pushTime(t time.Time) time.Time {
	if t.IsZero() {
		t = time.Now()
	}
	return t.Truncate(time.Microsecond)
}
