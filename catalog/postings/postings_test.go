package postings

import (
	"cmp"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/opencontainers/go-digest"

	"github.com/cairn-dev/cairn/annotations"
	"github.com/cairn-dev/cairn/catalog"
)

// The tests compare the index with an oracle that answers every query by
// brute force over the entries, with the semantics of sqlquery: filter
// each entry, sort all matches by the whole order, skip those not strictly
// after the cursor, take n.

// ---- Test data ----

// scaled returns n, or short in -short mode (the race detector's runs).
func scaled(n, short int) int {
	if testing.Short() {
		return short
	}
	return n
}

var (
	repoOrgs     = []string{"acme", "acme-labs", "ac", "beta", "b"}
	repoGroups   = []string{"app", "apps", "api", "tool"}
	repoPrefixes = []string{"acme", "acme/", "acme/app", "acme/app1", "acme-labs/", "ac", "ac/api",
		"b", "b/", "beta/tool", "beta/tool1", "acme/app14", "zz"}
	viewerPrefixes = []string{"", "acme", "acme/", "acme/app", "ac", "b", "beta/api1", "zz"}
	exceptPrefixes = []string{"acme/app1", "acme-labs", "beta/", "b/tool", "ac/api1", "acme/"}
	mediaTypes     = []string{
		"application/vnd.oci.image.manifest.v1+json",
		"application/vnd.oci.image.index.v1+json",
		"application/vnd.docker.distribution.manifest.v2+json",
	}
	artifactTypes = []string{"", "application/vnd.example.sbom", "application/vnd.example.sig",
		"application/vnd.cncf.helm.config.v1+json"}
	tagNames     = []string{"latest", "stable", "v1", "v2", "dev", "nightly"}
	owners       = []string{"", "ana", "ben"}
	visibilities = []catalog.Visibility{catalog.Inherit, catalog.Staged, catalog.Private, catalog.Unlisted, catalog.Public}

	numberValues = []string{"0", "-0", "0.0", "1", "1.0", "1e3", "1000", "-1.5", "2", "9", "10", "0.5",
		"-20", "3.14159", "1e-3", "007", "+5", "5"}
	timeValues = []string{"2024-01-01T00:00:00Z", "2024-01-01T01:00:00+01:00", "2024-01-01T00:00:00.000000001Z",
		"2023-12-31T23:59:59.999999Z", "2024-06-15T12:30:00-07:00", "1969-07-20T20:17:40Z", "2030-01-01T00:00:00Z"}
	textValues = []string{"", "alpha", "alp", "Alpha", "beta", "v1.2.3", "v1.10", "latest", "zeta", "a b",
		"éclair", "1.2.3", "NaN", "inf", "0x10", "1_000", "2024-01-01", "n", "p", "s"}

	// entryKeys are the annotation keys entries draw 3 to 8 of; "rare" is
	// added to a few entries besides.
	entryKeys = []string{"version", "build", "created", "team", "mixed", "size.mb", "uniq",
		"k00", "k01", "k02", "k03", "k04", "k05", "k06", "k07", "k08", "k09", "k10", "k11"}
	// queryKeys are the keys queries filter and sort by.
	queryKeys = append(slices.Clone(entryKeys), "rare", "no.such.key")
)

// pushBase is the earliest push time of the test data, in microseconds.
var pushBase = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()

// gen makes random entries and queries from one seed.
type gen struct {
	rng      *rand.Rand
	repos    []string
	subjects []digest.Digest
}

