package sqlquery

import (
	"slices"

	"github.com/opencontainers/go-digest"

	"github.com/cairn-dev/cairn/annotations"
	"github.com/cairn-dev/cairn/catalog"
)

// RepositorySummaries returns the statement of
// catalog.Querier.RepositorySummaries. Its rows are the name, the number of
// artifacts, the number of tags, the sum of total sizes and the latest
// push time (in the store's form of pushed_at), by name.
func RepositorySummaries(d Dialect, prefix, after string, v *catalog.Viewer, limit int) (Statement, error) {
	if err := checkText("repository prefix", prefix); err != nil {
		return Statement{}, err
	}
	if err := checkText("repository", after); err != nil {
		return Statement{}, err
	}
	b := &builder{d: d}
	// Arguments are bound in the order the text names them (SQLite's ?).
	tags := "(SELECT COUNT(*) FROM tags t WHERE t.repository = m.repository)"
	if v != nil {
		// Only the tags of the manifests v sees count.
		tags = "(SELECT COUNT(*) FROM tags t WHERE t.repository = m.repository AND " + b.viewer(v, "t.repository", "t.digest") + ")"
	}
	var conds []string
	if prefix != "" {
		conds = append(conds, b.prefix("m.repository", prefix))
	}
	if after != "" {
		conds = append(conds, "m.repository > "+b.arg(after))
	}
	if v != nil {
		conds = append(conds, b.viewer(v, "m.repository", "m.digest"))
	}
	return b.statement(`SELECT m.repository, COUNT(*),
	` + tags + `,
	CAST(COALESCE(SUM(m.total_size), 0) AS BIGINT), MAX(m.pushed_at)
FROM manifests m` + whereClause(conds) + `
GROUP BY m.repository ORDER BY m.repository LIMIT ` + b.arg(ClampLimit(limit))), nil
}

// VisibleTags returns the statement of catalog.Store.VisibleTags: rows of
// one tag, sorted.
func VisibleTags(d Dialect, repo string, v *catalog.Viewer) Statement {
	b := &builder{d: d}
	conds := []string{"t.repository = " + b.arg(repo)}
	if c := b.viewer(v, "t.repository", "t.digest"); c != "" {
		conds = append(conds, c)
	}
	return b.statement("SELECT t.tag FROM tags t" + whereClause(conds) + " ORDER BY t.tag")
}

// AnnotationKeys returns the statement of catalog.Querier.AnnotationKeys.
// Its rows are a key and its count. The annotations counted are read
// through those of the query's rarest filter in sm (nil for none), when it
// has a Drivable one, rather than by reading every annotation.
func AnnotationKeys(d Dialect, sm *Sample, q catalog.Query, limit int) (Statement, error) {
	b := &builder{d: d}
	lead, _ := sm.lead(q)
	from, conds, err := b.annotationsOf(q, lead)
	if err != nil {
		return Statement{}, err
	}
	return b.statement("SELECT a.key, COUNT(*)" + from + whereClause(conds) +
		" GROUP BY a.key ORDER BY COUNT(*) DESC, a.key LIMIT " + b.arg(ClampLimit(limit))), nil
}

// AnnotationValues returns the statement of
// catalog.Querier.AnnotationValues. Its rows are a value and its count.
// It reads the annotations of key along the (key, value) index, or, when
// sm says a filter of q is rarer than key, through that filter's.
func AnnotationValues(d Dialect, sm *Sample, key string, q catalog.Query, limit int) (Statement, error) {
	if err := checkText("annotation key", key); err != nil {
		return Statement{}, err
	}
	b := &builder{d: d}
	lead := -1
	if len(q.Annotations) > 0 {
		qk := q
		qk.Annotations = append(slices.Clip(q.Annotations), annotations.Filter{Key: key, Op: annotations.Exists})
		if l, _ := sm.lead(qk); l < len(q.Annotations) {
			lead = l
		}
	}
	var from string
	var conds []string
	if lead < 0 {
		// The key first, so that SQLite reads the (key, value) index in
		// order and groups as it goes.
		from, conds = " FROM annotations a", []string{"a.key = " + b.arg(key)}
		where, err := b.where(q)
		if err != nil {
			return Statement{}, err
		}
		if len(where) > 0 {
			from += " CROSS JOIN manifests m"
			conds = append(conds, "m.repository = a.repository", "m.digest = a.digest")
		}
		conds = append(conds, where...)
	} else {
		var err error
		if from, conds, err = b.annotationsOf(q, lead); err != nil {
			return Statement{}, err
		}
		conds = append(conds, "a.key = "+b.arg(key))
	}
	return b.statement("SELECT a.value, COUNT(*)" + from + whereClause(conds) +
		" GROUP BY a.value ORDER BY COUNT(*) DESC, a.value LIMIT " + b.arg(ClampLimit(limit))), nil
}

