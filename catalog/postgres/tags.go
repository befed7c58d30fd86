package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/opencontainers/go-digest"

	"github.com/cairn-dev/cairn/catalog"
)

// Tag points tag at dgst in repo, moving it if it pointed elsewhere;
// ErrNotFound if repo holds no manifest dgst.
func (s *Store) Tag(ctx context.Context, repo, tag string, dgst digest.Digest) error {
	// One statement: the tag is written only if the manifest exists. A
	// delete of the manifest racing it makes the foreign key fail instead.
	err := affected(s.exec(ctx, `
INSERT INTO tags (repository, tag, digest)
SELECT $1, $2, $3 WHERE EXISTS (SELECT 1 FROM manifests WHERE repository = $1 AND digest = $3)
ON CONFLICT (repository, tag) DO UPDATE SET digest = excluded.digest`, repo, tag, string(dgst)))
	if isForeignKeyViolation(err) {
		err = catalog.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("postgres: tag %s:%s as %s: %w", repo, tag, dgst, err)
	}
	return nil
}

// DeleteTag removes a tag; ErrNotFound if it does not exist.
func (s *Store) DeleteTag(ctx context.Context, repo, tag string) error {
	err := affected(s.exec(ctx, `DELETE FROM tags WHERE repository = $1 AND tag = $2`, repo, tag))
	if err != nil {
		return fmt.Errorf("postgres: delete tag %s:%s: %w", repo, tag, err)
	}
	return nil
}

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
