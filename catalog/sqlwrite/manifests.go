package sqlwrite

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/cairn-dev/cairn/annotations"
	"github.com/cairn-dev/cairn/catalog"
	"github.com/cairn-dev/cairn/catalog/sqlquery"
)

// IndexPush records m, tags it as tag unless tag is "", records its owner
// and visibility unless it has them already, and clears the pending mark
// unless it is 0, in one transaction.
func (w *Writer) IndexPush(ctx context.Context, m catalog.Manifest, tag string, pending int64) error {
	err := w.c.InTx(ctx, func(ctx context.Context, c Conn) error {
		sts, err := w.putManifest(m)
		if err != nil {
			return err
		}
		if tag != "" {
			sts = append(sts, w.st(`
INSERT INTO tags (repository, tag, digest) VALUES (?, ?, ?)
ON CONFLICT (repository, tag) DO UPDATE SET digest = excluded.digest`, m.Repository, tag, string(m.Digest)))
		}
		if m.Owner != "" || m.Visibility != catalog.Inherit {
			sts = append(sts, w.st(`INSERT INTO owners (repository, digest, owner, visibility) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`,
				m.Repository, string(m.Digest), m.Owner, string(m.Visibility)))
		}
		if pending != 0 {
			sts = append(sts, w.st(`DELETE FROM pending WHERE id = ?`, pending))
		}
		return c.ExecAll(ctx, sts)
	})
	if err != nil {
		return w.errorf("index push of %s@%s: %w", m.Repository, m.Digest, err)
	}
	return nil
}