func newGen(seed uint64) *gen {
	g := &gen{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	for _, org := range repoOrgs {
		for _, group := range repoGroups {
			g.repos = append(g.repos, org+"/"+group)
			for i := 1; i < 15; i++ {
				g.repos = append(g.repos, org+"/"+group+strconv.Itoa(i))
			}
		}
	}
	for i := range 200 {
		g.subjects = append(g.subjects, testDigest(i))
	}
	return g
}

func testDigest(i int) digest.Digest { return digest.FromString(strconv.Itoa(i)) }

func pick[T any](g *gen, xs []T) T { return xs[g.rng.IntN(len(xs))] }

// entries returns n entries with distinct keys over the first repos of
// g.repos (all of them when repos is 0). Digests repeat across
// repositories.
func (g *gen) entries(n, repos int) []Entry {
	names := g.repos
	if repos > 0 {
		names = names[:repos]
	}
	seen := map[Key]bool{}
	var es []Entry
	for len(es) < n {
		repo := pick(g, names)
		d := testDigest(1000 + g.rng.IntN(2*n/3+10))
		if seen[Key{repo, d}] {
			continue
		}
		seen[Key{repo, d}] = true
		es = append(es, g.entry(repo, d))
	}
	return es
}

// entry returns a random entry with the key repo, d.
func (g *gen) entry(repo string, d digest.Digest) Entry {
	r := g.rng
	e := Entry{
		Repository:   repo,
		Digest:       d,
		MediaType:    pick(g, mediaTypes),
		ArtifactType: pick(g, artifactTypes),
		TotalSize:    int64(r.IntN(400)) * 1024,
		PushedAt:     g.pushTime(),
		Annotations:  map[string]string{},
		Owner:        pick(g, owners),
		Visibility:   pick(g, visibilities),
		Signed:       r.IntN(4) == 0,
	}
	if r.IntN(10) < 3 {
		e.Subject = pick(g, g.subjects)
	}
	for _, i := range r.Perm(len(tagNames))[:r.IntN(3)] {
		e.Tags = append(e.Tags, tagNames[i])
	}
	for _, i := range r.Perm(len(entryKeys))[:3+r.IntN(6)] {
		e.Annotations[entryKeys[i]] = g.value(entryKeys[i])
	}
	if r.IntN(250) == 0 {
		e.Annotations["rare"] = g.value("rare")
	}
	return e
}

// pushTime returns a push time with many ties: one of a few thousand
// seconds, now and then with microseconds.
func (g *gen) pushTime() int64 {
	t := pushBase + int64(g.rng.IntN(3000))*1e6
	if g.rng.IntN(10) == 0 {
		t += int64(g.rng.IntN(1000))
	}
	return t
}

// value returns a random value of annotation key.
func (g *gen) value(key string) string {
	r := g.rng
	switch key {
	case "version":
		if r.IntN(2) == 0 {
			return pick(g, numberValues)
		}
		return pick(g, textValues)
	case "build":
		return strconv.Itoa(r.IntN(300))
	case "created":
		switch r.IntN(10) {
		case 0, 1:
			return pick(g, timeValues)
		case 2:
			return pick(g, textValues)
		}
		return g.randomTime()
	case "team":
		return pick(g, textValues)
	case "mixed":
		return pick(g, [][]string{numberValues, timeValues, textValues}[r.IntN(3)])
	case "size.mb":
		return strconv.FormatFloat(r.Float64()*100, 'g', 2, 64)
	case "uniq":
		return "u-" + strconv.Itoa(r.IntN(1_000_000))
	case "rare":
		return pick(g, []string{"x", "y", "10", "2"})
	}
	if r.IntN(2) == 0 {
		return strconv.Itoa(r.IntN(50))
	}
	return pick(g, textValues)
}

// randomTime returns an RFC 3339 time in one of a few zones.
func (g *gen) randomTime() string {
	t := time.Unix(1.7e9+int64(g.rng.IntN(1e6))*60, int64(g.rng.IntN(3))*500)
	zone := time.FixedZone("", pick(g, []int{0, 3600, -7 * 3600, 5*3600 + 1800}))
	return t.In(zone).Format(time.RFC3339Nano)
}

// query returns a random query (without text).
func (g *gen) query() catalog.Query {
	r := g.rng
	var q catalog.Query
	if r.IntN(10) == 0 {
		q.Repository = pick(g, append(slices.Clone(g.repos[:40]), "nope/none"))
	}
	if r.IntN(6) == 0 {
		q.RepositoryPrefix = pick(g, repoPrefixes)
	}
	if r.IntN(8) == 0 {
		q.ArtifactType = pick(g, append(slices.Clone(artifactTypes[1:]), "application/nope"))
	}
	if r.IntN(10) == 0 {
		q.MediaType = pick(g, mediaTypes)
	}
	if r.IntN(8) == 0 {
		q.Tag = pick(g, append(slices.Clone(tagNames), "no-such-tag"))
	}
	if r.IntN(12) == 0 {
		q.Subject = pick(g, g.subjects[:20])
	}
	if r.IntN(8) == 0 {
		b := r.IntN(2) == 0
		q.HasSubject = &b
	}
	if r.IntN(8) == 0 {
		b := r.IntN(2) == 0
		q.Signed = &b
	}
	if r.IntN(6) == 0 {
		q.PushedAfter = time.UnixMicro(g.pushTime())
	}
	if r.IntN(6) == 0 {
		q.PushedBefore = time.UnixMicro(g.pushTime())
	}
	for range r.IntN(3) {
		q.Annotations = append(q.Annotations, g.filter())
	}
	if r.IntN(3) == 0 {
		q.Viewer = g.viewer()
	}
	return q
}

// filter returns a random annotation filter, of any operator.
func (g *gen) filter() annotations.Filter {
	r := g.rng
	f := annotations.Filter{Key: pick(g, queryKeys), Op: annotations.Op(r.IntN(9))}
	operand := func() string {
		if r.IntN(5) == 0 {
			return "nope"
		}
		return g.value(f.Key)
	}
	switch f.Op {
	case annotations.Eq:
		for range 1 + r.IntN(3) {
			f.Values = append(f.Values, operand())
		}
	case annotations.Ne:
		f.Values = []string{operand()}
	case annotations.Prefix:
		v := g.value(f.Key)
		p := v[:r.IntN(min(len(v), 4)+1)]
		if !utf8.ValidString(p) {
			p = v
		}
		f.Values = []string{p}
	case annotations.Ge, annotations.Le, annotations.Gt, annotations.Lt:
		var v string
		switch r.IntN(5) {
		case 0:
			v = pick(g, numberValues)
		case 1:
			v = pick(g, timeValues)
		case 2:
			v = pick(g, textValues)
		case 3:
			v = strconv.Itoa(r.IntN(300))
		default:
			v = g.randomTime()
		}
		f.Values = []string{v}
	}
	return f
}

// viewer returns a random viewer.
func (g *gen) viewer() *catalog.Viewer {
	return &catalog.Viewer{
		User:     pick(g, []string{"", "ana", "ben", "cy"}),
		Admin:    g.repoSet(4),
		Read:     g.repoSet(2),
		Public:   g.repoSet(2),
		ByDigest: g.rng.IntN(3) == 0,
	}
}

// repoSet returns an empty set, or one time in odds a random one.
func (g *gen) repoSet(odds int) catalog.RepoSet {
	var s catalog.RepoSet
	if g.rng.IntN(odds) != 0 {
		return s
	}
	for range g.rng.IntN(3) {
		s.Prefixes = append(s.Prefixes, pick(g, viewerPrefixes))
	}
	for range g.rng.IntN(3) {
		s.Except = append(s.Except, pick(g, exceptPrefixes))
	}
	for range g.rng.IntN(3) {
		s.Names = append(s.Names, pick(g, g.repos))
	}
	return s
}

// sort returns a random order: any field, either direction.
func (g *gen) sort() catalog.Sort {
	s := catalog.Sort{Field: catalog.SortField(g.rng.IntN(4)), Desc: g.rng.IntN(2) == 0}
	if s.Field == catalog.SortAnnotation {
		s.Key = pick(g, queryKeys)
	}
	return s
}

// ---- The oracle ----

// matches reports whether q selects e.
func matches(e *Entry, q catalog.Query) bool {
	switch {
	case q.Repository != "" && e.Repository != q.Repository,
		!strings.HasPrefix(e.Repository, q.RepositoryPrefix),
		q.ArtifactType != "" && e.ArtifactType != q.ArtifactType,
		q.MediaType != "" && e.MediaType != q.MediaType,
		q.Tag != "" && !slices.Contains(e.Tags, q.Tag),
		q.Subject != "" && e.Subject != q.Subject,
		q.HasSubject != nil && *q.HasSubject != (e.Subject != ""),
		q.Signed != nil && *q.Signed != e.Signed,
		!q.PushedAfter.IsZero() && e.PushedAt <= q.PushedAfter.UnixMicro(),
		!q.PushedBefore.IsZero() && e.PushedAt >= q.PushedBefore.UnixMicro(),
		!q.Viewer.Sees(e.Repository, e.Owner, e.Visibility):
		return false
	}
	for _, f := range q.Annotations {
		if !f.Matches(e.Annotations) {
			return false
		}
	}
	return true
}

// matching returns the entries q selects.
func matching(es []Entry, q catalog.Query) []*Entry {
	var out []*Entry
	for i := range es {
		if matches(&es[i], q) {
			out = append(out, &es[i])
		}
	}
	return out
}

// position is where an artifact (or a cursor) is in an order: the sort
// value (num for push time and size, sk for an annotation, missing when
// the artifact lacks it), then repository and digest.
type position struct {
	missing bool
	num     int64
	sk      string
	repo    string
	digest  string
}

func positionOf(e *Entry, s catalog.Sort) position {
	p := position{repo: e.Repository, digest: string(e.Digest)}
	switch s.Field {
	case catalog.SortPushed:
		p.num = e.PushedAt
	case catalog.SortSize:
		p.num = e.TotalSize
	case catalog.SortAnnotation:
		if v, ok := e.Annotations[s.Key]; ok {
			p.sk = annotations.SortKey(v)
		} else {
			p.missing = true
		}
	}
	return p
}

func cursorPosition(t testing.TB, c *catalog.Cursor, s catalog.Sort) position {
	t.Helper()
	p := position{repo: c.Repository, digest: string(c.Digest)}
	switch s.Field {
	case catalog.SortPushed, catalog.SortSize:
		n, err := strconv.ParseInt(c.Value, 10, 64)
		if err != nil {
			t.Fatalf("oracle: cursor %+v: %v", *c, err)
		}
		p.num = n
	case catalog.SortAnnotation:
		p.missing, p.sk = c.Missing, c.Value
	}
	return p
}

// comparePositions orders positions as s does: those lacking the
// annotation last in either direction, the rest of the order reversed
// when s.Desc.
func comparePositions(a, b position, s catalog.Sort) int {
	if a.missing != b.missing {
		if a.missing {
			return 1
		}
		return -1
	}
	c := cmp.Compare(a.num, b.num)
	if c == 0 {
		c = strings.Compare(a.sk, b.sk)
	}
	if c == 0 {
		c = strings.Compare(a.repo, b.repo)
	}
	if c == 0 {
		c = strings.Compare(a.digest, b.digest)
	}
	if s.Desc {
		c = -c
	}
	return c
}

// ranked is an entry with its position in an order.
type ranked struct {
	e   *Entry
	pos position
}

// inOrder returns ms sorted by s.
func inOrder(ms []*Entry, s catalog.Sort) []ranked {
	rs := make([]ranked, len(ms))
	for i, e := range ms {
		rs[i] = ranked{e, positionOf(e, s)}
	}
	sort.SliceStable(rs, func(i, j int) bool { return comparePositions(rs[i].pos, rs[j].pos, s) < 0 })
	return rs
}

// pageAfter returns the first n of rs (sorted by s) strictly after the
// cursor.
func pageAfter(t testing.TB, rs []ranked, s catalog.Sort, n int, after *catalog.Cursor) []ranked {
	t.Helper()
	var out []ranked
	var at position
	if after != nil {
		at = cursorPosition(t, after, s)
	}
	for _, r := range rs {
		if len(out) == n {
			break
		}
		if after == nil || comparePositions(r.pos, at, s) > 0 {
			out = append(out, r)
		}
	}
	return out
}

// expectArtifacts is the oracle's ix.Artifacts.
func expectArtifacts(t testing.TB, es []Entry, q catalog.Query, s catalog.Sort, n int, after *catalog.Cursor) []ranked {
	t.Helper()
	return pageAfter(t, inOrder(matching(es, q), s), s, n, after)
}

// cursorAt returns the cursor after r, as sqlquery's cursorOf writes it.
func cursorAt(r ranked, s catalog.Sort) *catalog.Cursor {
	c := &catalog.Cursor{Repository: r.e.Repository, Digest: r.e.Digest}
	switch s.Field {
	case catalog.SortPushed:
		c.Value = strconv.FormatInt(time.UnixMicro(r.e.PushedAt).UnixMicro(), 10)
	case catalog.SortSize:
		c.Value = strconv.FormatInt(r.e.TotalSize, 10)
	case catalog.SortRepository:
		c.Value = r.e.Repository
	case catalog.SortAnnotation:
		if r.pos.missing {
			c.Missing = true
		} else {
			c.Value = r.pos.sk
		}
	}
	return c
}

// hitsOf returns the hits the index should return for rs.
func hitsOf(rs []ranked, s catalog.Sort) []Hit {
	out := make([]Hit, len(rs))
	for i, r := range rs {
		out[i].Key = Key{r.e.Repository, r.e.Digest}
		if s.Field == catalog.SortAnnotation && !r.pos.missing {
			sk := r.pos.sk
			out[i].SortKey = &sk
		}
	}
	return out
}

// expectKeys is the oracle's ix.AnnotationKeys over the matches ms.
func expectKeys(ms []*Entry, limit int) []catalog.Count {
	counts := map[string]int64{}
	for _, e := range ms {
		for k := range e.Annotations {
			counts[k]++
		}
	}
	return topCounts(counts, limit)
}

// expectValues is the oracle's ix.AnnotationValues over the matches ms.
func expectValues(ms []*Entry, key string, limit int) []catalog.Count {
	counts := map[string]int64{}
	for _, e := range ms {
		if v, ok := e.Annotations[key]; ok {
			counts[v]++
		}
	}
	return topCounts(counts, limit)
}

func topCounts(counts map[string]int64, limit int) []catalog.Count {
	out := []catalog.Count{}
	for v, c := range counts {
		out = append(out, catalog.Count{Value: v, Count: c})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Value < out[j].Value
	})
	if len(out) > limit {
		out = out[:limit]
	}
	return out
}

