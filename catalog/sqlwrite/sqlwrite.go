// Package sqlwrite holds the catalog's writes, once, for both stores: the
// SQL of every statement that changes the catalog, spelt for a store by its
// sqlquery.Dialect, and the order the statements of each write run in.
// Writer implements the writing methods of catalog.Store; catalog/sqlite
// and catalog/postgres embed it and give it what is their own: how a
// statement runs on their connections and how a write transaction begins
// and commits (Config).
//
// Every value that comes from a caller is a bind argument. The statements
// expect the tables of the stores' schemas.
package sqlwrite

import (
	"context"
	"fmt"
	"time"

	"github.com/cairn-dev/cairn/catalog"
	"github.com/cairn-dev/cairn/catalog/sqlquery"
)

// Conn runs statements for a Writer: a store's write transaction, or its
// database outside one (each statement committed on its own). Its queries
// (sqlquery.Rows) read what the transaction wrote.
type Conn interface {
	sqlquery.Rows
	// Exec runs st and returns how many rows it changed.
	Exec(ctx context.Context, st sqlquery.Statement) (int64, error)
	// ExecAll runs sts in order and stops at the first error. A store may
	// send them together (PostgreSQL's pipeline).
	ExecAll(ctx context.Context, sts []sqlquery.Statement) error
}

// Config is what a store gives its Writer.
type Config struct {
	// Store names the store in errors ("sqlite", "postgres").
	Store   string
	Dialect sqlquery.Dialect
	// DB runs the writes of one statement, each committed on its own.
	DB Conn
	// InTx runs fn in a write transaction, committed if fn returns nil and
	// undone if it returns an error; fn runs its statements on c with ctx.
	InTx func(ctx context.Context, fn func(ctx context.Context, c Conn) error) error
	// MarkInTx makes MarkPending a transaction of InTx rather than a
	// statement of DB: a store whose InTx commits concurrent writers
	// together has every push's mark share a commit that way.
	MarkInTx bool
}

// Writer does the catalog's writes: the methods of catalog.Store that
// change it. Its methods are safe for concurrent use if the Config's are.
type Writer struct {
	c  Config
	sp *sqlquery.Spelling
}

// New returns the Writer of a store.
func New(c Config) *Writer { return &Writer{c: c, sp: sqlquery.NewSpelling(c.Dialect)} }

// st returns the statement q (SQL with a ? for each argument) in the
// store's dialect, with args.
func (w *Writer) st(q string, args ...any) sqlquery.Statement { return w.sp.Statement(q, args...) }

// time returns the stored form of t, kept to the microsecond.
func (w *Writer) time(t time.Time) any {
	return w.c.Dialect.Time(t.Truncate(time.Microsecond).UTC())
}

// optionalTime is time, with a zero t stored as unset.
func (w *Writer) optionalTime(t time.Time) any {
	if t.IsZero() {
		return w.c.Dialect.NoTime
	}
	return w.time(t)
}

// errorf returns an error of the store's.
func (w *Writer) errorf(format string, a ...any) error {
	return fmt.Errorf(w.c.Store+": "+format, a...)
}

// exec runs one statement on DB: catalog.ErrNotFound if it changed no row.
func (w *Writer) exec(ctx context.Context, st sqlquery.Statement) error {
	n, err := w.c.DB.Exec(ctx, st)
	if err == nil && n == 0 {
		err = catalog.ErrNotFound
	}
	return err
}

// lockManifest returns ErrNotFound unless repo@dgst is in the catalog, and
// locks its row where the dialect does, so that a concurrent delete waits
// for the transaction.
func (w *Writer) lockManifest(ctx context.Context, c Conn, repo, dgst string) error {
	var one int
	return c.Row(ctx, w.st(`SELECT 1 FROM manifests WHERE repository = ? AND digest = ?`+w.c.Dialect.ForUpdate, repo, dgst), &one)
}
