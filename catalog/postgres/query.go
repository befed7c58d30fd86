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

// Artifacts returns a page of the artifacts matching q in the order s, in
// one snapshot: the page's query, then one query each for the layers and
// the tags of its artifacts. See sqlquery.Artifacts for the order and the
// paging.
func (s *Store) Artifacts(ctx context.Context, q catalog.Query, sort catalog.Sort, limit int, after *catalog.Cursor) (catalog.ArtifactPage, error) {
	var page catalog.ArtifactPage
	err := s.inReadTx(ctx, func(tx pgx.Tx) error {
		ms, keys, err := sqlquery.RunArtifacts(sqlquery.Postgres, s.sampler.Sample(ctx), q, sort, limit, after, artifactRows(ctx, tx))
		if err != nil {
			return err
		}
		page = sqlquery.Page(sort, limit, ms, keys)
		return loadDetails(ctx, tx, page.Artifacts)
	})
	if err != nil {
		return catalog.ArtifactPage{}, fmt.Errorf("postgres: artifacts: %w", err)
	}
	return page, nil
}

// artifactRows runs the statements of sqlquery.ArtifactsPlanned on db.
func artifactRows(ctx context.Context, db interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}) sqlquery.ArtifactRows {
	return func(st sqlquery.Statement) ([]catalog.Manifest, []*string, error) {
		rows, err := db.Query(ctx, st.SQL, st.Args...)
		if err != nil {
			return nil, nil, err
		}
		var keys []*string
		ms, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (catalog.Manifest, error) {
			var key *string
			m, err := scanManifest(row, &key)
			keys = append(keys, key)
			return m, err
		})
		return ms, keys, err
	}
}

// RepositorySummaries lists repositories whose names start with prefix, by
// name, after the name after, up to limit.
func (s *Store) RepositorySummaries(ctx context.Context, prefix, after string, v *catalog.Viewer, limit int) ([]catalog.RepositorySummary, error) {
	st, err := sqlquery.RepositorySummaries(sqlquery.Postgres, prefix, after, v, limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: repository summaries: %w", err)
	}
	out, err := collect(ctx, s.pool, st, func(row pgx.CollectableRow) (catalog.RepositorySummary, error) {
		var r catalog.RepositorySummary
		var last time.Time
		err := row.Scan(&r.Name, &r.Artifacts, &r.Tags, &r.Size, &last)
		r.LastPush = last.UTC()
		return r, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: repository summaries: %w", err)
	}
	return out, nil
}

// AnnotationKeys counts the artifacts matching q that have each key.
func (s *Store) AnnotationKeys(ctx context.Context, q catalog.Query, limit int) ([]catalog.Count, error) {
	st, err := sqlquery.AnnotationKeys(sqlquery.Postgres, s.sampler.Sample(ctx), q, limit)
	if err == nil {
		var cs []catalog.Count
		if cs, err = collect(ctx, s.pool, st, scanCount); err == nil {
			return cs, nil
		}
	}
	return nil, fmt.Errorf("postgres: annotation keys: %w", err)
}

// AnnotationValues counts the artifacts matching q that have each value of
// key.
func (s *Store) AnnotationValues(ctx context.Context, key string, q catalog.Query, limit int) ([]catalog.Count, error) {
	st, err := sqlquery.AnnotationValues(sqlquery.Postgres, s.sampler.Sample(ctx), key, q, limit)
	if err == nil {
		var cs []catalog.Count
		if cs, err = collect(ctx, s.pool, st, scanCount); err == nil {
			return cs, nil
		}
	}
	return nil, fmt.Errorf("postgres: annotation values of %s: %w", key, err)
}

// scanCount reads a row of a value and a count.
func scanCount(row pgx.CollectableRow) (catalog.Count, error) {
	var c catalog.Count
	err := row.Scan(&c.Value, &c.Count)
	return c, err
}

// BlobUses lists where a blob is used.
func (s *Store) BlobUses(ctx context.Context, dgst digest.Digest, repo string, v *catalog.Viewer, limit int) ([]catalog.BlobUse, error) {
	st, err := sqlquery.BlobUses(sqlquery.Postgres, dgst, repo, v, limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: uses of %s: %w", dgst, err)
	}
	out, err := collect(ctx, s.pool, st, func(row pgx.CollectableRow) (catalog.BlobUse, error) {
		var u catalog.BlobUse
		var manifest, vis string
		err := row.Scan(&u.Repository, &manifest, &u.Kind, &u.MediaType, &u.Size, &u.Title, &u.Owner, &vis)
		u.Manifest, u.Visibility = digest.Digest(manifest), catalog.Visibility(vis)
		return u, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: uses of %s: %w", dgst, err)
	}
	return out, nil
}

// collect runs st and scans every row with scan, into a non-nil slice.
func collect[T any](ctx context.Context, q querier, st sqlquery.Statement, scan pgx.RowToFunc[T]) ([]T, error) {
	rows, err := q.Query(ctx, st.SQL, st.Args...)
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, scan)
	if err != nil {
		return nil, err
	}
	if out == nil {
		out = []T{}
	}
	return out, nil
}

// Lineage returns the edges reachable from root going dir, at most depth
// edges away (0: no bound); see sqlquery.Lineage.
func (s *Store) Lineage(ctx context.Context, root catalog.Node, dir catalog.Direction, depth int) ([]catalog.Edge, error) {
	var out []catalog.Edge
	var err error
	if dir == catalog.Down {
		out, err = s.walkDown(ctx, root, depth)
	} else {
		var st sqlquery.Statement
		if st, err = sqlquery.Lineage(sqlquery.Postgres, root, dir, depth); err == nil {
			out, err = collect(ctx, s.pool, st, scanEdge)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: lineage: %w", err)
	}
	sqlquery.SortEdges(out)
	return out, nil
}

// querier is a pool or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func scanEdge(row pgx.CollectableRow) (catalog.Edge, error) {
	var e catalog.Edge
	var kind string
	err := row.Scan(&e.Child.Repository, &e.Child.Digest, &e.Parent.Registry, &e.Parent.Repository, &e.Parent.Digest, &kind)
	e.Kind = catalog.EdgeKind(kind)
	return e, err
}

// walkDown is Lineage downward: level by level (sqlquery.WalkDown) in one
// repeatable-read transaction, so that every level sees one state.
func (s *Store) walkDown(ctx context.Context, root catalog.Node, depth int) ([]catalog.Edge, error) {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // read-only
	return sqlquery.WalkDown(sqlquery.Postgres, root, depth, func(st sqlquery.Statement) ([]catalog.Edge, error) {
		return collect(ctx, tx, st, scanEdge)
	})
}
