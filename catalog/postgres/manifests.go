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

// Manifest returns one entry with its layers and tags.
func (s *Store) Manifest(ctx context.Context, repo string, dgst digest.Digest) (catalog.Manifest, error) {
	var m catalog.Manifest
	err := s.inReadTx(ctx, func(tx pgx.Tx) error {
		st := sqlquery.Manifest(sqlquery.Postgres, repo, dgst)
		row := tx.QueryRow(ctx, st.SQL, st.Args...)
		var err error
		if m, err = scanManifest(row); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
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
		return catalog.Manifest{}, fmt.Errorf("postgres: manifest %s@%s: %w", repo, dgst, err)
	}
	return m, nil
}

// Manifests returns the entries of nodes the catalog holds, in no order.
func (s *Store) Manifests(ctx context.Context, nodes []catalog.Node) ([]catalog.Manifest, error) {
	out := []catalog.Manifest{}
	err := s.inReadTx(ctx, func(tx pgx.Tx) error {
		for _, batch := range sqlquery.Batches(nodes) {
			st := sqlquery.ManifestsAt(sqlquery.Postgres, batch)
			rows, err := tx.Query(ctx, st.SQL, st.Args...)
			if err != nil {
				return err
			}
			ms, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (catalog.Manifest, error) { return scanManifest(row) })
			if err != nil {
				return err
			}
			if err := loadDetails(ctx, tx, ms); err != nil {
				return err
			}
			out = append(out, ms...)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: manifests: %w", err)
	}
	return out, nil
}

// Referrers returns the entries in repo whose subject is subject, oldest push
// first (then by digest), only those of artifactType unless it is "".
func (s *Store) Referrers(ctx context.Context, repo string, subject digest.Digest, artifactType string) ([]catalog.Manifest, error) {
	var ms []catalog.Manifest
	err := s.inReadTx(ctx, func(tx pgx.Tx) error {
		st := sqlquery.Referrers(sqlquery.Postgres, repo, subject, artifactType)
		rows, err := tx.Query(ctx, st.SQL, st.Args...)
		if err != nil {
			return err
		}
		if ms, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (catalog.Manifest, error) {
			return scanManifest(row)
		}); err != nil {
			return err
		}
		return loadDetails(ctx, tx, ms)
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: referrers of %s@%s: %w", repo, subject, err)
	}
	if ms == nil {
		ms = []catalog.Manifest{}
	}
	return ms, nil
}

// scanManifest reads the sqlquery.ManifestColumns of one row, and then the columns
// that follow into extra.
func scanManifest(row pgx.Row, extra ...any) (catalog.Manifest, error) {
	var (
		m                         catalog.Manifest
		dgst, subject, annotation string
		pushed                    time.Time
	)
	err := row.Scan(append([]any{&m.Repository, &dgst, &m.MediaType, &m.ArtifactType, &annotation, &subject, &m.Size, &m.TotalSize, &pushed}, extra...)...)
	if err != nil {
		return catalog.Manifest{}, err
	}
	m.Digest, m.Subject, m.PushedAt = digest.Digest(dgst), digest.Digest(subject), pushed.UTC()
	if m.Annotations, err = sqlquery.DecodeAnnotations(annotation); err != nil {
		return catalog.Manifest{}, err
	}
	return m, nil
}

// loadDetails fills the layers and tags of every manifest of ms, with one
// query for each.
func loadDetails(ctx context.Context, tx pgx.Tx, ms []catalog.Manifest) error {
	if len(ms) == 0 {
		return nil
	}
	idx := sqlquery.Index(ms)
	st := sqlquery.Layers(sqlquery.Postgres, ms)
	rows, err := tx.Query(ctx, st.SQL, st.Args...)
	if err != nil {
		return fmt.Errorf("layers: %w", err)
	}
	var k sqlquery.Key
	var l catalog.Layer
	var dgst, annots string
	_, err = pgx.ForEachRow(rows, []any{&k.Repository, &k.Digest, &l.Kind, &dgst, &l.MediaType, &l.Size, &l.ArtifactType, &l.Title, &annots}, func() error {
		l.Digest = digest.Digest(dgst)
		var err error
		if l.Annotations, err = sqlquery.DecodeAnnotations(annots); err != nil {
			return err
		}
		if m := idx[k]; m != nil {
			m.Layers = append(m.Layers, l)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("layers: %w", err)
	}

	st = sqlquery.Tags(sqlquery.Postgres, ms)
	if rows, err = tx.Query(ctx, st.SQL, st.Args...); err != nil {
		return fmt.Errorf("tags: %w", err)
	}
	for _, m := range idx {
		m.Tags = []string{}
	}
	var tag string
	_, err = pgx.ForEachRow(rows, []any{&k.Repository, &k.Digest, &tag}, func() error {
		if m := idx[k]; m != nil {
			m.Tags = append(m.Tags, tag)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("tags: %w", err)
	}
	for _, m := range idx {
		m.Signatures = []catalog.Signature{}
	}
	if err := loadOwnership(ctx, tx, idx, ms); err != nil {
		return err
	}
	return loadSignatures(ctx, tx, idx, ms)
}

// loadOwnership fills the owner and visibility of ms.
func loadOwnership(ctx context.Context, tx pgx.Tx, idx map[sqlquery.Key]*catalog.Manifest, ms []catalog.Manifest) error {
	st := sqlquery.Ownership(sqlquery.Postgres, ms)
	rows, err := tx.Query(ctx, st.SQL, st.Args...)
	if err != nil {
		return fmt.Errorf("owners: %w", err)
	}
	var k sqlquery.Key
	var owner, vis string
	_, err = pgx.ForEachRow(rows, []any{&k.Repository, &k.Digest, &owner, &vis}, func() error {
		if m := idx[k]; m != nil {
			m.Owner, m.Visibility = owner, catalog.Visibility(vis)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("owners: %w", err)
	}
	return nil
}

// queryStrings returns the first column of every row of a query, as a
// non-nil slice.
func queryStrings(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, sql string, args ...any) ([]string, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	if out == nil {
		out = []string{}
	}
	return out, nil
}
