package annotations

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Op is the comparison of a Filter.
type Op int

// The filter operators, in the grammar's spelling: key=v, key!=v, key^=p,
// key (exists), !key (absent), key>=v, key<=v, key>v, key<v.
const (
	Eq Op = iota
	Ne
	Prefix
	Exists
	Absent
	Ge
	Le
	Gt
	Lt
)

var opText = [...]string{Eq: "=", Ne: "!=", Prefix: "^=", Exists: "", Absent: "!", Ge: ">=", Le: "<=", Gt: ">", Lt: "<"}

// String spells the operator as the grammar does.
func (o Op) String() string { return opText[o] }

// IsRange reports whether the operator compares order (numbers, times or
// text).
func (o Op) IsRange() bool { return o == Ge || o == Le || o == Gt || o == Lt }

// Holds reports whether a value that compares to the operand as c (-1, 0,
// +1, as strings.Compare) passes the range operator o.
func (o Op) Holds(c int) bool {
	switch o {
	case Ge:
		return c >= 0
	case Le:
		return c <= 0
	case Gt:
		return c > 0
	case Lt:
		return c < 0
	}
	return false
}

// Filter is one parsed annotation filter expression.
type Filter struct {
	Key string
	Op  Op
	// Values holds the operand: several for key=v1|v2 (any of them), one for
	// the other comparisons, none for exists and absent.
	Values []string
}

// String spells the filter back in the grammar.
func (f Filter) String() string {
	switch f.Op {
	case Exists:
		return f.Key
	case Absent:
		return "!" + f.Key
	}
	return f.Key + f.Op.String() + strings.Join(f.Values, "|")
}

// MaxKeyLength bounds an annotation key in a filter.
const MaxKeyLength = 256

// ErrInvalidFilter is returned (wrapped) for an expression outside the
// grammar.
var ErrInvalidFilter = errors.New("invalid annotation filter")

// ParseFilter parses one annotation filter expression.
func ParseFilter(expr string) (Filter, error) {
	if expr == "" {
		return Filter{}, fmt.Errorf("%w: empty expression; use key=value, key!=value, key^=prefix, key, !key, key>=v, key<=v, key>v or key<v", ErrInvalidFilter)
	}
	if rest, ok := strings.CutPrefix(expr, "!"); ok {
		if err := checkKey(rest); err != nil {
			return Filter{}, err
		}
		return Filter{Key: rest, Op: Absent}, nil
	}
	i := strings.IndexAny(expr, "=!^<>")
	if i < 0 {
		if err := checkKey(expr); err != nil {
			return Filter{}, err
		}
		return Filter{Key: expr, Op: Exists}, nil
	}
	key, rest := expr[:i], expr[i:]
	if err := checkKey(key); err != nil {
		return Filter{}, err
	}
	var op Op
	switch {
	case strings.HasPrefix(rest, "!="):
		op = Ne
	case strings.HasPrefix(rest, "^="):
		op = Prefix
	case strings.HasPrefix(rest, ">="):
		op = Ge
	case strings.HasPrefix(rest, "<="):
		op = Le
	case strings.HasPrefix(rest, "="):
		op = Eq
	case strings.HasPrefix(rest, ">"):
		op = Gt
	case strings.HasPrefix(rest, "<"):
		op = Lt
	default:
		return Filter{}, fmt.Errorf("%w: %q: %q is not an operator; use =, !=, ^=, >=, <=, > or <", ErrInvalidFilter, expr, rest[:1])
	}
	value := rest[len(op.String()):]
	if op == Eq {
		return Filter{Key: key, Op: op, Values: strings.Split(value, "|")}, nil
	}
	return Filter{Key: key, Op: op, Values: []string{value}}, nil
}

// checkKey accepts annotation keys as they are written in practice
// (reverse-DNS with / + : @ and -), and nothing that could be an operator.
func checkKey(key string) error {
	if key == "" {
		return fmt.Errorf("%w: no annotation key", ErrInvalidFilter)
	}
	if len(key) > MaxKeyLength {
		return fmt.Errorf("%w: annotation key is %d characters; at most %d", ErrInvalidFilter, len(key), MaxKeyLength)
	}
	for _, r := range key {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case strings.ContainsRune("._-/+:@", r):
		default:
			return fmt.Errorf("%w: annotation key %q has %q; keys use letters, digits and . _ - / + : @", ErrInvalidFilter, key, r)
		}
	}
	return nil
}

// Ordering values: an annotation value sorts and compares as a number when
// it is one, as a time when it is RFC 3339, and as text otherwise. SortKey
// encodes a value so that plain byte order of the encodings is that order:
// numbers first (by value), then times (by instant), then text (by bytes).

const (
	numberTag = 'n'
	timeTag   = 'p'
	textTag   = 's'
)

// Kind is how a value orders.
type Kind byte

// The kinds of values, in their sort order.
const (
	Number Kind = numberTag
	Time   Kind = timeTag
	Text   Kind = textTag
)

// KindOf says whether v orders as a number, a time or text.
func KindOf(v string) Kind {
	if _, ok := number(v); ok {
		return Number
	}
	if _, ok := instant(v); ok {
		return Time
	}
	return Text
}

func number(v string) (float64, bool) {
	if v == "" || len(v) > 64 {
		return 0, false
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

func instant(v string) (time.Time, bool) {
	if len(v) < 20 || len(v) > 40 {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	return t, err == nil
}

// SortKey encodes v so that byte order of encodings is the value order.
func SortKey(v string) string {
	if k, bits := SortBits(v); k != Text {
		return SortKeyOf(k, bits)
	}
	return string(textTag) + v
}

// SortBits returns the kind of v and, for a number or a time, the bits
// whose unsigned order is the order of values of that kind (what SortKey
// spells in hex after the kind).
func SortBits(v string) (Kind, uint64) {
	if f, ok := number(v); ok {
		bits := math.Float64bits(f)
		if f < 0 || (f == 0 && math.Signbit(f)) {
			bits = ^bits
		} else {
			bits |= 1 << 63
		}
		if f == 0 {
			bits = 1 << 63 // -0 and 0 are one number
		}
		return Number, bits
	}
	if t, ok := instant(v); ok {
		// Offset so that instants before 1970 stay ordered as unsigned hex.
		return Time, uint64(t.UnixMicro()) ^ (1 << 63)
	}
	return Text, 0
}

// SortKeyOf is the sort key of a number or time value from its SortBits.
func SortKeyOf(k Kind, bits uint64) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], bits)
	var key [17]byte
	key[0] = byte(k)
	hex.Encode(key[1:], b[:])
	return string(key[:])
}

// KindRange returns the range [lo, hi) of sort keys of one kind.
func KindRange(k Kind) (lo, hi string) {
	return string(rune(k)), string(rune(k + 1))
}
