package sqlquery

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/annotations"
	"github.com/cairn-dev/cairn/catalog"
)

func TestSuccessor(t *testing.T) {
	for _, c := range []struct {
		p, want string
		ok      bool
	}{
		{"a", "b", true},
		{"ab", "ac", true},
		{"a\U0010FFFF", "b", true},
		{"a\U0010FFFF\U0010FFFF", "b", true},
		{"\U0010FFFF", "", false},
		{"", "", false},
		{"\uD7FF", "\uE000", true},
		{"é", "ê", true},
		{"a%", "a&", true},
		{"team_", "team`", true},
	} {
		got, ok := successor(c.p)
		if got != c.want || ok != c.ok {
			t.Errorf("successor(%q) = %q, %v; want %q, %v", c.p, got, ok, c.want, c.ok)
		}
	}
	// "s starts with p" is exactly "p <= s < successor(p)".
	alphabet := []rune{'a', 'b', 'é', '\U0010FFFF', '\uD7FF', '\uE000', '%', '\x7f', '\u0080'}
	word := func(r *rand.Rand) string {
		var sb strings.Builder
		for range r.IntN(4) {
			sb.WriteRune(alphabet[r.IntN(len(alphabet))])
		}
		return sb.String()
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		p, s := word(r), word(r)
		if r.IntN(2) == 0 {
			s = p + s
		}
		next, ok := successor(p)
		in := p <= s && (!ok || s < next)
		if in != strings.HasPrefix(s, p) {
			t.Fatalf("p=%q s=%q successor=%q,%v: range says %v", p, s, next, ok, in)
		}
	}
}

func TestContainsPattern(t *testing.T) {
	for s, want := range map[string]string{
		"abc":         "%abc%",
		"100%":        `%100\%%`,
		"a_c":         `%a\_c%`,
		`back\slash`:  `%back\\slash%`,
		`\%_`:         `%\\\%\_%`,
		"'; DROP --'": "%'; DROP --'%",
		"ünï":         "%ünï%",
	} {
		if got := containsPattern(s); got != want {
			t.Errorf("containsPattern(%q) = %q, want %q", s, got, want)
		}
	}
}

func TestClampLimit(t *testing.T) {
	for in, want := range map[int]int{-1: 1, 0: 1, 1: 1, 50: 50, 1000: 1000, 1001: 1000, 1 << 40: 1000} {
		if got := ClampLimit(in); got != want {
			t.Errorf("ClampLimit(%d) = %d, want %d", in, got, want)
		}
	}
}

// statements returns statements of every builder over many queries.
func statements(t *testing.T, d Dialect) []Statement {
	t.Helper()
	var fs []annotations.Filter
	for _, e := range []string{"a=1|2|3", "b!=x", "c^=p", "d", "!e", "f>=2024", "g<2024-01-01T00:00:00Z", "h>text", "i<=5"} {
		f, err := annotations.ParseFilter(e)
		if err != nil {
			t.Fatal(err)
		}
		fs = append(fs, f)
	}
	full := catalog.Query{
		Repository: "r", RepositoryPrefix: "p", ArtifactType: "at", MediaType: "mt", Tag: "t", Annotations: fs,
		Text: "x", Subject: "sha256:s", HasSubject: new(bool), PushedAfter: time.Unix(1, 0), PushedBefore: time.Unix(2, 0),
	}
	cursor := &catalog.Cursor{Value: "5", Repository: "r", Digest: "d"}
	var out []Statement
	add := func(st Statement, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, st)
	}
	for _, q := range []catalog.Query{{}, full} {
		for _, f := range []catalog.SortField{catalog.SortPushed, catalog.SortRepository, catalog.SortSize, catalog.SortAnnotation} {
			for _, after := range []*catalog.Cursor{nil, cursor} {
				add(Artifacts(d, q, catalog.Sort{Field: f, Key: "k", Desc: after == cursor}, 10, after))
			}
		}
		add(Artifacts(d, q, catalog.Sort{Field: catalog.SortAnnotation, Key: "k"}, 10, &catalog.Cursor{Missing: true, Repository: "r", Digest: "d"}))
		add(AnnotationKeys(d, nil, q, 10))
		add(AnnotationValues(d, nil, "k", q, 10))
	}
	add(RepositorySummaries(d, "p", "a", nil, 10))
	add(RepositorySummaries(d, "", "", nil, 10))
	add(BlobUses(d, "sha256:x", "", nil, 10))
	v := &catalog.Viewer{User: "ana", Admin: catalog.RepoSet{Names: []string{"x"}}, Read: catalog.RepoSet{Prefixes: []string{"p/", ""}}, Public: catalog.RepoSet{Prefixes: []string{"pub/"}}, ByDigest: true}
	add(RepositorySummaries(d, "p", "", v, 10))
	add(BlobUses(d, "sha256:x", "r", v, 10))
	add(Artifacts(d, catalog.Query{Viewer: v}, catalog.Sort{}, 10, nil))
	add(AnnotationKeys(d, nil, catalog.Query{Viewer: &catalog.Viewer{}}, 10))
	out = append(out, VisibleTags(d, "r", v), VisibleTags(d, "r", nil))
	ms := []catalog.Manifest{{Repository: "a", Digest: "b"}, {Repository: "c", Digest: "d"}}
	out = append(out, Layers(d, ms), Tags(d, ms))
	return out
}