// ---- Comparing ----

// describe spells a query for failure messages.
func describe(q catalog.Query) string {
	var parts []string
	add := func(name, v string) {
		if v != "" {
			parts = append(parts, fmt.Sprintf("%s=%q", name, v))
		}
	}
	add("repo", q.Repository)
	add("prefix", q.RepositoryPrefix)
	add("type", q.ArtifactType)
	add("media", q.MediaType)
	add("tag", q.Tag)
	add("subject", string(q.Subject))
	if q.HasSubject != nil {
		parts = append(parts, fmt.Sprintf("hasSubject=%v", *q.HasSubject))
	}
	if q.Signed != nil {
		parts = append(parts, fmt.Sprintf("signed=%v", *q.Signed))
	}
	if !q.PushedAfter.IsZero() {
		parts = append(parts, fmt.Sprintf("after=%d", q.PushedAfter.UnixMicro()))
	}
	if !q.PushedBefore.IsZero() {
		parts = append(parts, fmt.Sprintf("before=%d", q.PushedBefore.UnixMicro()))
	}
	for _, f := range q.Annotations {
		parts = append(parts, fmt.Sprintf("annotation %q", f.String()))
	}
	if q.Viewer != nil {
		parts = append(parts, fmt.Sprintf("viewer=%+v", *q.Viewer))
	}
	return "{" + strings.Join(parts, " ") + "}"
}

