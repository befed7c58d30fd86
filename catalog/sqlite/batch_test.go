package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
)

// TestGroupCommit checks the batches of inTx: writers committed together
// each get their own answer, a writer that fails leaves nothing behind
// while the others of its batch are kept, and a writer whose context is
// cancelled while it waits is not run.
func TestGroupCommit(t *testing.T) {
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()
	errFail := errors.New("writer fails")
	const writers = 400
	results := make([]error, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wctx := ctx
			if i%10 == 9 {
				c, cancel := context.WithCancel(ctx)
				cancel()
				wctx = c
			}
			results[i] = s.inTx(wctx, func(ctx context.Context, tx *sql.Tx) error {
				if _, err := tx.ExecContext(ctx, `INSERT INTO settings (key, value) VALUES (?, 'x')`, fmt.Sprint("w", i)); err != nil {
					return err
				}
				if i%7 == 3 {
					return errFail
				}
				return nil
			})
		}()
	}
	wg.Wait()
	for i, err := range results {
		got, err2 := s.Setting(ctx, fmt.Sprint("w", i))
		if err2 != nil {
			t.Fatal(err2)
		}
		switch {
		case i%10 == 9:
			if err == nil || got != "" {
				t.Errorf("writer %d, cancelled: error %v, wrote %q", i, err, got)
			}
		case i%7 == 3:
			if !errors.Is(err, errFail) || got != "" {
				t.Errorf("writer %d, failing: error %v, wrote %q; want its own error and nothing written", i, err, got)
			}
		default:
			if err != nil || got != "x" {
				t.Errorf("writer %d: error %v, wrote %q; want its write kept", i, err, got)
			}
		}
	}
}
