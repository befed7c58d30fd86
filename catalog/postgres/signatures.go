package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/opencontainers/go-digest"

	"github.com/cairn-dev/cairn/catalog"
	"github.com/cairn-dev/cairn/catalog/sqlquery"
)

// SetSignatures replaces the signature records of repo@dgst.
func (s *Store) SetSignatures(ctx context.Context, repo string, dgst digest.Digest, sigs []catalog.Signature) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockManifest(ctx, tx, repo, dgst); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM signatures WHERE repository = $1 AND digest = $2`, repo, string(dgst)); err != nil {
			return err
		}
		for _, sg := range sigs {
			_, err := tx.Exec(ctx, `INSERT INTO signatures (repository, digest, signature_digest, position, form, key_id, verified, signed_at, error)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, repo, string(dgst), string(sg.Manifest), sg.Position, sg.Form, sg.KeyID, sg.Verified, sg.SignedAt, sg.Error)
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("postgres: set signatures of %s@%s: %w", repo, dgst, err)
	}
	return nil
}

// SignatureSubjects lists what signature manifests point at.
func (s *Store) SignatureSubjects(ctx context.Context, repo, artifactType string) ([]catalog.Node, error) {
	nodes, err := collect(ctx, s.pool, sqlquery.SignatureSubjects(sqlquery.Postgres, repo, artifactType), func(row pgx.CollectableRow) (catalog.Node, error) {
		var n catalog.Node
		var dgst string
		err := row.Scan(&n.Repository, &dgst)
		n.Digest = digest.Digest(dgst)
		return n, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: signature subjects: %w", err)
	}
	return nodes, nil
}

// Setting returns a stored setting, "" if none.
func (s *Store) Setting(ctx context.Context, key string) (string, error) {
	var v string
	err := s.pool.QueryRow(ctx, `SELECT value FROM settings WHERE key = $1`, key).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("postgres: setting %s: %w", key, err)
	}
	return v, nil
}

// SetSetting stores a setting.
func (s *Store) SetSetting(ctx context.Context, key, value string) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value)
	if err != nil {
		return fmt.Errorf("postgres: set setting %s: %w", key, err)
	}
	return nil
}

// loadSignatures fills the signature records of ms.
func loadSignatures(ctx context.Context, tx pgx.Tx, idx map[sqlquery.Key]*catalog.Manifest, ms []catalog.Manifest) error {
	st := sqlquery.Signatures(sqlquery.Postgres, ms)
	rows, err := tx.Query(ctx, st.SQL, st.Args...)
	if err != nil {
		return fmt.Errorf("signatures: %w", err)
	}
	var k sqlquery.Key
	var sg catalog.Signature
	var sigDigest string
	var signed time.Time
	_, err = pgx.ForEachRow(rows, []any{&k.Repository, &k.Digest, &sigDigest, &sg.Position, &sg.Form, &sg.KeyID, &sg.Verified, &signed, &sg.Error}, func() error {
		sg.Manifest, sg.SignedAt = digest.Digest(sigDigest), signed.UTC()
		if m := idx[k]; m != nil {
			m.Signatures = append(m.Signatures, sg)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("signatures: %w", err)
	}
	return nil
}

// lockManifest locks repo@dgst's row for the transaction, so that a
// concurrent delete waits; ErrNotFound if it is not in the catalog.
func lockManifest(ctx context.Context, tx pgx.Tx, repo string, dgst digest.Digest) error {
	var one int
	err := tx.QueryRow(ctx, `SELECT 1 FROM manifests WHERE repository = $1 AND digest = $2 FOR UPDATE`, repo, string(dgst)).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return catalog.ErrNotFound
	}
	return err
}
