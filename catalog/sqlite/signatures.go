package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/opencontainers/go-digest"

	"github.com/cairn-dev/cairn/catalog"
	"github.com/cairn-dev/cairn/catalog/sqlquery"
)

// SetSignatures replaces the signature records of repo@dgst.
func (s *Store) SetSignatures(ctx context.Context, repo string, dgst digest.Digest, sigs []catalog.Signature) error {
	err := s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if err := manifestExists(ctx, tx, repo, dgst); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM signatures WHERE repository = ? AND digest = ?`, repo, string(dgst)); err != nil {
			return err
		}
		for _, sg := range sigs {
			_, err := tx.ExecContext(ctx, `INSERT INTO signatures (repository, digest, signature_digest, position, form, key_id, verified, signed_at, error)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, repo, string(dgst), string(sg.Manifest), sg.Position, sg.Form, sg.KeyID, sg.Verified, micros(sg.SignedAt), sg.Error)
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: set signatures of %s@%s: %w", repo, dgst, err)
	}
	return nil
}

// SignatureSubjects lists what signature manifests point at.
func (s *Store) SignatureSubjects(ctx context.Context, repo, artifactType string) ([]catalog.Node, error) {
	var nodes []catalog.Node
	err := s.query(ctx, sqlquery.SignatureSubjects(sqlquery.SQLite, repo, artifactType), func(rows *sql.Rows) error {
		var n catalog.Node
		var dgst string
		if err := rows.Scan(&n.Repository, &dgst); err != nil {
			return err
		}
		n.Digest = digest.Digest(dgst)
		nodes = append(nodes, n)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: signature subjects: %w", err)
	}
	return nodes, nil
}

// Setting returns a stored setting, "" if none.
func (s *Store) Setting(ctx context.Context, key string) (string, error) {
	var v string
	err := s.read.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("sqlite: setting %s: %w", key, err)
	}
	return v, nil
}

// SetSetting stores a setting.
func (s *Store) SetSetting(ctx context.Context, key, value string) error {
	_, err := s.write.ExecContext(ctx, `INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value)
	if err == nil {
		err = s.durable()
	}
	if err != nil {
		return fmt.Errorf("sqlite: set setting %s: %w", key, err)
	}
	return nil
}

// loadSignatures fills the signature records of ms.
func loadSignatures(ctx context.Context, tx *sql.Tx, idx map[sqlquery.Key]*catalog.Manifest, ms []catalog.Manifest) error {
	st := sqlquery.Signatures(sqlquery.SQLite, ms)
	rows, err := tx.QueryContext(ctx, st.SQL, st.Args...)
	if err != nil {
		return fmt.Errorf("signatures: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k sqlquery.Key
		var sg catalog.Signature
		var sigDigest string
		var signed int64
		if err := rows.Scan(&k.Repository, &k.Digest, &sigDigest, &sg.Position, &sg.Form, &sg.KeyID, &sg.Verified, &signed, &sg.Error); err != nil {
			return fmt.Errorf("signatures: %w", err)
		}
		sg.Manifest, sg.SignedAt = digest.Digest(sigDigest), fromMicros(signed)
		if m := idx[k]; m != nil {
			m.Signatures = append(m.Signatures, sg)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("signatures: %w", err)
	}
	return nil
}

// manifestExists returns ErrNotFound unless repo@dgst is in the catalog.
func manifestExists(ctx context.Context, tx *sql.Tx, repo string, dgst digest.Digest) error {
	var one int
	err := tx.QueryRowContext(ctx, `SELECT 1 FROM manifests WHERE repository = ? AND digest = ?`, repo, string(dgst)).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return catalog.ErrNotFound
	}
	return err
}
