package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/opencontainers/go-digest"

	"github.com/cairn-dev/cairn/catalog"
)

// ResolveTag returns the digest a tag points at; ErrNotFound if there is no
// such tag.
func (s *Store) ResolveTag(ctx context.Context, repo, tag string) (digest.Digest, error) {
	var dgst string
	err := s.pool.QueryRow(ctx, `SELECT digest FROM tags WHERE repository = $1 AND tag = $2`, repo, tag).Scan(&dgst)
	if errors.Is(err, pgx.ErrNoRows) {
		err = catalog.ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("postgres: resolve tag %s:%s: %w", repo, tag, err)
	}
	return digest.Digest(dgst), nil
}
