package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/cairn-dev/cairn/catalog"
	"github.com/cairn-dev/cairn/catalog/sqlquery"
)

const tokenColumns = `id, user, scopes, hash, created_at, expires_at, last_used_at, revoked_at`

// microsOrZero stores a zero time as 0.
func microsOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return micros(t)
}

func fromMicrosOrZero(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return fromMicros(us)
}

func scanToken(row interface{ Scan(...any) error }) (catalog.Token, error) {
	var t catalog.Token
	var created, expires, used, revoked int64
	if err := row.Scan(&t.ID, &t.User, &t.Scopes, &t.Hash, &created, &expires, &used, &revoked); err != nil {
		return catalog.Token{}, err
	}
	t.CreatedAt, t.ExpiresAt, t.LastUsedAt, t.RevokedAt = fromMicros(created), fromMicrosOrZero(expires), fromMicrosOrZero(used), fromMicrosOrZero(revoked)
	return t, nil
}

// CreateToken stores a token.
func (s *Store) CreateToken(ctx context.Context, t catalog.Token) error {
	_, err := s.write.ExecContext(ctx, `INSERT INTO tokens (`+tokenColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		t.ID, t.User, t.Scopes, t.Hash, micros(t.CreatedAt), microsOrZero(t.ExpiresAt), microsOrZero(t.LastUsedAt), microsOrZero(t.RevokedAt))
	if err == nil {
		err = s.durable()
	}
	if err != nil {
		return fmt.Errorf("sqlite: create token: %w", err)
	}
	return nil
}

// TokenByHash finds a token by the hash of its secret.
func (s *Store) TokenByHash(ctx context.Context, hash []byte) (catalog.Token, error) {
	t, err := scanToken(s.read.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM tokens WHERE hash = ?`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return catalog.Token{}, catalog.ErrNotFound
	}
	if err != nil {
		return catalog.Token{}, fmt.Errorf("sqlite: token: %w", err)
	}
	return t, nil
}

// Tokens lists the tokens, oldest first.
func (s *Store) Tokens(ctx context.Context) ([]catalog.Token, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+tokenColumns+` FROM tokens ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: tokens: %w", err)
	}
	defer rows.Close()
	out := []catalog.Token{}
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: tokens: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// RevokeToken marks a token revoked (the first revocation's time stays).
func (s *Store) RevokeToken(ctx context.Context, id string, at time.Time) error {
	res, err := s.write.ExecContext(ctx, `UPDATE tokens SET revoked_at = CASE WHEN revoked_at = 0 THEN ? ELSE revoked_at END WHERE id = ?`, micros(at), id)
	if err == nil {
		err = affected(res)
	}
	if err == nil {
		err = s.durable()
	}
	if err != nil {
		return fmt.Errorf("sqlite: revoke token %s: %w", id, err)
	}
	return nil
}

// TouchToken records a use.
func (s *Store) TouchToken(ctx context.Context, id string, at time.Time) error {
	if _, err := s.write.ExecContext(ctx, `UPDATE tokens SET last_used_at = ? WHERE id = ?`, micros(at), id); err != nil {
		return fmt.Errorf("sqlite: touch token %s: %w", id, err)
	}
	return nil
}

// Ownership returns who owns a manifest and its visibility.
func (s *Store) Ownership(ctx context.Context, repo string, dgst digest.Digest) (string, catalog.Visibility, error) {
	var owner, vis sql.NullString
	err := s.read.QueryRowContext(ctx, `SELECT o.owner, o.visibility FROM manifests m LEFT JOIN owners o ON o.repository = m.repository AND o.digest = m.digest
WHERE m.repository = ? AND m.digest = ?`, repo, string(dgst)).Scan(&owner, &vis)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", catalog.ErrNotFound
	}
	if err != nil {
		return "", "", fmt.Errorf("sqlite: owner of %s@%s: %w", repo, dgst, err)
	}
	return owner.String, catalog.Visibility(vis.String), nil
}

// SetVisibility records the visibility of a manifest, keeping its owner.
func (s *Store) SetVisibility(ctx context.Context, repo string, dgst digest.Digest, vis catalog.Visibility) error {
	err := s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if err := manifestExists(ctx, tx, repo, dgst); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO owners (repository, digest, owner, visibility) VALUES (?, ?, '', ?)
ON CONFLICT (repository, digest) DO UPDATE SET visibility = excluded.visibility`, repo, string(dgst), string(vis))
		return err
	})
	if err == nil {
		err = s.durable()
	}
	if err != nil {
		return fmt.Errorf("sqlite: set visibility of %s@%s: %w", repo, dgst, err)
	}
	return nil
}

// VisibleTags lists the tags of repo whose manifests v sees.
func (s *Store) VisibleTags(ctx context.Context, repo string, v *catalog.Viewer) ([]string, error) {
	st := sqlquery.VisibleTags(sqlquery.SQLite, repo, v)
	out, err := queryStrings(ctx, s.read, st.SQL, st.Args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: tags of %s: %w", repo, err)
	}
	return out, nil
}
