package sqlquery

import (
	"fmt"
	"strings"

	"github.com/cairn-dev/cairn/annotations"
	"github.com/cairn-dev/cairn/catalog"
)

// The conditions below are on the manifests row aliased m. Positive
// conditions on other tables are "(m.repository, m.digest) IN (...)", which
// lets the planner drive the query from the other table's index when that
// is selective; negative ones are NOT EXISTS, checked per row through the
// other table's primary key.

// where returns the conditions of q, ANDed by the caller (none for the
// zero Query).
func (b *builder) where(q catalog.Query) ([]string, error) {
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
	if !q.PushedAfter.IsZero() {
		conds = append(conds, "m.pushed_at > "+b.time(q.PushedAfter))
	}
	if !q.PushedBefore.IsZero() {
		conds = append(conds, "m.pushed_at < "+b.time(q.PushedBefore))
	}
	for _, f := range q.Annotations {
		conds = append(conds, b.filter(f))
	}
	if q.Text != "" {
		conds = append(conds, b.text(q.Text))
	}
	return conds, nil
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

// withAnnotation returns the condition that m has an annotation fa with
// fa.key = key and the condition cond writes (nil for none). cond is
// called after key is bound, so that arguments are bound in SQL order.
func (b *builder) withAnnotation(key string, cond func() string) string {
	sql := "(m.repository, m.digest) IN (SELECT fa.repository, fa.digest FROM annotations fa WHERE fa.key = " + b.arg(key)
	if cond != nil {
		sql += " AND " + cond()
	}
	return sql + ")"
}

// withoutAnnotation returns the condition that m has no annotation fa with
// fa.key = key and the condition cond writes (nil for none).
func (b *builder) withoutAnnotation(key string, cond func() string) string {
	sql := "NOT EXISTS (SELECT 1 FROM annotations fa WHERE fa.repository = m.repository AND fa.digest = m.digest AND fa.key = " + b.arg(key)
	if cond != nil {
		sql += " AND " + cond()
	}
	return sql + ")"
}

// rangeOps are the SQL comparisons of the range operators.
var rangeOps = map[annotations.Op]string{annotations.Ge: ">=", annotations.Le: "<=", annotations.Gt: ">", annotations.Lt: "<"}

// filter returns the condition of one (checked) annotation filter.
//
// Ne holds for artifacts that lack the key too: key!=v is NOT (key=v).
// Ranges compare as numbers when the value and the operand are both
// numbers, as instants when both are RFC 3339 times, and as text
// otherwise: the sort keys of the operand's kind order the values of that
// kind, and the values of other kinds compare by bytes with the operand.
func (b *builder) filter(f annotations.Filter) string {
	switch f.Op {
	case annotations.Eq:
		return b.withAnnotation(f.Key, func() string {
			vs := make([]string, len(f.Values))
			for i, v := range f.Values {
				vs[i] = b.arg(v)
			}
			return "fa.value IN (" + strings.Join(vs, ", ") + ")"
		})
	case annotations.Ne:
		return b.withoutAnnotation(f.Key, func() string { return "fa.value = " + b.arg(f.Values[0]) })
	case annotations.Prefix:
		return b.withAnnotation(f.Key, func() string { return b.prefix("fa.value", f.Values[0]) })
	case annotations.Exists:
		return b.withAnnotation(f.Key, nil)
	case annotations.Absent:
		return b.withoutAnnotation(f.Key, nil)
	}
	return b.withAnnotation(f.Key, func() string { return b.compare(rangeOps[f.Op], f.Values[0]) })
}

// compare returns the condition that fa.value op v, for a range operator.
func (b *builder) compare(op, v string) string {
	kind := annotations.KindOf(v)
	if kind == annotations.Text {
		return "fa.value " + op + " " + b.arg(v)
	}
	lo, hi := annotations.KindRange(kind)
	return fmt.Sprintf("((fa.sort_key >= %s AND fa.sort_key < %s AND fa.sort_key %s %s) OR ((fa.sort_key < %s OR fa.sort_key >= %s) AND fa.value %s %s))",
		b.arg(lo), b.arg(hi), op, b.arg(annotations.SortKey(v)), b.arg(lo), b.arg(hi), op, b.arg(v))
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
