package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/opencontainers/go-digest"

	"github.com/cairn-dev/cairn/annotations"
	"github.com/cairn-dev/cairn/catalog"
	"github.com/cairn-dev/cairn/catalog/sqlquery"
)

// manifestColumns are the columns scanManifest reads, in order.
const manifestColumns = sqlquery.ManifestColumns

// IndexPush records m, tags it as tag unless tag is "", and clears the
// pending mark unless it is 0, in one transaction.
func (s *Store) IndexPush(ctx context.Context, m catalog.Manifest, tag string, pending int64) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := putManifest(ctx, tx, m); err != nil {
			return err
		}
		if tag != "" {
			if _, err := tx.Exec(ctx, `
INSERT INTO tags (repository, tag, digest) VALUES ($1, $2, $3)
ON CONFLICT (repository, tag) DO UPDATE SET digest = excluded.digest`, m.Repository, tag, string(m.Digest)); err != nil {
				return err
			}
		}
		if m.Owner != "" || m.Visibility != catalog.Inherit {
			if _, err := tx.Exec(ctx, `INSERT INTO owners (repository, digest, owner, visibility) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
				m.Repository, string(m.Digest), m.Owner, string(m.Visibility)); err != nil {
				return err
			}
		}
		if pending != 0 {
			if _, err := tx.Exec(ctx, `DELETE FROM pending WHERE id = $1`, pending); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("postgres: index push of %s@%s: %w", m.Repository, m.Digest, err)
	}
	return nil
}

// queueEdges queues the inserts of the lineage edges m records
// (catalog.EdgesOf).
func queueEdges(batch *pgx.Batch, m catalog.Manifest) {
	for _, e := range catalog.EdgesOf(m) {
		batch.Queue(`
INSERT INTO edges (child_repository, child_digest, parent_registry, parent_repository, parent_digest, kind)
VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
			e.Child.Repository, string(e.Child.Digest), e.Parent.Registry, e.Parent.Repository, string(e.Parent.Digest), string(e.Kind))
	}
}

// putManifest writes m, its layers and its annotations in tx.
func putManifest(ctx context.Context, tx pgx.Tx, m catalog.Manifest) error {
	annots, err := encodeAnnotations(m.Annotations)
	if err != nil {
		return err
	}
	repo, dgst := m.Repository, string(m.Digest)
	_, err = tx.Exec(ctx, `
INSERT INTO manifests (`+manifestColumns+`)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (repository, digest) DO UPDATE SET
	media_type = excluded.media_type,
	artifact_type = excluded.artifact_type,
	annotations = excluded.annotations,
	subject = excluded.subject,
	size = excluded.size,
	total_size = excluded.total_size`,
		repo, dgst, m.MediaType, m.ArtifactType, annots, string(m.Subject), m.Size, m.TotalSize, pushTime(m.PushedAt))
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `DELETE FROM layers WHERE repository = $1 AND manifest_digest = $2`, repo, dgst); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `DELETE FROM annotations WHERE repository = $1 AND digest = $2`, repo, dgst); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `DELETE FROM edges WHERE child_repository = $1 AND child_digest = $2`, repo, dgst); err != nil {
		return err
	}
	var batch pgx.Batch
	for i, l := range m.Layers {
		la, err := encodeAnnotations(l.Annotations)
		if err != nil {
			return err
		}
		batch.Queue(`
INSERT INTO layers (repository, manifest_digest, position, kind, digest, media_type, size, artifact_type, title, annotations)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			repo, dgst, i, l.Kind, string(l.Digest), l.MediaType, l.Size, l.ArtifactType, l.Title, la)
	}
	for k, v := range m.Annotations {
		batch.Queue(`INSERT INTO annotations (repository, digest, key, value, sort_key) VALUES ($1, $2, $3, $4, $5)`,
			repo, dgst, k, v, annotations.SortKey(v))
	}
	queueEdges(&batch, m)
	if batch.Len() == 0 {
		return nil
	}
	return tx.SendBatch(ctx, &batch).Close()
}

// Manifest returns one entry with its layers and tags.
func (s *Store) Manifest(ctx context.Context, repo string, dgst digest.Digest) (catalog.Manifest, error) {
	var m catalog.Manifest
	err := s.inReadTx(ctx, func(tx pgx.Tx) error {
		row := tx.QueryRow(ctx, `SELECT `+manifestColumns+` FROM manifests WHERE repository = $1 AND digest = $2`, repo, string(dgst))
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
		rows, err := tx.Query(ctx, `
SELECT `+manifestColumns+` FROM manifests
WHERE repository = $1 AND subject = $2 AND ($3 = '' OR artifact_type = $3)
ORDER BY pushed_at, digest`, repo, string(subject), artifactType)
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

// DeleteManifest removes an entry; its tags, layers and annotations go with
// it (ON DELETE CASCADE).
func (s *Store) DeleteManifest(ctx context.Context, repo string, dgst digest.Digest) error {
	err := affected(s.exec(ctx, `DELETE FROM manifests WHERE repository = $1 AND digest = $2`, repo, string(dgst)))
	if err != nil {
		return fmt.Errorf("postgres: delete manifest %s@%s: %w", repo, dgst, err)
	}
	return nil
}

// scanManifest reads the manifestColumns of one row, and then the columns
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
	if m.Annotations, err = decodeAnnotations(annotation); err != nil {
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
		if l.Annotations, err = decodeAnnotations(annots); err != nil {
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

// encodeAnnotations returns the stored form of an annotation map, a JSON
// object ("{}" when empty).
func encodeAnnotations(a map[string]string) (string, error) {
	if len(a) == 0 {
		return "{}", nil
	}
	b, err := json.Marshal(a)
	if err != nil {
		return "", fmt.Errorf("encode annotations: %w", err)
	}
	return string(b), nil
}

// decodeAnnotations reads the stored form of an annotation map; nil when
// empty.
func decodeAnnotations(s string) (map[string]string, error) {
	var a map[string]string
	if err := json.Unmarshal([]byte(s), &a); err != nil {
		return nil, fmt.Errorf("decode annotations: %w", err)
	}
	if len(a) == 0 {
		return nil, nil
	}
	return a, nil
}
