package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cairn-dev/cairn/catalog"
	"github.com/cairn-dev/cairn/catalog/sqlquery"
)

const tokenColumns = sqlquery.TokenColumns

func fromNull(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

func scanToken(row pgx.Row) (catalog.Token, error) {
	var t catalog.Token
	var expires, used, revoked *time.Time
	if err := row.Scan(&t.ID, &t.User, &t.Scopes, &t.Hash, &t.CreatedAt, &expires, &used, &revoked); err != nil {
		return catalog.Token{}, err
	}
	t.CreatedAt = t.CreatedAt.UTC()
	t.ExpiresAt, t.LastUsedAt, t.RevokedAt = fromNull(expires), fromNull(used), fromNull(revoked)
	return t, nil
}

// TokenByHash finds a token by the hash of its secret.
func (s *Store) TokenByHash(ctx context.Context, hash []byte) (catalog.Token, error) {
	t, err := scanToken(s.pool.QueryRow(ctx, `SELECT `+tokenColumns+` FROM tokens WHERE hash = $1`, hash))
	if errors.Is(err, pgx.ErrNoRows) {
		return catalog.Token{}, catalog.ErrNotFound
	}
	if err != nil {
		return catalog.Token{}, fmt.Errorf("postgres: token: %w", err)
	}
	return t, nil
}

// Tokens lists the tokens, oldest first.
func (s *Store) Tokens(ctx context.Context) ([]catalog.Token, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+tokenColumns+` FROM tokens ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("postgres: tokens: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (catalog.Token, error) { return scanToken(r) })
	if err != nil {
		return nil, fmt.Errorf("postgres: tokens: %w", err)
	}
	return out, nil
}