func describeSort(s catalog.Sort) string {
	name := [...]string{catalog.SortPushed: "pushed", catalog.SortRepository: "repository",
		catalog.SortSize: "size", catalog.SortAnnotation: "annotation"}
	out := "unknown"
	if int(s.Field) >= 0 && int(s.Field) < len(name) {
		out = name[s.Field]
	}
	if s.Field == catalog.SortAnnotation {
		out += fmt.Sprintf(" %q", s.Key)
	}
	if s.Desc {
		out += " desc"
	}
	return out
}

func describeCursor(c *catalog.Cursor) string {
	if c == nil {
		return "none"
	}
	return fmt.Sprintf("{value=%q missing=%v %s}", c.Value, c.Missing, shortKey(Key{c.Repository, c.Digest}))
}

func shortKey(k Key) string {
	d := string(k.Digest)
	if i := strings.IndexByte(d, ':'); i >= 0 && len(d) > i+13 {
		d = d[i+1 : i+13]
	}
	return k.Repository + "@" + d
}

func formatHits(hs []Hit) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d hits", len(hs))
	for i, h := range hs {
		fmt.Fprintf(&b, "\n\t%2d %s", i, shortKey(h.Key))
		if h.SortKey != nil {
			fmt.Fprintf(&b, " sk=%q", *h.SortKey)
		}
	}
	return b.String()
}

func sameHit(a, b Hit) bool {
	if a.Key != b.Key || (a.SortKey == nil) != (b.SortKey == nil) {
		return false
	}
	return a.SortKey == nil || *a.SortKey == *b.SortKey
}

// checkHits reports whether got is want, and reports the difference when
// it is not.
func checkHits(t testing.TB, what string, got, want []Hit) bool {
	t.Helper()
	if len(got) == len(want) {
		i := 0
		for i < len(got) && sameHit(got[i], want[i]) {
			i++
		}
		if i == len(got) {
			return true
		}
		t.Errorf("%s: hit %d differs\ngot %s\nwant %s", what, i, formatHits(got), formatHits(want))
		return false
	}
	t.Errorf("%s: %d hits, want %d\ngot %s\nwant %s", what, len(got), len(want), formatHits(got), formatHits(want))
	return false
}

func checkCounts(t testing.TB, what string, got, want []catalog.Count) bool {
	t.Helper()
	if slices.Equal(got, want) {
		return true
	}
	t.Errorf("%s:\ngot  %v\nwant %v", what, got, want)
	return false
}

// checkPages pages through up to pages pages of q sorted by s, n a page,
// comparing each with the oracle's over the matches ms.
func checkPages(t testing.TB, ix *Index, ms []*Entry, q catalog.Query, s catalog.Sort, n, pages int) bool {
	t.Helper()
	return checkRankedPages(t, ix, inOrder(ms, s), q, s, n, pages)
}

// checkRankedPages is checkPages over the matches already in order.
func checkRankedPages(t testing.TB, ix *Index, rs []ranked, q catalog.Query, s catalog.Sort, n, pages int) bool {
	t.Helper()
	var after *catalog.Cursor
	for page := range pages {
		want := pageAfter(t, rs, s, n, after)
		what := fmt.Sprintf("query %s sort %s limit %d page %d cursor %s", describe(q), describeSort(s), n, page, describeCursor(after))
		got, err := ix.Artifacts(q, s, n, after)
		if err != nil {
			t.Errorf("%s: %v", what, err)
			return false
		}
		if !checkHits(t, what, got, hitsOf(want, s)) {
			return false
		}
		if len(want) < n {
			break
		}
		after = cursorAt(want[len(want)-1], s)
	}
	return true
}

// checkFacets compares the index's annotation keys and the values of key
// for q with the oracle's over the matches ms.
func checkFacets(t testing.TB, ix *Index, ms []*Entry, q catalog.Query, key string, limit int) bool {
	t.Helper()
	ok := checkCounts(t, fmt.Sprintf("AnnotationKeys(%s, %d)", describe(q), limit),
		ix.AnnotationKeys(q, limit), expectKeys(ms, limit))
	return checkCounts(t, fmt.Sprintf("AnnotationValues(%q, %s, %d)", key, describe(q), limit),
		ix.AnnotationValues(key, q, limit), expectValues(ms, key, limit)) && ok
}

// checkRandom runs count random queries against ix, which holds es,
// stopping after a few failures.
func checkRandom(t testing.TB, ix *Index, es []Entry, g *gen, count int) {
	t.Helper()
	if got := ix.Len(); got != len(es) {
		t.Fatalf("Len() = %d, want %d", got, len(es))
	}
	failures := 0
	for range count {
		q, s, n := g.query(), g.sort(), 1+g.rng.IntN(60)
		ms := matching(es, q)
		if !checkPages(t, ix, ms, q, s, n, 5) {
			failures++
		}
		if !checkFacets(t, ix, ms, q, pick(g, queryKeys), 1+g.rng.IntN(40)) {
			failures++
		}
		if failures >= 3 {
			t.Fatalf("stopping after %d failures", failures)
		}
	}
}

// state is the entries an index should hold, by key.
type state map[Key]Entry

func stateOf(es []Entry) state {
	st := state{}
	for _, e := range es {
		st[Key{e.Repository, e.Digest}] = e
	}
	return st
}

// entries returns the entries of st, sorted by key (so that random
// choices among them are reproducible).
func (st state) entries() []Entry {
	es := make([]Entry, 0, len(st))
	for _, e := range st {
		es = append(es, e)
	}
	slices.SortFunc(es, func(a, b Entry) int {
		return cmp.Or(strings.Compare(a.Repository, b.Repository), strings.Compare(string(a.Digest), string(b.Digest)))
	})
	return es
}

// update applies puts and gone to both ix and st.
func (st state) update(ix *Index, puts []Entry, gone []Key) {
	ix.Update(puts, gone)
	for _, k := range gone {
		delete(st, k)
	}
	for _, e := range puts {
		st[Key{e.Repository, e.Digest}] = e
	}
}

// ---- Tests ----

