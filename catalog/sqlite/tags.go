package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/opencontainers/go-digest"

	"github.com/cairn-dev/cairn/catalog"
)

// ResolveTag returns the digest a tag points at; ErrNotFound if there is no
// such tag.
func (s *Store) ResolveTag(ctx context.Context, repo, tag string) (digest.Digest, error) {
	var dgst string
	err := s.read.QueryRowContext(ctx, `SELECT digest FROM tags WHERE repository = ? AND tag = ?`, repo, tag).Scan(&dgst)
	if errors.Is(err, sql.ErrNoRows) {
		err = catalog.ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("sqlite: resolve tag %s:%s: %w", repo, tag, err)
	}
	return digest.Digest(dgst), nil
}