// annotationsOf returns the FROM clause and the conditions of the
// annotations a of the manifests m that q selects: every annotation when q
// selects every manifest; else, when lead is not negative, those of the
// manifests whose annotations match q.Annotations[lead], collected first
// through that filter's index and read in primary key order (so that
// neighbouring manifests share pages); else those of every manifest q
// selects, checked one by one.
func (b *builder) annotationsOf(q catalog.Query, lead int) (string, []string, error) {
	if lead < 0 {
		conds, err := b.where(q)
		if len(conds) == 0 || err != nil {
			return " FROM annotations a", nil, err
		}
		return " FROM annotations a CROSS JOIN manifests m", append([]string{"m.repository = a.repository", "m.digest = a.digest"}, conds...), nil
	}
	if err := checkQuery(q); err != nil {
		return "", nil, err
	}
	from := " FROM (SELECT DISTINCT d.repository, d.digest FROM annotations d WHERE " + b.annotationCond("d", q.Annotations[lead]) +
		" ORDER BY d.repository, d.digest) l CROSS JOIN annotations a"
	conds := []string{"a.repository = l.repository", "a.digest = l.digest"}
	mconds, err := b.manifestConds(q)
	if err != nil {
		return "", nil, err
	}
	aconds := b.annotationConds(q, lead)
	if len(mconds)+len(aconds) > 0 {
		from += " CROSS JOIN manifests m"
		conds = append(conds, "m.repository = l.repository", "m.digest = l.digest")
		conds = append(conds, mconds...)
		conds = append(conds, aconds...)
	}
	return from, conds, nil
}

// BlobUses returns the statement of catalog.Querier.BlobUses. Its rows are
// the fields of catalog.BlobUse in order (owner and visibility empty when the
// manifest has no record): the layers (configs, layers and
// child manifests) with that digest, and the manifests that are that
// digest (kind "manifest-self", before the manifest's own layers), by
// repository, manifest digest and position.
//
// Each side of the union is ordered and limited on its own, so that a
// layer shared by many manifests is read only up to the limit, along an
// index of layers on (digest, repository, manifest_digest, position) where
// the store has one (SQLite's layers_digest).
func BlobUses(d Dialect, dgst digest.Digest, repo string, v *catalog.Viewer, limit int) (Statement, error) {
	if err := checkText("digest", string(dgst)); err != nil {
		return Statement{}, err
	}
	if err := checkText("repository", repo); err != nil {
		return Statement{}, err
	}
	b := &builder{d: d}
	n := ClampLimit(limit)
	lconds := []string{"l.digest = " + b.arg(string(dgst))}
	if repo != "" {
		lconds = append(lconds, "l.repository = "+b.arg(repo))
	}
	if c := b.viewer(v, "l.repository", "l.manifest_digest"); c != "" {
		lconds = append(lconds, c)
	}
	lsql := `SELECT l.repository, l.manifest_digest AS manifest, l.position, l.kind, l.media_type, l.size, l.title
		FROM layers l` + whereClause(lconds) + `
		ORDER BY l.repository, l.manifest_digest, l.position LIMIT ` + b.arg(n)
	mconds := []string{"m.digest = " + b.arg(string(dgst))}
	if repo != "" {
		mconds = append(mconds, "m.repository = "+b.arg(repo))
	}
	if c := b.viewer(v, "m.repository", "m.digest"); c != "" {
		mconds = append(mconds, c)
	}
	msql := `SELECT m.repository, m.digest AS manifest, -1 AS position, 'manifest-self' AS kind, m.media_type, m.size, '' AS title
		FROM manifests m` + whereClause(mconds) + `
		ORDER BY m.repository LIMIT ` + b.arg(n)
	return b.statement(`SELECT u.repository, u.manifest, u.kind, u.media_type, u.size, u.title, COALESCE(o.owner, ''), COALESCE(o.visibility, '') FROM (
	SELECT * FROM (
		` + lsql + `
	) ul
	UNION ALL
	SELECT * FROM (
		` + msql + `
	) um
) u LEFT JOIN owners o ON o.repository = u.repository AND o.digest = u.manifest
ORDER BY u.repository, u.manifest, u.position LIMIT ` + b.arg(n)), nil
}