func TestRandomQueries(t *testing.T) {
	for _, tc := range []struct {
		name           string
		entries, repos int
		queries        int
		seed           uint64
	}{
		// Small sets: every order is walked.
		{name: "tiny", entries: 12, repos: 4, queries: 150, seed: 1},
		{name: "small", entries: 200, repos: 10, queries: 200, seed: 2},
		// Large: sparse filters collect, dense ones walk, and walks that
		// read too far fall back to collecting.
		{name: "large", entries: scaled(30_000, 8000), queries: scaled(300, 100), seed: 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newGen(tc.seed)
			es := g.entries(tc.entries, tc.repos)
			ix := New()
			ix.Update(es, nil)
			checkRandom(t, ix, es, g, tc.queries)
		})
	}
}

// TestFixedQueries checks queries chosen to reach each filter and order
// on the large set, whatever the random ones happen to draw.
func TestFixedQueries(t *testing.T) {
	g := newGen(4)
	es := g.entries(scaled(15_000, 5000), 0)
	ix := New()
	ix.Update(es, nil)
	yes, no := true, false
	queries := []catalog.Query{
		{},
		{Repository: "acme/app1"},
		{RepositoryPrefix: "acme/app1"},
		{RepositoryPrefix: "b"},
		{RepositoryPrefix: "zz"},
		{Tag: "nightly", Subject: g.subjects[3]},
		{HasSubject: &yes, Signed: &no},
		{HasSubject: &no, Signed: &yes, ArtifactType: artifactTypes[2]},
		{PushedAfter: time.UnixMicro(pushBase + 2990e6)},
		{PushedBefore: time.UnixMicro(pushBase + 5e6)},
		{PushedAfter: time.UnixMicro(pushBase + 1000e6), PushedBefore: time.UnixMicro(pushBase + 1001e6)},
		{Annotations: []annotations.Filter{{Key: "rare", Op: annotations.Exists}}},
		{Annotations: []annotations.Filter{{Key: "rare", Op: annotations.Absent}}},
		{Annotations: []annotations.Filter{{Key: "version", Op: annotations.Eq, Values: []string{"0", "-0", "1e3"}}}},
		{Annotations: []annotations.Filter{{Key: "version", Op: annotations.Ne, Values: []string{"latest"}}}},
		{Annotations: []annotations.Filter{{Key: "team", Op: annotations.Prefix, Values: []string{"al"}}}},
		{Annotations: []annotations.Filter{{Key: "team", Op: annotations.Eq, Values: []string{""}}}},
		{Annotations: []annotations.Filter{{Key: "mixed", Op: annotations.Ge, Values: []string{"1e3"}}}},
		{Annotations: []annotations.Filter{{Key: "mixed", Op: annotations.Lt, Values: []string{"-0"}}}},
		{Annotations: []annotations.Filter{{Key: "mixed", Op: annotations.Gt, Values: []string{"2024-01-01T00:00:00Z"}}}},
		{Annotations: []annotations.Filter{{Key: "created", Op: annotations.Le, Values: []string{"2024-01-01T01:00:00+01:00"}}}},
		{Annotations: []annotations.Filter{{Key: "mixed", Op: annotations.Ge, Values: []string{"beta"}}}},
		{Annotations: []annotations.Filter{{Key: "no.such.key", Op: annotations.Absent}}},
		{Annotations: []annotations.Filter{{Key: "no.such.key", Op: annotations.Ne, Values: []string{"x"}}}},
		{Annotations: []annotations.Filter{{Key: "no.such.key", Op: annotations.Exists}}},
		{Viewer: &catalog.Viewer{}},
		{Viewer: &catalog.Viewer{User: "ana", ByDigest: true}},
		{Viewer: &catalog.Viewer{Admin: catalog.RepoSet{Names: []string{"ac/api3"}}, Read: catalog.RepoSet{Prefixes: []string{"acme/"}, Except: []string{"acme/app1"}}}},
		{Viewer: &catalog.Viewer{Public: catalog.RepoSet{Prefixes: []string{""}, Except: []string{"b"}}, Read: catalog.RepoSet{Prefixes: []string{"b/"}}}},
	}
	var sorts []catalog.Sort
	for _, desc := range []bool{false, true} {
		for _, f := range []catalog.SortField{catalog.SortPushed, catalog.SortRepository, catalog.SortSize} {
			sorts = append(sorts, catalog.Sort{Field: f, Desc: desc})
		}
		for _, k := range []string{"version", "mixed", "created", "rare", "no.such.key"} {
			sorts = append(sorts, catalog.Sort{Field: catalog.SortAnnotation, Key: k, Desc: desc})
		}
	}
	for _, q := range queries {
		ms := matching(es, q)
		for _, s := range sorts {
			rs := inOrder(ms, s)
			for _, n := range []int{1, 7, 60} {
				if !checkRankedPages(t, ix, rs, q, s, n, 3) {
					return
				}
			}
		}
		for _, key := range []string{"version", "uniq", "rare", "no.such.key"} {
			if !checkFacets(t, ix, ms, q, key, 25) {
				return
			}
		}
	}
}

// TestPagingToTheEnd pages through every artifact of a query, across the
// artifacts that have the annotation sorted by and those that lack it.
func TestPagingToTheEnd(t *testing.T) {
	g := newGen(5)
	es := g.entries(2000, 30)
	ix := New()
	ix.Update(es, nil)
	for _, s := range []catalog.Sort{
		{Field: catalog.SortPushed},
		{Field: catalog.SortSize, Desc: true},
		{Field: catalog.SortRepository, Desc: true},
		{Field: catalog.SortAnnotation, Key: "k03"},
		{Field: catalog.SortAnnotation, Key: "mixed", Desc: true},
	} {
		q := catalog.Query{RepositoryPrefix: "acme"}
		ms := matching(es, q)
		if !checkPages(t, ix, ms, q, s, 13, len(ms)/13+2) {
			return
		}
	}
}

