// Package sqlquery builds the SQL of the catalog's queries (catalog.Querier)
// once, for both stores: catalog/sqlite and catalog/postgres run the
// statements it returns and scan the rows themselves.
//
// Every value that comes from a caller is a bind argument; the SQL text is
// made only of constants of this package. The statements expect the tables
// of the stores' schemas (manifests, tags, layers, annotations with its
// sort_key column) and the indexes those schemas create for them.
package sqlquery

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/cairn-dev/cairn/catalog"
)

// ErrInvalidQuery is returned (wrapped) for a query the stores cannot
// answer: a malformed annotation filter, an unknown sort field, a cursor
// that does not belong to the sort, or text that is not valid UTF-8 or
// holds NUL (which no stored string can match, and which PostgreSQL refuses
// as a bind argument).
var ErrInvalidQuery = catalog.ErrInvalidQuery

// MaxLimit is the most rows one call returns; larger limits are clamped.
const MaxLimit = 1000

// Dialect is what differs between the stores' SQL.
type Dialect struct {
	// Placeholder returns the bind placeholder of the n-th argument
	// (1-based).
	Placeholder func(n int) string
	// Time returns the bind argument of a time compared with pushed_at,
	// or stored in a column of times.
	Time func(t time.Time) any
	// NoTime is the bind argument of an unset time (a token never used,
	// never revoked): what such a column holds.
	NoTime any
	// ForUpdate ends a SELECT that locks the rows it reads until the
	// transaction ends, so that a concurrent delete waits; "" where the
	// store's write transactions exclude each other already.
	ForUpdate string
	// ILike is the operator of a case-insensitive LIKE. Both stores fold
	// ASCII letters only (SQLite's LIKE; PostgreSQL's ILIKE on the "C"
	// collation of the text columns).
	ILike string
	// InTexts returns the condition "col is one of the bound texts", and
	// the one bind argument that carries them: a statement's text stays
	// the same whatever their number (parsing a long IN list costs more
	// than the lookups it asks for).
	InTexts func(b *builder, col string, vals []string) string
	// InPairs is InTexts for two columns: "(c1, c2) is one of the pairs
	// (as[i], bs[i])", bound whole.
	InPairs func(b *builder, c1, c2 string, as, bs []string) string
	// Pairs returns a FROM item named p whose rows are the pairs (as[i],
	// bs[i]) in columns r and d, bound whole: for a join that should
	// search an index once per pair (SQLite's planner does not always
	// see that through InPairs).
	Pairs func(b *builder, as, bs []string) string
}

// SQLite is the dialect of catalog/sqlite: ? placeholders, times as
// microseconds since the Unix epoch (0 for none), no row locks (one
// write transaction at a time).
var SQLite = Dialect{
	Placeholder: func(int) string { return "?" },
	Time:        func(t time.Time) any { return t.UnixMicro() },
	NoTime:      int64(0),
	ILike:       "LIKE",
	InTexts: func(b *builder, col string, vals []string) string {
		j, _ := json.Marshal(vals) // strings always marshal
		return col + " IN (SELECT value FROM json_each(" + b.arg(string(j)) + "))"
	},
	InPairs: func(b *builder, c1, c2 string, as, bs []string) string {
		return "(" + c1 + ", " + c2 + ") IN (SELECT value ->> 0, value ->> 1 FROM json_each(" + b.arg(jsonPairs(as, bs)) + "))"
	},
	Pairs: func(b *builder, as, bs []string) string {
		return "(SELECT value ->> 0 AS r, value ->> 1 AS d FROM json_each(" + b.arg(jsonPairs(as, bs)) + ")) p"
	},
}

// jsonPairs is the pairs (as[i], bs[i]) as one JSON array of arrays, what
// SQLite's json_each reads them from.
func jsonPairs(as, bs []string) string {
	pairs := make([][2]string, len(as))
	for i := range as {
		pairs[i] = [2]string{as[i], bs[i]}
	}
	j, _ := json.Marshal(pairs) // strings always marshal
	return string(j)
}

// Postgres is the dialect of catalog/postgres: $n placeholders, times as
// TIMESTAMPTZ (NULL for none).
var Postgres = Dialect{
	Placeholder: func(n int) string { return "$" + strconv.Itoa(n) },
	Time:        func(t time.Time) any { return t },
	NoTime:      nil,
	ForUpdate:   " FOR UPDATE",
	ILike:       "ILIKE",
	InTexts: func(b *builder, col string, vals []string) string {
		return col + " = ANY(" + b.arg(vals) + "::text[])"
	},
	InPairs: func(b *builder, c1, c2 string, as, bs []string) string {
		return "(" + c1 + ", " + c2 + ") IN (SELECT * FROM unnest(" + b.arg(as) + "::text[], " + b.arg(bs) + "::text[]))"
	},
	Pairs: func(b *builder, as, bs []string) string {
		return "unnest(" + b.arg(as) + "::text[], " + b.arg(bs) + "::text[]) AS p(r, d)"
	},
}

// Statement is SQL text with its bind arguments.
type Statement struct {
	SQL  string
	Args []any
}

// ManifestColumns are the manifests columns that the stores scan into a
// catalog.Manifest, in order.
const ManifestColumns = `repository, digest, media_type, artifact_type, annotations, subject, size, total_size, pushed_at`

// TokenColumns are the tokens columns that the stores scan into a
// catalog.Token, in order.
const TokenColumns = `id, "user", scopes, hash, created_at, expires_at, last_used_at, revoked_at`

// EncodeAnnotations returns the stored form of an annotation map, a JSON
// object ("{}" when empty).
func EncodeAnnotations(a map[string]string) (string, error) {
	if len(a) == 0 {
		return "{}", nil
	}
	b, err := json.Marshal(a)
	if err != nil {
		return "", fmt.Errorf("encode annotations: %w", err)
	}
	return string(b), nil
}

// DecodeAnnotations reads the stored form of an annotation map; nil when
// empty.
func DecodeAnnotations(s string) (map[string]string, error) {
	var a map[string]string
	if err := json.Unmarshal([]byte(s), &a); err != nil {
		return nil, fmt.Errorf("decode annotations: %w", err)
	}
	if len(a) == 0 {
		return nil, nil
	}
	return a, nil
}

// mColumns are ManifestColumns qualified by the alias m.
const mColumns = `m.repository, m.digest, m.media_type, m.artifact_type, m.annotations, m.subject, m.size, m.total_size, m.pushed_at`

// ClampLimit brings limit into [1, MaxLimit].
func ClampLimit(limit int) int {
	return min(max(limit, 1), MaxLimit)
}

// builder accumulates bind arguments while SQL text is written.
type builder struct {
	d    Dialect
	args []any
}

// arg binds v and returns its placeholder.
func (b *builder) arg(v any) string {
	b.args = append(b.args, v)
	return b.d.Placeholder(len(b.args))
}

// time binds a time compared with pushed_at, truncated to the microseconds
// the stores keep, and returns its placeholder.
func (b *builder) time(t time.Time) string {
	return b.arg(b.d.Time(t.Truncate(time.Microsecond).UTC()))
}

// statement returns the statement of sql and the arguments bound so far.
func (b *builder) statement(sql string) Statement {
	return Statement{SQL: sql, Args: b.args}
}

// invalid returns an ErrInvalidQuery error.
func invalid(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidQuery, fmt.Sprintf(format, a...))
}
