package sqlquery

import (
	"strconv"
	"strings"
	"time"

	"github.com/cairn-dev/cairn/catalog"
)

// Plan is how the statement of Artifacts finds its rows. The rows are the
// same whatever the plan.
type Plan struct {
	// Drive, when not negative, is the index in the query's Annotations
	// of a Drivable filter whose matching annotations the statement reads
	// first, checking the other conditions on each and sorting what
	// passes; when negative, the statement walks the sort order's index
	// and checks every condition on each entry until the page is full.
	Drive int
	// Part, for a sort by annotation, is which artifacts the statement
	// reads: all (Whole), only those that have the annotation (Present),
	// or only those that lack it (Absent, from the first of them unless
	// the cursor is among them). Other sorts read all whatever Part says.
	Part Part
}

// Part is a part of the artifacts sorted by an annotation; see Plan.
type Part int

// The parts of the artifacts sorted by an annotation.
const (
	Whole Part = iota
	Present
	Absent
)

// Walk is the plan that walks the sort order's index.
var Walk = Plan{Drive: -1}

// Artifacts returns the statement of a page of catalog.Querier.Artifacts
// that walks the sort order (the Walk plan); see ArtifactsPlanned.
func Artifacts(d Dialect, q catalog.Query, s catalog.Sort, limit int, after *catalog.Cursor) (Statement, error) {
	return ArtifactsPlanned(d, q, s, limit, after, Walk)
}

// ArtifactsPlanned returns the statement of a page of
// catalog.Querier.Artifacts, found as p says. Its rows are the
// ManifestColumns and then the sort key of the annotation sorted by (NULL
// for other sorts and for artifacts lacking it). It reads up to
// ClampLimit(limit)+1 rows, one more than the page, so that Page can tell
// whether another page follows.
//
// Order: the sort field, then repository, then digest, all ascending, or
// all descending when s.Desc (so that every order is the reverse of
// another, and keyset pagination runs along one index in either
// direction). Artifacts lacking the annotation sorted by come after the
// others in either direction, among themselves by repository and digest
// in the direction of s. Paging is by keyset: the next page starts
// strictly after the cursor's position, so artifacts added or removed
// between pages do not shift the others.
func ArtifactsPlanned(d Dialect, q catalog.Query, s catalog.Sort, limit int, after *catalog.Cursor, p Plan) (Statement, error) {
	b := &builder{d: d}
	if after != nil {
		if err := checkText("cursor repository", after.Repository); err != nil {
			return Statement{}, err
		}
		if err := checkText("cursor digest", string(after.Digest)); err != nil {
			return Statement{}, err
		}
	}
	if err := checkQuery(q); err != nil {
		return Statement{}, err
	}
	if p.Drive >= len(q.Annotations) || p.Drive >= 0 && !Drivable(q.Annotations[p.Drive]) {
		return Statement{}, invalid("plan drives by filter %d, which the query does not have or which cannot lead", p.Drive)
	}
	var sql string
	var err error
	switch s.Field {
	case catalog.SortPushed, catalog.SortSize, catalog.SortRepository:
		sql, err = b.sortedByColumn(q, s, limit, after, p)
	case catalog.SortAnnotation:
		sql, err = b.sortedByAnnotation(q, s, limit, after, p)
	default:
		err = invalid("unknown sort field %d", int(s.Field))
	}
	if err != nil {
		return Statement{}, err
	}
	return b.statement(sql), nil
}

// direction returns the comparison that keyset pagination uses and the
// ORDER BY direction.
func direction(desc bool) (cmp, dir string) {
	if desc {
		return "<", " DESC"
	}
	return ">", ""
}

// from returns the FROM clause and the first conditions of a statement
// planned by p whose rows are the manifests m: m itself, or, when p
// drives, the annotations d that the leading filter selects joined to
// their manifests. CROSS JOIN keeps SQLite from reordering the join (and
// is an ordinary join to PostgreSQL's planner).
func (b *builder) from(q catalog.Query, p Plan) (string, []string) {
	if p.Drive < 0 {
		return " FROM manifests m", nil
	}
	return " FROM annotations d CROSS JOIN manifests m", []string{
		b.annotationCond("d", q.Annotations[p.Drive]),
		"m.repository = d.repository", "m.digest = d.digest",
	}
}

// sortedByColumn is Artifacts ordered by a column of manifests.
func (b *builder) sortedByColumn(q catalog.Query, s catalog.Sort, limit int, after *catalog.Cursor, p Plan) (string, error) {
	cmp, dir := direction(s.Desc)
	var col string
	switch s.Field {
	case catalog.SortPushed:
		col = "m.pushed_at"
	case catalog.SortSize:
		col = "m.total_size"
	}
	order := "m.repository" + dir + ", m.digest" + dir
	if col != "" {
		order = col + dir + ", " + order
	}
	from, conds := b.from(q, p)
	mconds, err := b.manifestConds(q)
	if err != nil {
		return "", err
	}
	conds = append(conds, mconds...)
	if after != nil {
		if col == "" {
			conds = append(conds, "(m.repository, m.digest) "+cmp+" ("+b.arg(after.Repository)+", "+b.arg(string(after.Digest))+")")
		} else {
			v, err := b.cursorValue(s.Field, after.Value)
			if err != nil {
				return "", err
			}
			conds = append(conds, "("+col+", m.repository, m.digest) "+cmp+" ("+v+", "+b.arg(after.Repository)+", "+b.arg(string(after.Digest))+")")
		}
	}
	conds = append(conds, b.annotationConds(q, p.Drive)...)
	return "SELECT " + mColumns + ", NULL AS sk" + from + whereClause(conds) +
		" ORDER BY " + order + " LIMIT " + b.arg(ClampLimit(limit)+1), nil
}