func TestUpdates(t *testing.T) {
	g := newGen(6)
	st := stateOf(g.entries(6000, 0))
	ix := New()
	ix.Update(st.entries(), nil)
	checkRandom(t, ix, st.entries(), g, 40)

	// Replace entries: same key, new everything else.
	es := st.entries()
	var puts []Entry
	for _, i := range g.rng.Perm(len(es))[:1500] {
		puts = append(puts, g.entry(es[i].Repository, es[i].Digest))
	}
	slots := len(ix.entries)
	st.update(ix, puts, nil)
	if len(ix.entries) != slots {
		t.Errorf("replacing entries grew the slots from %d to %d", slots, len(ix.entries))
	}
	checkRandom(t, ix, st.entries(), g, 60)

	// Remove some, then add as many back (with new contents): the freed
	// slots are used again.
	es = st.entries()
	var gone []Key
	for _, i := range g.rng.Perm(len(es))[:800] {
		gone = append(gone, Key{es[i].Repository, es[i].Digest})
	}
	st.update(ix, nil, gone)
	if len(ix.free) != 800 {
		t.Errorf("%d free slots after removing 800 entries", len(ix.free))
	}
	checkRandom(t, ix, st.entries(), g, 60)
	puts = nil
	for _, k := range gone[:500] {
		puts = append(puts, g.entry(k.Repository, k.Digest))
	}
	st.update(ix, puts, nil)
	if len(ix.entries) != slots || len(ix.free) != 300 {
		t.Errorf("after adding 500 entries back: %d slots, %d free; want %d, 300", len(ix.entries), len(ix.free), slots)
	}
	checkRandom(t, ix, st.entries(), g, 60)

	// Remove a repository whole ("acme/app1", a prefix of others' names),
	// and one other in the same Update as a put.
	gone = nil
	for k := range st {
		if k.Repository == "acme/app1" || k.Repository == "ac/tool7" {
			gone = append(gone, k)
		}
	}
	if len(gone) == 0 {
		t.Fatal("no artifacts in acme/app1 or ac/tool7")
	}
	st.update(ix, []Entry{g.entry("beta/api", testDigest(99999))}, gone)
	for _, name := range []string{"acme/app1", "ac/tool7"} {
		if ix.repos[name] != nil {
			t.Errorf("repository %s is still in the index after its last artifact was removed", name)
		}
		if slices.Contains(ix.names(), name) {
			t.Errorf("repository %s is still listed after its last artifact was removed", name)
		}
	}
	for _, q := range []catalog.Query{
		{Repository: "acme/app1"},
		{RepositoryPrefix: "ac/tool7"},
		{RepositoryPrefix: "acme/app1"},
		{RepositoryPrefix: "ac/tool"},
	} {
		for _, s := range []catalog.Sort{{}, {Field: catalog.SortRepository}, {Field: catalog.SortAnnotation, Key: "k01", Desc: true}} {
			ms := matching(st.entries(), q)
			for _, m := range ms {
				if m.Repository == "acme/app1" || m.Repository == "ac/tool7" {
					t.Fatalf("oracle: %s matches %s", describe(q), m.Repository)
				}
			}
			checkPages(t, ix, ms, q, s, 50, 3)
		}
	}
	checkRandom(t, ix, st.entries(), g, 60)

	// Pages across updates: a page read before an update, the next one
	// after it, from the cursor.
	for step := range 20 {
		q, s, n := g.query(), g.sort(), 1+g.rng.IntN(30)
		es := st.entries()
		first := expectArtifacts(t, es, q, s, n, nil)
		got, err := ix.Artifacts(q, s, n, nil)
		if err != nil {
			t.Fatal(err)
		}
		what := fmt.Sprintf("step %d: query %s sort %s limit %d page 0", step, describe(q), describeSort(s), n)
		if !checkHits(t, what, got, hitsOf(first, s)) || len(first) == 0 {
			continue
		}
		after := cursorAt(first[len(first)-1], s)
		es = st.entries()
		puts, gone = nil, nil
		for _, i := range g.rng.Perm(len(es))[:200] {
			if i%3 == 0 {
				gone = append(gone, Key{es[i].Repository, es[i].Digest})
			} else {
				puts = append(puts, g.entry(es[i].Repository, es[i].Digest))
			}
		}
		// The artifact at the cursor itself, now and then.
		if step%4 == 0 {
			gone = append(gone, Key{after.Repository, after.Digest})
		}
		st.update(ix, puts, gone)
		want := expectArtifacts(t, st.entries(), q, s, n, after)
		got, err = ix.Artifacts(q, s, n, after)
		if err != nil {
			t.Fatal(err)
		}
		checkHits(t, fmt.Sprintf("step %d: query %s sort %s limit %d page 1 after an update, cursor %s",
			step, describe(q), describeSort(s), n, describeCursor(after)), got, hitsOf(want, s))
	}
}

// TestCursorAfterSortKeyGone pages by an annotation across an update
// that takes the annotation from every artifact: the cursor, among those
// that had it, comes before all the artifacts, which now lack it.
func TestCursorAfterSortKeyGone(t *testing.T) {
	mk := func(repo string, i int, as map[string]string) Entry {
		return Entry{Repository: repo, Digest: testDigest(i), MediaType: mediaTypes[0], PushedAt: pushBase, Annotations: as}
	}
	withKey := []Entry{
		mk("a", 1, map[string]string{"k": "1"}),
		mk("c", 2, map[string]string{"k": "2"}),
	}
	without := []Entry{mk("a", 3, nil), mk("b", 4, nil), mk("c", 5, nil), mk("d", 6, nil)}
	for _, tc := range []struct {
		name string
		// replace: the artifacts that had the key keep their place but
		// lose it; otherwise they are removed.
		replace bool
		desc    bool
	}{
		{name: "removed"},
		{name: "removed desc", desc: true},
		{name: "replaced", replace: true},
		{name: "replaced desc", replace: true, desc: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := stateOf(append(slices.Clone(withKey), without...))
			ix := New()
			ix.Update(st.entries(), nil)
			s := catalog.Sort{Field: catalog.SortAnnotation, Key: "k", Desc: tc.desc}
			first := expectArtifacts(t, st.entries(), catalog.Query{}, s, 1, nil)
			got, err := ix.Artifacts(catalog.Query{}, s, 1, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !checkHits(t, "page 0", got, hitsOf(first, s)) {
				return
			}
			after := cursorAt(first[0], s)
			if after.Missing {
				t.Fatalf("first page's artifact lacks %q", s.Key)
			}
			var puts []Entry
			var gone []Key
			for _, e := range withKey {
				if tc.replace {
					e.Annotations = map[string]string{"other": "x"}
					puts = append(puts, e)
				} else {
					gone = append(gone, Key{e.Repository, e.Digest})
				}
			}
			st.update(ix, puts, gone)
			want := expectArtifacts(t, st.entries(), catalog.Query{}, s, 10, after)
			got, err = ix.Artifacts(catalog.Query{}, s, 10, after)
			if err != nil {
				t.Fatal(err)
			}
			checkHits(t, fmt.Sprintf("sort %s page 1 cursor %s", describeSort(s), describeCursor(after)), got, hitsOf(want, s))
		})
	}
}

