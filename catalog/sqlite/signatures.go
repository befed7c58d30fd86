package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/opencontainers/go-digest"

	"github.com/cairn-dev/cairn/catalog"
	"github.com/cairn-dev/cairn/catalog/sqlquery"
)

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
