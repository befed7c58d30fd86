package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/opencontainers/go-digest"

	"github.com/cairn-dev/cairn/catalog"
	"github.com/cairn-dev/cairn/catalog/postings"
	"github.com/cairn-dev/cairn/catalog/sqlquery"
)

// Artifacts returns a page of the artifacts matching q in the order s, in
// one snapshot: the page's query, then one query each for the layers and
// the tags of its artifacts. See sqlquery.Artifacts for the order and the
// paging.
func (s *Store) Artifacts(ctx context.Context, q catalog.Query, sort catalog.Sort, limit int, after *catalog.Cursor) (catalog.ArtifactPage, error) {
	if ix := s.index(ctx); ix != nil {
		// The statement checks q, the sort and the cursor as SQL would.
		if _, err := sqlquery.Artifacts(sqlquery.SQLite, q, sort, limit, after); err != nil {
			return catalog.ArtifactPage{}, fmt.Errorf("sqlite: artifacts: %w", err)
		}
		hits, err := ix.Artifacts(q, sort, sqlquery.ClampLimit(limit)+1, after)
		if err == nil {
			var page catalog.ArtifactPage
			if page, err = s.pageOf(ctx, sort, limit, hits); err == nil {
				return page, nil
			}
		}
		return catalog.ArtifactPage{}, fmt.Errorf("sqlite: artifacts: %w", err)
	}
	var page catalog.ArtifactPage
	err := s.inReadTx(ctx, func(tx *sql.Tx) error {
		ms, keys, err := sqlquery.RunArtifacts(sqlquery.SQLite, s.sampler.Sample(ctx), q, sort, limit, after, artifactRows(ctx, tx))
		if err != nil {
			return err
		}
		page = sqlquery.Page(sort, limit, ms, keys)
		return loadDetails(ctx, tx, page.Artifacts)
	})
	if err != nil {
		return catalog.ArtifactPage{}, fmt.Errorf("sqlite: artifacts: %w", err)
	}
	return page, nil
}

// artifactRows runs the statements of sqlquery.ArtifactsPlanned on db.
func artifactRows(ctx context.Context, db interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}) sqlquery.ArtifactRows {
	return func(st sqlquery.Statement) ([]catalog.Manifest, []*string, error) {
		rows, err := db.QueryContext(ctx, st.SQL, st.Args...)
		if err != nil {
			return nil, nil, err
		}
		defer rows.Close()
		var ms []catalog.Manifest
		var keys []*string
		for rows.Next() {
			var key sql.NullString
			m, err := scanManifest(rows, &key)
			if err != nil {
				return nil, nil, err
			}
			ms = append(ms, m)
			if key.Valid {
				keys = append(keys, &key.String)
			} else {
				keys = append(keys, nil)
			}
		}
		return ms, keys, rows.Err()
	}
}

