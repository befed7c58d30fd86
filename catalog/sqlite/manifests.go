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

// Manifest returns one entry with its layers and tags.
func (s *Store) Manifest(ctx context.Context, repo string, dgst digest.Digest) (catalog.Manifest, error) {
	var m catalog.Manifest
	err := s.inReadTx(ctx, func(tx *sql.Tx) error {
		st := sqlquery.Manifest(sqlquery.SQLite, repo, dgst)
		row := tx.QueryRowContext(ctx, st.SQL, st.Args...)
		var err error
		if m, err = scanManifest(row); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return catalog.ErrNotFound
			}
			return err
		}
		ms := []catalog.Manifest{m}
		err = loadDetails(ctx, tx, ms)
		m = ms[0]
		return err
	})
	if err != nil {
		return catalog.Manifest{}, fmt.Errorf("sqlite: manifest %s@%s: %w", repo, dgst, err)
	}
	return m, nil
}

// Manifests returns the entries of nodes the catalog holds, in no order.
func (s *Store) Manifests(ctx context.Context, nodes []catalog.Node) ([]catalog.Manifest, error) {
	var out []catalog.Manifest
	err := s.inReadTx(ctx, func(tx *sql.Tx) error {
		var err error
		if out, err = readManifests(ctx, tx, nodes); err != nil {
			return err
		}
		return loadDetails(ctx, tx, out)
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: manifests: %w", err)
	}
	return out, nil
}

// readManifests reads the entries of nodes the catalog holds, in no
// order, without their details (loadDetails).
func readManifests(ctx context.Context, tx *sql.Tx, nodes []catalog.Node) ([]catalog.Manifest, error) {
	out := []catalog.Manifest{}
	for _, batch := range sqlquery.Batches(nodes) {
		st := sqlquery.ManifestsAt(sqlquery.SQLite, batch)
		rows, err := tx.QueryContext(ctx, st.SQL, st.Args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			m, err := scanManifest(rows)
			if err != nil {
				rows.Close()
				return nil, err
			}
			out = append(out, m)
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Referrers returns the entries in repo whose subject is subject, oldest push
// first (then by digest), only those of artifactType unless it is "".
func (s *Store) Referrers(ctx context.Context, repo string, subject digest.Digest, artifactType string) ([]catalog.Manifest, error) {
	ms := []catalog.Manifest{}
	err := s.inReadTx(ctx, func(tx *sql.Tx) error {
		st := sqlquery.Referrers(sqlquery.SQLite, repo, subject, artifactType)
		rows, err := tx.QueryContext(ctx, st.SQL, st.Args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			m, err := scanManifest(rows)
			if err != nil {
				return err
			}
			ms = append(ms, m)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		rows.Close()
		return loadDetails(ctx, tx, ms)
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: referrers of %s@%s: %w", repo, subject, err)
	}
	return ms, nil
}

// scanManifest reads the sqlquery.ManifestColumns of one row, and then the columns
// that follow into extra.
func scanManifest(row interface{ Scan(...any) error }, extra ...any) (catalog.Manifest, error) {
	var (
		m                         catalog.Manifest
		dgst, subject, annotation string
		pushed                    int64
	)
	err := row.Scan(append([]any{&m.Repository, &dgst, &m.MediaType, &m.ArtifactType, &annotation, &subject, &m.Size, &m.TotalSize, &pushed}, extra...)...)
	if err != nil {
		return catalog.Manifest{}, err
	}
	m.Digest, m.Subject, m.PushedAt = digest.Digest(dgst), digest.Digest(subject), fromMicros(pushed)
	if m.Annotations, err = sqlquery.DecodeAnnotations(annotation); err != nil {
		return catalog.Manifest{}, err
	}
	return m, nil
}

// loadDetails fills the layers and tags of every manifest of ms, with one
// query for each.
func loadDetails(ctx context.Context, tx *sql.Tx, ms []catalog.Manifest) error {
	if len(ms) == 0 {
		return nil
	}
	idx := sqlquery.Index(ms)
	st := sqlquery.Layers(sqlquery.SQLite, ms)
	rows, err := tx.QueryContext(ctx, st.SQL, st.Args...)
	if err != nil {
		return fmt.Errorf("layers: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var l catalog.Layer
		var k sqlquery.Key
		var dgst, annots string
		if err := rows.Scan(&k.Repository, &k.Digest, &l.Kind, &dgst, &l.MediaType, &l.Size, &l.ArtifactType, &l.Title, &annots); err != nil {
			return fmt.Errorf("layers: %w", err)
		}
		l.Digest = digest.Digest(dgst)
		if l.Annotations, err = sqlquery.DecodeAnnotations(annots); err != nil {
			return err
		}
		if m := idx[k]; m != nil {
			m.Layers = append(m.Layers, l)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("layers: %w", err)
	}
	rows.Close()

	st = sqlquery.Tags(sqlquery.SQLite, ms)
	if rows, err = tx.QueryContext(ctx, st.SQL, st.Args...); err != nil {
		return fmt.Errorf("tags: %w", err)
	}
	defer rows.Close()
	for _, m := range idx {
		m.Tags = []string{}
	}
	for rows.Next() {
		var k sqlquery.Key
		var tag string
		if err := rows.Scan(&k.Repository, &k.Digest, &tag); err != nil {
			return fmt.Errorf("tags: %w", err)
		}
		if m := idx[k]; m != nil {
			m.Tags = append(m.Tags, tag)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("tags: %w", err)
	}
	rows.Close()
	for _, m := range idx {
		m.Signatures = []catalog.Signature{}
	}
	if err := loadOwnership(ctx, tx, idx, ms); err != nil {
		return err
	}
	return loadSignatures(ctx, tx, idx, ms)
}

// loadOwnership fills the owner and visibility of ms.
func loadOwnership(ctx context.Context, tx *sql.Tx, idx map[sqlquery.Key]*catalog.Manifest, ms []catalog.Manifest) error {
	st := sqlquery.Ownership(sqlquery.SQLite, ms)
	rows, err := tx.QueryContext(ctx, st.SQL, st.Args...)
	if err != nil {
		return fmt.Errorf("owners: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k sqlquery.Key
		var owner, vis string
		if err := rows.Scan(&k.Repository, &k.Digest, &owner, &vis); err != nil {
			return fmt.Errorf("owners: %w", err)
		}
		if m := idx[k]; m != nil {
			m.Owner, m.Visibility = owner, catalog.Visibility(vis)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("owners: %w", err)
	}
	return nil
}

// queryStrings returns the first column of every row of a query, as a
// non-nil slice.
func queryStrings(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, query string, args ...any) ([]string, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}
