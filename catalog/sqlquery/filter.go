package sqlquery

import (
	"fmt"
	"strings"

	"github.com/cairn-dev/cairn/annotations"
	"github.com/cairn-dev/cairn/catalog"
)

// The conditions below are on the manifests row aliased m. Conditions on
// its annotations are correlated EXISTS and NOT EXISTS, checked per row
// through the annotations primary key: a query walks an index in its sort
// order (or the index of one annotation filter, see Plan) and stops at the
// page's end, instead of first collecting every artifact each filter
// matches.

// where returns the conditions of q, ANDed by the caller (none for the
// zero Query): those on the manifests row, then those on its annotations.
func (b *builder) where(q catalog.Query) ([]string, error) {
	conds, err := b.manifestConds(q)
	if err != nil {
		return nil, err
	}
	return append(conds, b.annotationConds(q, -1)...), nil
}

// manifestConds returns the conditions of q on the columns of the
// manifests row m and on its tags: those that do not read annotations.
func (b *builder) manifestConds(q catalog.Query) ([]string, error) {
	if err := checkQuery(q); err != nil {
		return nil, err
	}
	var conds []string
	if q.Repository != "" {
		conds = append(conds, "m.repository = "+b.arg(q.Repository))
	}
	if q.RepositoryPrefix != "" {
		conds = append(conds, b.prefix("m.repository", q.RepositoryPrefix))
	}
	if q.ArtifactType != "" {
		conds = append(conds, "m.artifact_type = "+b.arg(q.ArtifactType))
	}
	if q.MediaType != "" {
		conds = append(conds, "m.media_type = "+b.arg(q.MediaType))
	}
	if q.Tag != "" {
		// A tag names at most one artifact per repository: read them all.
		conds = append(conds, "(m.repository, m.digest) IN (SELECT ft.repository, ft.digest FROM tags ft WHERE ft.tag = "+b.arg(q.Tag)+")")
	}
	if q.Subject != "" {
		conds = append(conds, "m.subject = "+b.arg(string(q.Subject)))
	}
	if q.HasSubject != nil {
		if *q.HasSubject {
			conds = append(conds, "m.subject <> ''")
		} else {
			conds = append(conds, "m.subject = ''")
		}
	}
	if q.Signed != nil {
		signed := "EXISTS (SELECT 1 FROM signatures sg WHERE sg.repository = m.repository AND sg.digest = m.digest AND sg.verified)"
		if !*q.Signed {
			signed = "NOT " + signed
		}
		conds = append(conds, signed)
	}
	if !q.PushedAfter.IsZero() {
		conds = append(conds, "m.pushed_at > "+b.time(q.PushedAfter))
	}
	if !q.PushedBefore.IsZero() {
		conds = append(conds, "m.pushed_at < "+b.time(q.PushedBefore))
	}
	if c := b.viewer(q.Viewer, "m.repository", "m.digest"); c != "" {
		conds = append(conds, c)
	}
	return conds, nil
}

// annotationConds returns the conditions of the annotation filters of q
// but q.Annotations[skip] (none skipped when skip < 0), and of its text,
// on m. q has been checked by manifestConds.
func (b *builder) annotationConds(q catalog.Query, skip int) []string {
	var conds []string
	for i, f := range q.Annotations {
		if i != skip {
			conds = append(conds, b.filter(f))
		}
	}
	if q.Text != "" {
		conds = append(conds, b.text(q.Text))
	}
	return conds
}

// checkQuery refuses strings no stored string can match and malformed
// annotation filters.
func checkQuery(q catalog.Query) error {
	for _, f := range []struct{ what, s string }{
		{"repository", q.Repository},
		{"repository prefix", q.RepositoryPrefix},
		{"artifact type", q.ArtifactType},
		{"media type", q.MediaType},
		{"tag", q.Tag},
		{"subject", string(q.Subject)},
		{"text", q.Text},
	} {
		if err := checkText(f.what, f.s); err != nil {
			return err
		}
	}
	for _, f := range q.Annotations {
		if err := checkFilter(f); err != nil {
			return err
		}
	}
	return nil
}

