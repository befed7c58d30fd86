package sqlquery

import (
	"github.com/opencontainers/go-digest"

	"github.com/cairn-dev/cairn/catalog"
)

// RepositorySummaries returns the statement of
// catalog.Querier.RepositorySummaries. Its rows are the name, the number of
// artifacts, the number of tags, the sum of total sizes and the latest
// push time (in the store's form of pushed_at), by name.
func RepositorySummaries(d Dialect, prefix, after string, limit int) (Statement, error) {
	if err := checkText("repository prefix", prefix); err != nil {
		return Statement{}, err
	}
	if err := checkText("repository", after); err != nil {
		return Statement{}, err
	}
	b := &builder{d: d}
	var conds []string
	if prefix != "" {
		conds = append(conds, b.prefix("m.repository", prefix))
	}
	if after != "" {
		conds = append(conds, "m.repository > "+b.arg(after))
	}
	return b.statement(`SELECT m.repository, COUNT(*),
	(SELECT COUNT(*) FROM tags t WHERE t.repository = m.repository),
	CAST(COALESCE(SUM(m.total_size), 0) AS BIGINT), MAX(m.pushed_at)
FROM manifests m` + whereClause(conds) + `
GROUP BY m.repository ORDER BY m.repository LIMIT ` + b.arg(ClampLimit(limit))), nil
}

// AnnotationKeys returns the statement of catalog.Querier.AnnotationKeys.
// Its rows are a key and its count.
func AnnotationKeys(d Dialect, q catalog.Query, limit int) (Statement, error) {
	b := &builder{d: d}
	conds, err := b.where(q)
	if err != nil {
		return Statement{}, err
	}
	return b.statement("SELECT a.key, COUNT(*) FROM " + annotationsOf(conds) + whereClause(conds) +
		" GROUP BY a.key ORDER BY COUNT(*) DESC, a.key LIMIT " + b.arg(ClampLimit(limit))), nil
}

// AnnotationValues returns the statement of
// catalog.Querier.AnnotationValues. Its rows are a value and its count.
func AnnotationValues(d Dialect, key string, q catalog.Query, limit int) (Statement, error) {
	if err := checkText("annotation key", key); err != nil {
		return Statement{}, err
	}
	b := &builder{d: d}
	conds := []string{"a.key = " + b.arg(key)}
	where, err := b.where(q)
	if err != nil {
		return Statement{}, err
	}
	conds = append(conds, where...)
	return b.statement("SELECT a.value, COUNT(*) FROM " + annotationsOf(where) + whereClause(conds) +
		" GROUP BY a.value ORDER BY COUNT(*) DESC, a.value LIMIT " + b.arg(ClampLimit(limit))), nil
}

// annotationsOf returns the FROM clause of the annotations a of the
// manifests m that conds select: annotations alone when there are no
// conditions (every annotation belongs to a manifest).
func annotationsOf(conds []string) string {
	if len(conds) == 0 {
		return "annotations a"
	}
	return "annotations a JOIN manifests m ON m.repository = a.repository AND m.digest = a.digest"
}

// BlobUses returns the statement of catalog.Querier.BlobUses. Its rows are
// the fields of catalog.BlobUse in order: the layers (configs, layers and
// child manifests) with that digest, and the manifests that are that
// digest (kind "manifest-self", before the manifest's own layers), by
// repository, manifest digest and position.
func BlobUses(d Dialect, dgst digest.Digest, limit int) (Statement, error) {
	if err := checkText("digest", string(dgst)); err != nil {
		return Statement{}, err
	}
	b := &builder{d: d}
	return b.statement(`SELECT repository, manifest, kind, media_type, size, title FROM (
	SELECT l.repository, l.manifest_digest AS manifest, l.position, l.kind, l.media_type, l.size, l.title
	FROM layers l WHERE l.digest = ` + b.arg(string(dgst)) + `
	UNION ALL
	SELECT m.repository, m.digest, -1, 'manifest-self', m.media_type, m.size, ''
	FROM manifests m WHERE m.digest = ` + b.arg(string(dgst)) + `
) u ORDER BY repository, manifest, position LIMIT ` + b.arg(ClampLimit(limit))), nil
}