// TestAnnotationOrders sorts by more annotations than the index keeps
// orders of, so that orders are dropped and built again, with updates
// made while orders are kept.
func TestAnnotationOrders(t *testing.T) {
	g := newGen(7)
	st := stateOf(g.entries(3000, 0))
	ix := New()
	ix.Update(st.entries(), nil)
	keys := []string{"k00", "k01", "k02", "k03", "k04", "k05", "k06", "k07", "k08", "k09", "k10", "k11"}
	kept := func(key string) *annotationOrder {
		id, ok := ix.strs.lookup(key)
		if !ok {
			t.Fatalf("key %q is not interned", key)
		}
		return ix.byAnnotation[id]
	}
	sortBy := func(key string, desc bool) {
		t.Helper()
		es := st.entries()
		for _, q := range []catalog.Query{{}, {RepositoryPrefix: "b"}, {Annotations: []annotations.Filter{{Key: key, Op: annotations.Lt, Values: []string{"25"}}}}} {
			s := catalog.Sort{Field: catalog.SortAnnotation, Key: key, Desc: desc}
			if !checkPages(t, ix, matching(es, q), q, s, 1+g.rng.IntN(40), 4) {
				t.FailNow()
			}
		}
		if n := len(ix.byAnnotation); n > maxAnnotationOrders {
			t.Fatalf("the index keeps %d annotation orders, more than %d", n, maxAnnotationOrders)
		}
	}

	for i, key := range keys[:maxAnnotationOrders+1] {
		sortBy(key, i%2 == 1)
	}
	if kept(keys[0]) != nil {
		t.Errorf("the order by %s, least recently used, is still kept after sorting by %d keys", keys[0], maxAnnotationOrders+1)
	}
	if kept(keys[maxAnnotationOrders]) == nil {
		t.Errorf("the order by %s, just used, is not kept", keys[maxAnnotationOrders])
	}

	for round := range 6 {
		// Update while orders are kept: replace, remove and add artifacts
		// with the keys; the kept orders must follow.
		before := map[string]*annotationOrder{}
		for _, key := range keys {
			if o := kept(key); o != nil {
				before[key] = o
			}
		}
		es := st.entries()
		var puts []Entry
		var gone []Key
		for j, i := range g.rng.Perm(len(es))[:400] {
			switch j % 4 {
			case 0:
				gone = append(gone, Key{es[i].Repository, es[i].Digest})
			case 1:
				e := es[i]
				e.Annotations = map[string]string{}
				for _, key := range keys[:1+g.rng.IntN(len(keys))] {
					e.Annotations[key] = g.value(key)
				}
				puts = append(puts, e)
			default:
				puts = append(puts, g.entry(es[i].Repository, es[i].Digest))
			}
		}
		for range 100 {
			puts = append(puts, g.entry(pick(g, g.repos), testDigest(100_000+round*1000+len(puts))))
		}
		st.update(ix, puts, gone)
		// Sort by the kept keys first (so that they stay kept), then by
		// the others, which evicts and rebuilds.
		var order []string
		for _, key := range keys {
			if before[key] != nil {
				order = append(order, key)
			}
		}
		for _, key := range keys {
			if before[key] == nil {
				order = append(order, key)
			}
		}
		for i, key := range order {
			o := kept(key)
			sortBy(key, (i+round)%2 == 0)
			if before[key] != nil && (o != before[key] || kept(key) != o) {
				t.Errorf("round %d: the order by %s was rebuilt, not kept across the update", round, key)
			}
		}
		checkRandom(t, ix, st.entries(), g, 10)
	}
}

func TestCursorErrors(t *testing.T) {
	g := newGen(8)
	full := New()
	full.Update(g.entries(300, 10), nil)
	cursor := func(v string) *catalog.Cursor {
		return &catalog.Cursor{Value: v, Repository: "acme/app", Digest: testDigest(1000)}
	}
	for _, tc := range []struct {
		name    string
		sort    catalog.Sort
		after   *catalog.Cursor
		invalid bool
	}{
		{name: "pushed, text", sort: catalog.Sort{Field: catalog.SortPushed}, after: cursor("abc"), invalid: true},
		{name: "pushed, empty", sort: catalog.Sort{Field: catalog.SortPushed}, after: cursor(""), invalid: true},
		{name: "pushed, fraction", sort: catalog.Sort{Field: catalog.SortPushed, Desc: true}, after: cursor("1.5"), invalid: true},
		{name: "pushed, space", sort: catalog.Sort{Field: catalog.SortPushed}, after: cursor(" 17"), invalid: true},
		{name: "pushed, missing", sort: catalog.Sort{Field: catalog.SortPushed}, after: &catalog.Cursor{Missing: true, Repository: "a", Digest: testDigest(1)}, invalid: true},
		{name: "size, unit", sort: catalog.Sort{Field: catalog.SortSize}, after: cursor("12kb"), invalid: true},
		{name: "size, overflow", sort: catalog.Sort{Field: catalog.SortSize, Desc: true}, after: cursor("99999999999999999999"), invalid: true},
		{name: "size, sort key", sort: catalog.Sort{Field: catalog.SortSize}, after: cursor(annotations.SortKey("5")), invalid: true},
		{name: "unknown field", sort: catalog.Sort{Field: catalog.SortField(9)}, invalid: true},
		{name: "negative field", sort: catalog.Sort{Field: catalog.SortField(-1)}, after: cursor("1"), invalid: true},
		{name: "pushed, integer", sort: catalog.Sort{Field: catalog.SortPushed}, after: cursor(strconv.FormatInt(pushBase, 10))},
		{name: "pushed, no cursor", sort: catalog.Sort{Field: catalog.SortPushed}},
		{name: "size, negative", sort: catalog.Sort{Field: catalog.SortSize}, after: cursor("-5")},
		{name: "repository, any value", sort: catalog.Sort{Field: catalog.SortRepository}, after: cursor("not a number")},
		{name: "annotation, any value", sort: catalog.Sort{Field: catalog.SortAnnotation, Key: "version"}, after: cursor("zzz")},
		{name: "annotation, missing", sort: catalog.Sort{Field: catalog.SortAnnotation, Key: "version"}, after: &catalog.Cursor{Missing: true, Repository: "a"}},
	} {
		for _, ix := range []*Index{New(), full} {
			t.Run(fmt.Sprintf("%s/%d", tc.name, ix.Len()), func(t *testing.T) {
				hits, err := ix.Artifacts(catalog.Query{}, tc.sort, 10, tc.after)
				switch {
				case tc.invalid && !errors.Is(err, catalog.ErrInvalidQuery):
					t.Errorf("Artifacts(sort %s, cursor %s) = %d hits, %v; want an error wrapping %v",
						describeSort(tc.sort), describeCursor(tc.after), len(hits), err, catalog.ErrInvalidQuery)
				case tc.invalid && hits != nil:
					t.Errorf("Artifacts(sort %s, cursor %s) returned %d hits with its error", describeSort(tc.sort), describeCursor(tc.after), len(hits))
				case !tc.invalid && err != nil:
					t.Errorf("Artifacts(sort %s, cursor %s): %v", describeSort(tc.sort), describeCursor(tc.after), err)
				}
			})
		}
	}
}

