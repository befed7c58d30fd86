package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// MarkPending records that repo is about to change and returns the mark's
// id. Ids are never reused.
func (s *Store) MarkPending(ctx context.Context, repo string) (int64, error) {
	var id int64
	err := s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO pending (repository, created_at) VALUES (?, ?)`, repo, micros(time.Now()))
		if err == nil {
			id, err = res.LastInsertId()
		}
		return err
	})
	if err == nil && !s.skipMarkSync {
		err = s.durable()
	}
	if err != nil {
		return 0, fmt.Errorf("sqlite: mark %s pending: %w", repo, err)
	}
	return id, nil
}

// ClearPending removes one mark. Removing a mark that is gone is not an error.
func (s *Store) ClearPending(ctx context.Context, id int64) error {
	if _, err := s.write.ExecContext(ctx, `DELETE FROM pending WHERE id = ?`, id); err != nil {
		return fmt.Errorf("sqlite: clear pending mark %d: %w", id, err)
	}
	return nil
}

// Pending lists the repositories with marks, sorted, without duplicates.
func (s *Store) Pending(ctx context.Context) ([]string, error) {
	repos, err := queryStrings(ctx, s.read, `SELECT DISTINCT repository FROM pending ORDER BY repository`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: pending: %w", err)
	}
	return repos, nil
}

// ClearPendingRepository removes every mark of repo.
func (s *Store) ClearPendingRepository(ctx context.Context, repo string) error {
	if _, err := s.write.ExecContext(ctx, `DELETE FROM pending WHERE repository = ?`, repo); err != nil {
		return fmt.Errorf("sqlite: clear pending marks of %s: %w", repo, err)
	}
	return nil
}