// checkFilter refuses a filter whose operator is unknown or whose number
// of values does not fit it, and strings that cannot be stored.
func checkFilter(f annotations.Filter) error {
	if err := checkText("annotation key", f.Key); err != nil {
		return err
	}
	for _, v := range f.Values {
		if err := checkText("annotation value", v); err != nil {
			return err
		}
	}
	switch f.Op {
	case annotations.Eq:
		if len(f.Values) == 0 {
			return invalid("filter on %q: = without a value", f.Key)
		}
	case annotations.Ne, annotations.Prefix, annotations.Ge, annotations.Le, annotations.Gt, annotations.Lt:
		if len(f.Values) != 1 {
			return invalid("filter on %q: %s takes one value, not %d", f.Key, f.Op, len(f.Values))
		}
	case annotations.Exists, annotations.Absent:
	default:
		return invalid("filter on %q: unknown operator %d", f.Key, int(f.Op))
	}
	return nil
}

// prefix returns the condition that col starts with p, as a range on col
// (so that an index on col serves it).
func (b *builder) prefix(col, p string) string {
	cond := col + " >= " + b.arg(p)
	if next, ok := successor(p); ok {
		cond += " AND " + col + " < " + b.arg(next)
	}
	return "(" + cond + ")"
}

// withAnnotation returns the condition that m has an annotation (aliased
// fa) that annotationCond(fa, f) selects.
func (b *builder) withAnnotation(f annotations.Filter) string {
	return "EXISTS (SELECT 1 FROM annotations fa WHERE fa.repository = m.repository AND fa.digest = m.digest AND " + b.annotationCond("fa", f) + ")"
}

// withoutAnnotation returns the condition that m has no annotation that
// annotationCond(fa, f) selects.
func (b *builder) withoutAnnotation(f annotations.Filter) string {
	return "NOT EXISTS (SELECT 1 FROM annotations fa WHERE fa.repository = m.repository AND fa.digest = m.digest AND " + b.annotationCond("fa", f) + ")"
}

// Drivable reports whether a filter selects artifacts by annotations they
// have (rather than lack), so that the annotations that match it can be
// read from an index and lead a query (see Plan.Drive).
func Drivable(f annotations.Filter) bool {
	switch f.Op {
	case annotations.Ne, annotations.Absent:
		return false
	}
	return true
}

// rangeOps are the SQL comparisons of the range operators.
var rangeOps = map[annotations.Op]string{annotations.Ge: ">=", annotations.Le: "<=", annotations.Gt: ">", annotations.Lt: "<"}

// filter returns the condition of one (checked) annotation filter on m.
//
// Ne holds for artifacts that lack the key too: key!=v is NOT (key=v), and
// Absent is NOT (key exists).
func (b *builder) filter(f annotations.Filter) string {
	switch f.Op {
	case annotations.Ne:
		return b.withoutAnnotation(annotations.Filter{Key: f.Key, Op: annotations.Eq, Values: f.Values})
	case annotations.Absent:
		return b.withoutAnnotation(annotations.Filter{Key: f.Key, Op: annotations.Exists})
	}
	return b.withAnnotation(f)
}

// annotationCond returns the condition that the annotation row aliased a
// has f's key and a value f selects, for a drivable filter f (Eq, Prefix,
// Exists or a range).
//
// Ranges compare as numbers when the value and the operand are both
// numbers, as instants when both are RFC 3339 times, and as text
// otherwise: the sort keys of the operand's kind order the values of that
// kind, and the values of other kinds compare by bytes with the operand.
func (b *builder) annotationCond(a string, f annotations.Filter) string {
	cond := a + ".key = " + b.arg(f.Key)
	switch f.Op {
	case annotations.Eq:
		vs := make([]string, len(f.Values))
		for i, v := range f.Values {
			vs[i] = b.arg(v)
		}
		return cond + " AND " + a + ".value IN (" + strings.Join(vs, ", ") + ")"
	case annotations.Prefix:
		return cond + " AND " + b.prefix(a+".value", f.Values[0])
	case annotations.Exists:
		return cond
	}
	return cond + " AND " + b.compare(a, rangeOps[f.Op], f.Values[0])
}