// TestPlaceholders checks that every argument has its placeholder, in
// order: $1…$n once each for PostgreSQL, n question marks for SQLite.
func TestPlaceholders(t *testing.T) {
	dollar := regexp.MustCompile(`\$(\d+)`)
	for _, st := range statements(t, Postgres) {
		seen := map[int]bool{}
		for _, m := range dollar.FindAllStringSubmatch(st.SQL, -1) {
			n, _ := strconv.Atoi(m[1])
			if seen[n] {
				t.Errorf("$%d twice in %s", n, st.SQL)
			}
			seen[n] = true
		}
		for i := 1; i <= len(st.Args); i++ {
			if !seen[i] {
				t.Errorf("no $%d for %d arguments in %s", i, len(st.Args), st.SQL)
			}
		}
		if len(seen) != len(st.Args) {
			t.Errorf("%d placeholders for %d arguments in %s", len(seen), len(st.Args), st.SQL)
		}
	}
	for _, st := range statements(t, SQLite) {
		if n := strings.Count(st.SQL, "?"); n != len(st.Args) {
			t.Errorf("%d placeholders for %d arguments in %s", n, len(st.Args), st.SQL)
		}
	}
}

// TestArgumentsInOrder checks, on a query whose arguments are all
// different, that SQLite's positional placeholders get their arguments in
// the order the SQL names them (as PostgreSQL's numbered ones do).
func TestArgumentsInOrder(t *testing.T) {
	for _, st := range statements(t, Postgres) {
		if strings.Contains(st.SQL, "::text[]") {
			// A list bound whole (InTexts, InPairs) is spelt differently
			// in each dialect; TestBoundLists checks those.
			continue
		}
		sqlite := regexp.MustCompile(`\$\d+`).ReplaceAllString(strings.ReplaceAll(st.SQL, " ILIKE ", " LIKE "), "?")
		var reordered []any
		for _, m := range regexp.MustCompile(`\$(\d+)`).FindAllStringSubmatch(st.SQL, -1) {
			n, _ := strconv.Atoi(m[1])
			reordered = append(reordered, st.Args[n-1])
		}
		compared := false
		for _, lite := range statements(t, SQLite) {
			if lite.SQL != sqlite {
				continue
			}
			compared = true
			for i := range reordered {
				if _, isTime := reordered[i].(time.Time); isTime {
					continue // the dialects bind times differently
				}
				if reordered[i] != lite.Args[i] {
					t.Errorf("argument %d: %v in PostgreSQL's order, %v in SQLite's, in %s", i, reordered[i], lite.Args[i], lite.SQL)
				}
			}
		}
		if !compared {
			t.Errorf("no SQLite statement like %s", st.SQL)
		}
	}
}