// RepositorySummaries lists repositories whose names start with prefix, by
// name, after the name after, up to limit.
func (s *Store) RepositorySummaries(ctx context.Context, prefix, after string, v *catalog.Viewer, limit int) ([]catalog.RepositorySummary, error) {
	st, err := sqlquery.RepositorySummaries(sqlquery.SQLite, prefix, after, v, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: repository summaries: %w", err)
	}
	if ix := s.index(ctx); ix != nil {
		return ix.RepositorySummaries(prefix, after, v, sqlquery.ClampLimit(limit)), nil
	}
	out := []catalog.RepositorySummary{}
	err = s.query(ctx, st, func(rows *sql.Rows) error {
		var r catalog.RepositorySummary
		var last int64
		if err := rows.Scan(&r.Name, &r.Artifacts, &r.Tags, &r.Size, &last); err != nil {
			return err
		}
		r.LastPush = fromMicros(last)
		out = append(out, r)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: repository summaries: %w", err)
	}
	return out, nil
}

// AnnotationKeys counts the artifacts matching q that have each key.
func (s *Store) AnnotationKeys(ctx context.Context, q catalog.Query, limit int) ([]catalog.Count, error) {
	if ix := s.index(ctx); ix != nil {
		if _, err := sqlquery.AnnotationKeys(sqlquery.SQLite, nil, q, limit); err != nil {
			return nil, fmt.Errorf("sqlite: annotation keys: %w", err)
		}
		return ix.AnnotationKeys(q, sqlquery.ClampLimit(limit)), nil
	}
	st, err := sqlquery.AnnotationKeys(sqlquery.SQLite, s.sampler.Sample(ctx), q, limit)
	if err == nil {
		var cs []catalog.Count
		if cs, err = s.counts(ctx, st); err == nil {
			return cs, nil
		}
	}
	return nil, fmt.Errorf("sqlite: annotation keys: %w", err)
}

// AnnotationValues counts the artifacts matching q that have each value of
// key.
func (s *Store) AnnotationValues(ctx context.Context, key string, q catalog.Query, limit int) ([]catalog.Count, error) {
	if ix := s.index(ctx); ix != nil {
		if _, err := sqlquery.AnnotationValues(sqlquery.SQLite, nil, key, q, limit); err != nil {
			return nil, fmt.Errorf("sqlite: annotation values of %s: %w", key, err)
		}
		return ix.AnnotationValues(key, q, sqlquery.ClampLimit(limit)), nil
	}
	st, err := sqlquery.AnnotationValues(sqlquery.SQLite, s.sampler.Sample(ctx), key, q, limit)
	if err == nil {
		var cs []catalog.Count
		if cs, err = s.counts(ctx, st); err == nil {
			return cs, nil
		}
	}
	return nil, fmt.Errorf("sqlite: annotation values of %s: %w", key, err)
}

// counts runs a statement whose rows are a value and a count.
func (s *Store) counts(ctx context.Context, st sqlquery.Statement) ([]catalog.Count, error) {
	out := []catalog.Count{}
	err := s.query(ctx, st, func(rows *sql.Rows) error {
		var c catalog.Count
		if err := rows.Scan(&c.Value, &c.Count); err != nil {
			return err
		}
		out = append(out, c)
		return nil
	})
	return out, err
}

// BlobUses lists where a blob is used.
func (s *Store) BlobUses(ctx context.Context, dgst digest.Digest, repo string, v *catalog.Viewer, limit int) ([]catalog.BlobUse, error) {
	st, err := sqlquery.BlobUses(sqlquery.SQLite, dgst, repo, v, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: uses of %s: %w", dgst, err)
	}
	out := []catalog.BlobUse{}
	err = s.query(ctx, st, func(rows *sql.Rows) error {
		var u catalog.BlobUse
		var manifest, vis string
		if err := rows.Scan(&u.Repository, &manifest, &u.Kind, &u.MediaType, &u.Size, &u.Title, &u.Owner, &vis); err != nil {
			return err
		}
		u.Manifest, u.Visibility = digest.Digest(manifest), catalog.Visibility(vis)
		out = append(out, u)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: uses of %s: %w", dgst, err)
	}
	return out, nil
}

// query runs st on a read connection and calls scan for each row.
func (s *Store) query(ctx context.Context, st sqlquery.Statement, scan func(*sql.Rows) error) error {
	rows, err := s.read.QueryContext(ctx, st.SQL, st.Args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Lineage returns the edges reachable from root going dir, at most depth
// edges away (0: no bound); see sqlquery.Lineage.
func (s *Store) Lineage(ctx context.Context, root catalog.Node, dir catalog.Direction, depth int) ([]catalog.Edge, error) {
	if dir == catalog.Down {
		return s.walkDown(ctx, root, depth)
	}
	st, err := sqlquery.Lineage(sqlquery.SQLite, root, dir, depth)
	if err != nil {
		return nil, fmt.Errorf("sqlite: lineage: %w", err)
	}
	out := []catalog.Edge{}
	err = s.query(ctx, st, func(rows *sql.Rows) error {
		var e catalog.Edge
		var kind string
		if err := rows.Scan(&e.Child.Repository, &e.Child.Digest, &e.Parent.Registry, &e.Parent.Repository, &e.Parent.Digest, &kind); err != nil {
			return err
		}
		e.Kind = catalog.EdgeKind(kind)
		out = append(out, e)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: lineage: %w", err)
	}
	sqlquery.SortEdges(out)
	return out, nil
}

// walkDown is Lineage downward: level by level (sqlquery.WalkDown) in one
// read transaction.
func (s *Store) walkDown(ctx context.Context, root catalog.Node, depth int) ([]catalog.Edge, error) {
	tx, err := s.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("sqlite: lineage: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only
	out, err := sqlquery.WalkDown(sqlquery.SQLite, root, depth, func(st sqlquery.Statement) ([]catalog.Edge, error) {
		rows, err := tx.QueryContext(ctx, st.SQL, st.Args...)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var es []catalog.Edge
		for rows.Next() {
			var e catalog.Edge
			var kind string
			if err := rows.Scan(&e.Child.Repository, &e.Child.Digest, &e.Parent.Registry, &e.Parent.Repository, &e.Parent.Digest, &kind); err != nil {
				return nil, err
			}
			e.Kind = catalog.EdgeKind(kind)
			es = append(es, e)
		}
		return es, rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: lineage: %w", err)
	}
	sqlquery.SortEdges(out)
	return out, nil
}

// pageOf reads the artifacts of hits, in their order, with their details,
// and makes the page of them (see sqlquery.Page). An artifact deleted
// since the index found it is left out.
func (s *Store) pageOf(ctx context.Context, sort catalog.Sort, limit int, hits []postings.Hit) (catalog.ArtifactPage, error) {
	var page catalog.ArtifactPage
	err := s.inReadTx(ctx, func(tx *sql.Tx) error {
		nodes := make([]catalog.Node, len(hits))
		for i, h := range hits {
			nodes[i] = catalog.Node{Repository: h.Repository, Digest: h.Digest}
		}
		read, err := readManifests(ctx, tx, nodes)
		if err != nil {
			return err
		}
		found := sqlquery.Index(read)
		ms := make([]catalog.Manifest, 0, len(hits))
		keys := make([]*string, 0, len(hits))
		for _, h := range hits {
			if m := found[sqlquery.Key{Repository: h.Repository, Digest: string(h.Digest)}]; m != nil {
				ms = append(ms, *m)
				keys = append(keys, h.SortKey)
			}
		}
		page = sqlquery.Page(sort, limit, ms, keys)
		return loadDetails(ctx, tx, page.Artifacts)
	})
	return page, err
}