// compare returns the condition that a.value op v, for a range operator.
func (b *builder) compare(a, op, v string) string {
	kind := annotations.KindOf(v)
	if kind == annotations.Text {
		return a + ".value " + op + " " + b.arg(v)
	}
	lo, hi := annotations.KindRange(kind)
	sk := a + ".sort_key"
	return fmt.Sprintf("((%[1]s >= %[2]s AND %[1]s < %[3]s AND %[1]s %[4]s %[5]s) OR ((%[1]s < %[6]s OR %[1]s >= %[7]s) AND %[8]s.value %[4]s %[9]s))",
		sk, b.arg(lo), b.arg(hi), op, b.arg(annotations.SortKey(v)), b.arg(lo), b.arg(hi), a, b.arg(v))
}

// text returns the condition that s is a substring, ASCII case folded, of
// the repository name, an annotation value or a tag of m.
func (b *builder) text(s string) string {
	like := b.d.ILike
	p := containsPattern(s)
	return "(m.repository " + like + " " + b.arg(p) + ` ESCAPE '\'` +
		" OR EXISTS (SELECT 1 FROM annotations xa WHERE xa.repository = m.repository AND xa.digest = m.digest AND xa.value " + like + " " + b.arg(p) + ` ESCAPE '\')` +
		" OR EXISTS (SELECT 1 FROM tags xt WHERE xt.repository = m.repository AND xt.digest = m.digest AND xt.tag " + like + " " + b.arg(p) + ` ESCAPE '\'))`
}

// viewer returns the condition that v sees the manifest whose repository
// and digest are the columns repo and dgst: catalog.Viewer.Sees in SQL. An
// artifact without a row in owners has no owner and inherits its
// repository's visibility.
func (b *builder) viewer(v *catalog.Viewer, repo, dgst string) string {
	if v == nil {
		return ""
	}
	own := "vo.repository = " + repo + " AND vo.digest = " + dgst
	seen := []string{"vo.visibility = 'public'"}
	if v.ByDigest {
		seen = append(seen, "vo.visibility = 'unlisted'")
	}
	if v.User != "" {
		seen = append(seen, "vo.owner = "+b.arg(v.User))
	}
	ors := []string{"EXISTS (SELECT 1 FROM owners vo WHERE " + own + " AND (" + strings.Join(seen, " OR ") + "))"}
	if c := b.repoSet(v.Admin, repo); c != "" {
		ors = append(ors, c)
	}
	if c := b.repoSet(v.Read, repo); c != "" {
		ors = append(ors, "("+c+" AND NOT EXISTS (SELECT 1 FROM owners vo WHERE "+own+" AND vo.visibility = 'staged'))")
	}
	if c := b.repoSet(v.Public, repo); c != "" {
		ors = append(ors, "("+c+" AND NOT EXISTS (SELECT 1 FROM owners vo WHERE "+own+" AND vo.visibility <> ''))")
	}
	return "(" + strings.Join(ors, " OR ") + ")"
}

// repoSet returns the condition that the column col names a repository of
// s, "" for an empty set.
func (b *builder) repoSet(s catalog.RepoSet, col string) string {
	var ors []string
	for _, p := range s.Prefixes {
		cond := "(1 = 1)"
		if p != "" {
			cond = b.prefix(col, p)
		}
		for _, q := range s.ExceptUnder(p) {
			cond += " AND NOT " + b.prefix(col, q)
		}
		ors = append(ors, "("+cond+")")
	}
	if len(s.Names) > 0 {
		vs := make([]string, len(s.Names))
		for i, n := range s.Names {
			vs[i] = b.arg(n)
		}
		ors = append(ors, col+" IN ("+strings.Join(vs, ", ")+")")
	}
	if len(ors) == 0 {
		return ""
	}
	return "(" + strings.Join(ors, " OR ") + ")"
}
