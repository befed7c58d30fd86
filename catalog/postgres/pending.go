package postgres

import (
	"context"
	"fmt"
)

// MarkPending records that repo is about to change and returns the mark's
// id. Ids are never reused.
func (s *Store) MarkPending(ctx context.Context, repo string) (int64, error) {
	var id int64
	err := s.pool.QueryRow(ctx, `INSERT INTO pending (repository, created_at) VALUES ($1, now()) RETURNING id`, repo).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("postgres: mark %s pending: %w", repo, err)
	}
	return id, nil
}

// ClearPending removes one mark. Removing a mark that is gone is not an error.
func (s *Store) ClearPending(ctx context.Context, id int64) error {
	if _, err := s.exec(ctx, `DELETE FROM pending WHERE id = $1`, id); err != nil {
		return fmt.Errorf("postgres: clear pending mark %d: %w", id, err)
	}
	return nil
}

// Pending lists the repositories with marks, sorted, without duplicates.
func (s *Store) Pending(ctx context.Context) ([]string, error) {
	repos, err := queryStrings(ctx, s.pool, `SELECT DISTINCT repository FROM pending ORDER BY repository`)
	if err != nil {
		return nil, fmt.Errorf("postgres: pending: %w", err)
	}
	return repos, nil
}

// ClearPendingRepository removes every mark of repo.
func (s *Store) ClearPendingRepository(ctx context.Context, repo string) error {
	if _, err := s.exec(ctx, `DELETE FROM pending WHERE repository = $1`, repo); err != nil {
		return fmt.Errorf("postgres: clear pending marks of %s: %w", repo, err)
	}
	return nil
}
