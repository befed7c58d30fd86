package postgres

import (
	"context"
	"fmt"
)

// Pending lists the repositories with marks, sorted, without duplicates.
func (s *Store) Pending(ctx context.Context) ([]string, error) {
	repos, err := queryStrings(ctx, s.pool, `SELECT DISTINCT repository FROM pending ORDER BY repository`)
	if err != nil {
		return nil, fmt.Errorf("postgres: pending: %w", err)
	}
	return repos, nil
}