// TestConcurrentQueries runs queries while another goroutine moves the
// index between states: each answer must be the oracle's for one state
// (an Update is seen whole). The data is small for the race detector.
func TestConcurrentQueries(t *testing.T) {
	g := newGen(9)
	states := []state{stateOf(g.entries(500, 40))}
	for range 2 {
		prev := states[len(states)-1].entries()
		next := stateOf(prev)
		for _, i := range g.rng.Perm(len(prev))[:150] {
			k := Key{prev[i].Repository, prev[i].Digest}
			if i%3 == 0 {
				delete(next, k)
			} else {
				next[k] = g.entry(k.Repository, k.Digest)
			}
		}
		for i := range 50 {
			e := g.entry(pick(g, g.repos[:40]), testDigest(50_000+len(states)*100+i))
			next[Key{e.Repository, e.Digest}] = e
		}
		states = append(states, next)
	}

	// Each probe is a query whose answer, as text, is known in each state.
	type probe struct {
		what string
		run  func(*Index) (string, error)
		want []string
	}
	var probes []probe
	for i := range 40 {
		q, s, n := g.query(), g.sort(), 1+g.rng.IntN(20)
		if i%2 == 0 {
			// Orders by more annotations than the index keeps.
			s = catalog.Sort{Field: catalog.SortAnnotation, Key: fmt.Sprintf("k%02d", i/2%12), Desc: i%4 == 0}
		}
		var after *catalog.Cursor
		if first := expectArtifacts(t, states[0].entries(), q, s, n, nil); i%3 == 0 && len(first) > 0 {
			after = cursorAt(first[len(first)-1], s)
		}
		key, limit := pick(g, queryKeys), 1+g.rng.IntN(20)
		what := fmt.Sprintf("query %s", describe(q))
		artifacts := probe{
			what: fmt.Sprintf("%s sort %s limit %d cursor %s", what, describeSort(s), n, describeCursor(after)),
			run: func(ix *Index) (string, error) {
				hits, err := ix.Artifacts(q, s, n, after)
				return formatHits(hits), err
			},
		}
		keys := probe{
			what: fmt.Sprintf("%s: annotation keys, limit %d", what, limit),
			run:  func(ix *Index) (string, error) { return fmt.Sprint(ix.AnnotationKeys(q, limit)), nil },
		}
		values := probe{
			what: fmt.Sprintf("%s: values of %q, limit %d", what, key, limit),
			run:  func(ix *Index) (string, error) { return fmt.Sprint(ix.AnnotationValues(key, q, limit)), nil },
		}
		for _, st := range states {
			es := st.entries()
			ms := matching(es, q)
			artifacts.want = append(artifacts.want, formatHits(hitsOf(expectArtifacts(t, es, q, s, n, after), s)))
			keys.want = append(keys.want, fmt.Sprint(expectKeys(ms, limit)))
			values.want = append(values.want, fmt.Sprint(expectValues(ms, key, limit)))
		}
		probes = append(probes, artifacts, keys, values)
	}

	// Moving from one state to the next: put its entries, remove the keys
	// it lacks.
	type step struct {
		puts []Entry
		gone []Key
	}
	steps := make([]step, len(states))
	for i, st := range states {
		next := states[(i+1)%len(states)]
		steps[i].puts = next.entries()
		for k := range st {
			if _, ok := next[k]; !ok {
				steps[i].gone = append(steps[i].gone, k)
			}
		}
	}

	ix := New()
	ix.Update(states[0].entries(), nil)
	var done atomic.Bool
	var updates atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; !done.Load(); i++ {
			ix.Update(steps[i%len(steps)].puts, steps[i%len(steps)].gone)
			updates.Add(1)
		}
	})
	var readers sync.WaitGroup
	for r := range 4 {
		readers.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(r), 1))
			for range 100 {
				p := probes[rng.IntN(len(probes))]
				got, err := p.run(ix)
				if err != nil {
					t.Errorf("%s: %v", p.what, err)
					return
				}
				if !slices.Contains(p.want, got) {
					t.Errorf("%s: the answer is no state's:\ngot %s\nwant one of\n%s", p.what, got, strings.Join(p.want, "\n--\n"))
					return
				}
				_ = ix.Len()
			}
		})
	}
	readers.Wait()
	done.Store(true)
	wg.Wait()
	if updates.Load() == 0 {
		t.Error("no update ran alongside the queries")
	}
}

// TestCompareSortKeys checks that the order of annotation items, compared
// from interned kinds and bits, is the byte order of their sort keys, for
// cursors' keys too (those the store makes and malformed ones).
func TestCompareSortKeys(t *testing.T) {
	ix := New()
	values := []string{"-3", "-0", "0", "0.5", "1e3", "1000", "2", "10", "2024-06-01T00:00:00Z", "1969-12-31T23:59:59Z",
		"", "a", "b", "n", "p", "s", "sz", "NaN", "inf", "0x10"}
	var items []annItem
	for _, v := range values {
		items = append(items, annItem{vid: ix.strs.value(v)})
	}
	for _, raw := range []string{"", "n", "n12", "N0000000000000000", "nFFFFFFFFFFFFFFFF", "p8000000000000000", "s", "sa", "t", "\xff",
		annotations.SortKey("7"), annotations.SortKey("2030-01-01T00:00:00Z"), annotations.SortKey("zz")} {
		items = append(items, annItem{pivot: parsePivot(raw)})
	}
	for _, a := range items {
		for _, b := range items {
			want := strings.Compare(ix.sortKeyOf(a), ix.sortKeyOf(b))
			if got := ix.compareSortKeys(a, b); got != want {
				t.Errorf("compare %q with %q = %d, want %d", ix.sortKeyOf(a), ix.sortKeyOf(b), got, want)
			}
		}
	}
}
