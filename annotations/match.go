package annotations

import "strings"

// Matches reports whether an artifact with annotations as selects passes
// f, with the semantics of the catalog's queries: key!=v and !key hold for
// artifacts that lack the key; a range compares as numbers when the value
// and the operand are both numbers, as instants when both are RFC 3339
// times, and by bytes otherwise.
func (f Filter) Matches(as map[string]string) bool {
	v, ok := as[f.Key]
	return f.MatchesValue(v, ok)
}

// MatchesValue is Matches for an artifact whose annotation f.Key is v
// (ok) or that lacks it (!ok).
func (f Filter) MatchesValue(v string, ok bool) bool {
	switch f.Op {
	case Exists:
		return ok
	case Absent:
		return !ok
	case Ne:
		return !ok || len(f.Values) != 1 || v != f.Values[0]
	}
	if !ok {
		return false
	}
	switch f.Op {
	case Eq:
		for _, want := range f.Values {
			if v == want {
				return true
			}
		}
		return false
	case Prefix:
		return len(f.Values) == 1 && strings.HasPrefix(v, f.Values[0])
	}
	if !f.Op.IsRange() || len(f.Values) != 1 {
		return false
	}
	a, b := v, f.Values[0]
	if k := KindOf(b); k != Text && KindOf(a) == k {
		a, b = SortKey(a), SortKey(b)
	}
	return f.Op.Holds(strings.Compare(a, b))
}