func TestInvalidQueries(t *testing.T) {
	for name, q := range map[string]catalog.Query{
		"invalid UTF-8":      {Tag: "\xff"},
		"NUL":                {Text: "a\x00"},
		"= without values":   {Annotations: []annotations.Filter{{Key: "k", Op: annotations.Eq}}},
		"!= with two values": {Annotations: []annotations.Filter{{Key: "k", Op: annotations.Ne, Values: []string{"a", "b"}}}},
		"unknown operator":   {Annotations: []annotations.Filter{{Key: "k", Op: 42}}},
		"invalid key":        {Annotations: []annotations.Filter{{Key: "\xc3", Op: annotations.Exists}}},
	} {
		if _, err := Artifacts(SQLite, q, catalog.Sort{}, 10, nil); !errors.Is(err, ErrInvalidQuery) {
			t.Errorf("%s: Artifacts error %v, want ErrInvalidQuery", name, err)
		}
		if _, err := AnnotationKeys(SQLite, nil, q, 10); !errors.Is(err, ErrInvalidQuery) {
			t.Errorf("%s: AnnotationKeys error %v, want ErrInvalidQuery", name, err)
		}
	}
	for name, c := range map[string]struct {
		s     catalog.Sort
		after *catalog.Cursor
	}{
		"unknown field":         {catalog.Sort{Field: 7}, nil},
		"pushed cursor garbage": {catalog.Sort{Field: catalog.SortPushed}, &catalog.Cursor{Value: "x"}},
		"size cursor empty":     {catalog.Sort{Field: catalog.SortSize}, &catalog.Cursor{}},
		"cursor digest":         {catalog.Sort{Field: catalog.SortRepository}, &catalog.Cursor{Digest: "\xff"}},
	} {
		if _, err := Artifacts(Postgres, catalog.Query{}, c.s, 10, c.after); !errors.Is(err, ErrInvalidQuery) {
			t.Errorf("%s: error %v, want ErrInvalidQuery", name, err)
		}
	}
}

func TestPage(t *testing.T) {
	pushed := time.Date(2024, 1, 2, 3, 4, 5, 678901234, time.UTC)
	ms := []catalog.Manifest{
		{Repository: "a", Digest: "d1", PushedAt: pushed, TotalSize: 9},
		{Repository: "b", Digest: "d2", PushedAt: pushed, TotalSize: 10},
		{Repository: "c", Digest: "d3"},
	}
	key := "nkey"
	keys := []*string{&key, nil, nil}
	for _, c := range []struct {
		s    catalog.Sort
		n    int
		want *catalog.Cursor
	}{
		{catalog.Sort{Field: catalog.SortPushed}, 2, &catalog.Cursor{Value: strconv.FormatInt(pushed.UnixMicro(), 10), Repository: "b", Digest: "d2"}},
		{catalog.Sort{Field: catalog.SortSize}, 1, &catalog.Cursor{Value: "9", Repository: "a", Digest: "d1"}},
		{catalog.Sort{Field: catalog.SortRepository}, 2, &catalog.Cursor{Value: "b", Repository: "b", Digest: "d2"}},
		{catalog.Sort{Field: catalog.SortAnnotation, Key: "k"}, 1, &catalog.Cursor{Value: "nkey", Repository: "a", Digest: "d1"}},
		{catalog.Sort{Field: catalog.SortAnnotation, Key: "k"}, 2, &catalog.Cursor{Missing: true, Repository: "b", Digest: "d2"}},
		{catalog.Sort{}, 3, nil},
		{catalog.Sort{}, 4, nil},
	} {
		p := Page(c.s, c.n, ms, keys)
		if len(p.Artifacts) != min(c.n, len(ms)) {
			t.Errorf("Page(%+v, %d): %d artifacts", c.s, c.n, len(p.Artifacts))
		}
		if (p.Next == nil) != (c.want == nil) || (p.Next != nil && *p.Next != *c.want) {
			t.Errorf("Page(%+v, %d): Next = %+v, want %+v", c.s, c.n, p.Next, c.want)
		}
	}
	if p := Page(catalog.Sort{}, 10, nil, nil); p.Artifacts == nil || p.Next != nil {
		t.Errorf("Page of no rows = %+v", p)
	}
}

// TestBoundLists checks that the dialects' lists bound whole carry their
// values in the order given.
func TestBoundLists(t *testing.T) {
	as, bs := []string{"r1", "r2"}, []string{"d1", "d2"}
	for name, tc := range map[string]struct {
		d    Dialect
		want []string
	}{
		"sqlite":   {SQLite, []string{`["r1","r2"]`, `[["r1","d1"],["r2","d2"]]`}},
		"postgres": {Postgres, []string{`["r1","r2"]`, `["r1","r2"]`, `["d1","d2"]`}},
	} {
		b := &builder{d: tc.d}
		tc.d.InTexts(b, "c", as)
		tc.d.InPairs(b, "c1", "c2", as, bs)
		var got []string
		for _, a := range b.args {
			s := fmt.Sprint(a)
			if list, ok := a.([]string); ok {
				j, _ := json.Marshal(list)
				s = string(j)
			}
			got = append(got, s)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: arguments %v, want %v", name, got, tc.want)
		}
	}
}
