package postgres

import (
	"context"
	"fmt"

	"github.com/cairn-dev/cairn/catalog"
)

// Repositories lists the repositories holding at least one manifest, sorted.
func (s *Store) Repositories(ctx context.Context) ([]string, error) {
	repos, err := queryStrings(ctx, s.pool, `SELECT DISTINCT repository FROM manifests ORDER BY repository`)
	if err != nil {
		return nil, fmt.Errorf("postgres: repositories: %w", err)
	}
	return repos, nil
}

// Stats counts the repositories, manifests and tags.
func (s *Store) Stats(ctx context.Context) (catalog.Stats, error) {
	var st catalog.Stats
	err := s.pool.QueryRow(ctx, `
SELECT
	(SELECT COUNT(DISTINCT repository) FROM manifests),
	(SELECT COUNT(*) FROM manifests),
	(SELECT COUNT(*) FROM tags)`).Scan(&st.Repositories, &st.Manifests, &st.Tags)
	if err != nil {
		return catalog.Stats{}, fmt.Errorf("postgres: stats: %w", err)
	}
	return st, nil
}