// cursorValue binds the sort value of a cursor, as cursorOf wrote it.
func (b *builder) cursorValue(f catalog.SortField, v string) (string, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return "", invalid("cursor value %q is not an integer", v)
	}
	if f == catalog.SortPushed {
		return b.time(time.UnixMicro(n)), nil
	}
	return b.arg(n), nil
}

// sortedByAnnotation is Artifacts ordered by the sort key of the
// annotation s.Key: the artifacts that have it, walked along the
// annotations (key, sort_key) index, then those that lack it, walked along
// the manifests primary key.
func (b *builder) sortedByAnnotation(q catalog.Query, s catalog.Sort, limit int, after *catalog.Cursor, p Plan) (string, error) {
	if err := checkText("sort key", s.Key); err != nil {
		return "", err
	}
	cmp, dir := direction(s.Desc)
	n := ClampLimit(limit) + 1

	missing := func(after *catalog.Cursor) (string, error) {
		from, conds := b.from(q, p)
		mconds, err := b.manifestConds(q)
		if err != nil {
			return "", err
		}
		conds = append(conds, mconds...)
		if after != nil && after.Missing {
			conds = append(conds, "(m.repository, m.digest) "+cmp+" ("+b.arg(after.Repository)+", "+b.arg(string(after.Digest))+")")
		}
		order := " ORDER BY m.repository" + dir + ", m.digest" + dir
		conds = append(conds, "NOT EXISTS (SELECT 1 FROM annotations s WHERE s.repository = m.repository AND s.digest = m.digest AND s.key = "+b.arg(s.Key)+")")
		conds = append(conds, b.annotationConds(q, p.Drive)...)
		return "SELECT " + mColumns + ", NULL AS sk" + from + whereClause(conds) + order + " LIMIT " + b.arg(n), nil
	}
	switch {
	case after != nil && after.Missing:
		return missing(after)
	case p.Part == Absent:
		return missing(nil)
	}

	order := " ORDER BY s.sort_key" + dir + ", s.repository" + dir + ", s.digest" + dir
	var from string
	var conds []string
	if p.Drive >= 0 {
		from = " FROM annotations d CROSS JOIN annotations s CROSS JOIN manifests m"
		conds = []string{b.annotationCond("d", q.Annotations[p.Drive]),
			"s.repository = d.repository", "s.digest = d.digest", "s.key = " + b.arg(s.Key)}
	} else {
		from = " FROM annotations s CROSS JOIN manifests m"
		conds = []string{"s.key = " + b.arg(s.Key)}
	}
	conds = append(conds, "m.repository = s.repository", "m.digest = s.digest")
	mconds, err := b.manifestConds(q)
	if err != nil {
		return "", err
	}
	conds = append(conds, mconds...)
	if after != nil {
		conds = append(conds, "(s.sort_key, s.repository, s.digest) "+cmp+" ("+b.arg(after.Value)+", "+b.arg(after.Repository)+", "+b.arg(string(after.Digest))+")")
	}
	conds = append(conds, b.annotationConds(q, p.Drive)...)
	present := "SELECT " + mColumns + ", s.sort_key AS sk" + from + whereClause(conds) + order + " LIMIT " + b.arg(n)
	if p.Part == Present {
		return present, nil
	}
	absent, err := missing(after)
	if err != nil {
		return "", err
	}
	return "SELECT * FROM (SELECT * FROM (" + present + ") present UNION ALL SELECT * FROM (" + absent + ") absent) u" +
		" ORDER BY u.sk IS NULL, u.sk" + dir + ", u.repository" + dir + ", u.digest" + dir + " LIMIT " + b.arg(n), nil
}

// whereClause returns " WHERE" and the conditions ANDed, or "" for none.
func whereClause(conds []string) string {
	if len(conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(conds, " AND ")
}

// Page makes the answer of Artifacts from the rows its statement read, in
// order: ms and, for each, the last column (the annotation sort key, nil
// when NULL). It drops the row past the page and sets Next from the page's
// last artifact when there was one. Artifacts is never nil.
func Page(s catalog.Sort, limit int, ms []catalog.Manifest, sortKeys []*string) catalog.ArtifactPage {
	limit = ClampLimit(limit)
	page := catalog.ArtifactPage{Artifacts: ms}
	if page.Artifacts == nil {
		page.Artifacts = []catalog.Manifest{}
	}
	if len(ms) > limit {
		page.Artifacts = ms[:limit]
		page.Next = cursorOf(s, ms[limit-1], sortKeys[limit-1])
	}
	return page
}

// cursorOf returns the position of m in the order s. sortKey is m's sort
// key of the annotation sorted by, nil if it lacks it.
func cursorOf(s catalog.Sort, m catalog.Manifest, sortKey *string) *catalog.Cursor {
	c := &catalog.Cursor{Repository: m.Repository, Digest: m.Digest}
	switch s.Field {
	case catalog.SortPushed:
		c.Value = strconv.FormatInt(m.PushedAt.UnixMicro(), 10)
	case catalog.SortSize:
		c.Value = strconv.FormatInt(m.TotalSize, 10)
	case catalog.SortRepository:
		c.Value = m.Repository
	case catalog.SortAnnotation:
		if sortKey == nil {
			c.Missing = true
		} else {
			c.Value = *sortKey
		}
	}
	return c
}
