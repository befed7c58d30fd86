package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"slices"

	"github.com/opencontainers/go-digest"

	"github.com/cairn-dev/cairn/catalog"
)

// Repositories lists the repositories holding at least one manifest, sorted.
func (s *Store) Repositories(ctx context.Context) ([]string, error) {
	repos, err := queryStrings(ctx, s.read, `SELECT DISTINCT repository FROM manifests ORDER BY repository`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: repositories: %w", err)
	}
	return repos, nil
}

// ReplaceRepository makes repo hold exactly ms and tags, in one transaction.
// The Repository field of each entry is ignored (repo is used). Push times of
// entries already present are kept. A tag pointing at a digest that is not
// in ms is an ErrNotFound error, and nothing changes.
func (s *Store) ReplaceRepository(ctx context.Context, repo string, ms []catalog.Manifest, tags map[string]digest.Digest) error {
	keep := make(map[string]bool, len(ms))
	for _, m := range ms {
		keep[string(m.Digest)] = true
	}
	names := make([]string, 0, len(tags))
	for tag, dgst := range tags {
		if !keep[string(dgst)] {
			return fmt.Errorf("sqlite: replace repository %s: tag %s: manifest %s: %w", repo, tag, dgst, catalog.ErrNotFound)
		}
		names = append(names, tag)
	}
	slices.Sort(names)

	err := s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM tags WHERE repository = ?`, repo); err != nil {
			return err
		}
		present, err := queryStrings(ctx, tx, `SELECT digest FROM manifests WHERE repository = ?`, repo)
		if err != nil {
			return err
		}
		for _, dgst := range present {
			if keep[dgst] {
				continue
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM manifests WHERE repository = ? AND digest = ?`, repo, dgst); err != nil {
				return err
			}
		}
		for _, m := range ms {
			m.Repository = repo
			if err := putManifest(ctx, tx, m); err != nil {
				return fmt.Errorf("manifest %s: %w", m.Digest, err)
			}
		}
		for _, tag := range names {
			_, err := tx.ExecContext(ctx, `INSERT INTO tags (repository, tag, digest) VALUES (?, ?, ?)`, repo, tag, string(tags[tag]))
			if err != nil {
				return fmt.Errorf("tag %s: %w", tag, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: replace repository %s: %w", repo, err)
	}
	return nil
}

// Stats counts the repositories, manifests and tags.
func (s *Store) Stats(ctx context.Context) (catalog.Stats, error) {
	var st catalog.Stats
	err := s.read.QueryRowContext(ctx, `
SELECT
	(SELECT COUNT(DISTINCT repository) FROM manifests),
	(SELECT COUNT(*) FROM manifests),
	(SELECT COUNT(*) FROM tags)`).Scan(&st.Repositories, &st.Manifests, &st.Tags)
	if err != nil {
		return catalog.Stats{}, fmt.Errorf("sqlite: stats: %w", err)
	}
	return st, nil
}