// putManifest returns the statements that write m, its layers, its
// annotations and its lineage edges (catalog.EdgesOf), replacing an entry
// with the same repository and digest but keeping its push time (now if m
// has none).
func (w *Writer) putManifest(m catalog.Manifest) ([]sqlquery.Statement, error) {
	annots, err := sqlquery.EncodeAnnotations(m.Annotations)
	if err != nil {
		return nil, err
	}
	pushed := m.PushedAt
	if pushed.IsZero() {
		pushed = time.Now()
	}
	repo, dgst := m.Repository, string(m.Digest)
	edges := catalog.EdgesOf(m)
	sts := make([]sqlquery.Statement, 0, 4+len(edges)+len(m.Layers)+len(m.Annotations))
	sts = append(sts,
		w.st(`
INSERT INTO manifests (`+sqlquery.ManifestColumns+`)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (repository, digest) DO UPDATE SET
	media_type = excluded.media_type,
	artifact_type = excluded.artifact_type,
	annotations = excluded.annotations,
	subject = excluded.subject,
	size = excluded.size,
	total_size = excluded.total_size`,
			repo, dgst, m.MediaType, m.ArtifactType, annots, string(m.Subject), m.Size, m.TotalSize, w.time(pushed)),
		w.st(`DELETE FROM layers WHERE repository = ? AND manifest_digest = ?`, repo, dgst),
		w.st(`DELETE FROM annotations WHERE repository = ? AND digest = ?`, repo, dgst),
		w.st(deleteEdges, repo, dgst))
	for _, e := range edges {
		sts = append(sts, w.st(insertEdge, edgeArgs(e)...))
	}
	for i, l := range m.Layers {
		la, err := sqlquery.EncodeAnnotations(l.Annotations)
		if err != nil {
			return nil, err
		}
		sts = append(sts, w.st(`
INSERT INTO layers (repository, manifest_digest, position, kind, digest, media_type, size, artifact_type, title, annotations)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			repo, dgst, i, l.Kind, string(l.Digest), l.MediaType, l.Size, l.ArtifactType, l.Title, la))
	}
	for k, v := range m.Annotations {
		sts = append(sts, w.st(`INSERT INTO annotations (repository, digest, key, value, sort_key) VALUES (?, ?, ?, ?, ?)`,
			repo, dgst, k, v, annotations.SortKey(v)))
	}
	return sts, nil
}

// The statements that replace the lineage edges whose child is a manifest.
const (
	deleteEdges = `DELETE FROM edges WHERE child_repository = ? AND child_digest = ?`
	insertEdge  = `
INSERT INTO edges (child_repository, child_digest, parent_registry, parent_repository, parent_digest, kind)
VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`
)

func edgeArgs(e catalog.Edge) []any {
	return []any{e.Child.Repository, string(e.Child.Digest), e.Parent.Registry, e.Parent.Repository, string(e.Parent.Digest), string(e.Kind)}
}

// Edges returns the statements, in dialect d, that replace the lineage
// edges whose child is m with those m records (catalog.EdgesOf): what a
// store's migration that backfills the edges runs.
func Edges(d sqlquery.Dialect, m catalog.Manifest) []sqlquery.Statement {
	sp := sqlquery.NewSpelling(d)
	sts := []sqlquery.Statement{sp.Statement(deleteEdges, m.Repository, string(m.Digest))}
	for _, e := range catalog.EdgesOf(m) {
		sts = append(sts, sp.Statement(insertEdge, edgeArgs(e)...))
	}
	return sts
}

// DeleteManifest removes an entry; its tags, layers and annotations go with
// it (ON DELETE CASCADE).
func (w *Writer) DeleteManifest(ctx context.Context, repo string, dgst digest.Digest) error {
	if err := w.exec(ctx, w.st(`DELETE FROM manifests WHERE repository = ? AND digest = ?`, repo, string(dgst))); err != nil {
		return w.errorf("delete manifest %s@%s: %w", repo, dgst, err)
	}
	return nil
}

// DeleteTag removes a tag; ErrNotFound if it does not exist.
func (w *Writer) DeleteTag(ctx context.Context, repo, tag string) error {
	if err := w.exec(ctx, w.st(`DELETE FROM tags WHERE repository = ? AND tag = ?`, repo, tag)); err != nil {
		return w.errorf("delete tag %s:%s: %w", repo, tag, err)
	}
	return nil
}

// ReplaceRepository makes repo hold exactly ms and tags, in one transaction.
// The Repository field of each entry is ignored (repo is used). Push times of
// entries already present are kept. A tag pointing at a digest that is not
// in ms is an ErrNotFound error, and nothing changes.
func (w *Writer) ReplaceRepository(ctx context.Context, repo string, ms []catalog.Manifest, tags map[string]digest.Digest) error {
	keep := make(map[string]bool, len(ms))
	for _, m := range ms {
		keep[string(m.Digest)] = true
	}
	names := make([]string, 0, len(tags))
	for tag, dgst := range tags {
		if !keep[string(dgst)] {
			return w.errorf("replace repository %s: tag %s: manifest %s: %w", repo, tag, dgst, catalog.ErrNotFound)
		}
		names = append(names, tag)
	}
	slices.Sort(names)

	err := w.c.InTx(ctx, func(ctx context.Context, c Conn) error {
		if _, err := c.Exec(ctx, w.st(`DELETE FROM tags WHERE repository = ?`, repo)); err != nil {
			return err
		}
		present, err := c.Strings(ctx, w.st(`SELECT digest FROM manifests WHERE repository = ?`, repo))
		if err != nil {
			return err
		}
		var gone []sqlquery.Statement
		for _, dgst := range present {
			if !keep[dgst] {
				gone = append(gone, w.st(`DELETE FROM manifests WHERE repository = ? AND digest = ?`, repo, dgst))
			}
		}
		if err := c.ExecAll(ctx, gone); err != nil {
			return err
		}
		for _, m := range ms {
			m.Repository = repo
			sts, err := w.putManifest(m)
			if err == nil {
				err = c.ExecAll(ctx, sts)
			}
			if err != nil {
				return fmt.Errorf("manifest %s: %w", m.Digest, err)
			}
		}
		sts := make([]sqlquery.Statement, len(names))
		for i, tag := range names {
			sts[i] = w.st(`INSERT INTO tags (repository, tag, digest) VALUES (?, ?, ?)`, repo, tag, string(tags[tag]))
		}
		if err := c.ExecAll(ctx, sts); err != nil {
			return fmt.Errorf("tags: %w", err)
		}
		return nil
	})
	if err != nil {
		return w.errorf("replace repository %s: %w", repo, err)
	}
	return nil
}
