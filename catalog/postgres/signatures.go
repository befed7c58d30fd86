package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/opencontainers/go-digest"

	"github.com/cairn-dev/cairn/catalog"
	"github.com/cairn-dev/cairn/catalog/sqlquery"
)

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
