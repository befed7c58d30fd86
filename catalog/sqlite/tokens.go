package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/cairn-dev/cairn/catalog"
	"github.com/cairn-dev/cairn/catalog/sqlquery"
)

const tokenColumns = sqlquery.TokenColumns

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
