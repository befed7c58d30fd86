package storetest

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/cairn-dev/cairn/annotations"
	"github.com/cairn-dev/cairn/catalog"
)

// spec describes one artifact of a query fixture.
type spec struct {
	name, repo   string
	minute       int
	totalSize    int64
	annotations  map[string]string
	tags         []string
	artifactType string
	mediaType    string
	subject      string // name of another artifact of the fixture
}

// fixture is a set of artifacts in a store, by name, with their tags set
// as reads return them.
type fixture struct {
	byName map[string]catalog.Manifest
	names  map[string]string // repository@digest → name
	order  []string          // names in push order
}

// artifact returns the manifest of sp (without tags): a config and a layer
// of its own, and a layer every artifact of a fixture shares.
func artifact(sp spec, subject digest.Digest) catalog.Manifest {
	m := catalog.Manifest{
		Repository:   sp.repo,
		Digest:       dg("artifact " + sp.name),
		MediaType:    mtImage,
		ArtifactType: mtConfig,
		Annotations:  sp.annotations,
		Layers: []catalog.Layer{
			{Kind: "config", Digest: dg("config " + sp.name), MediaType: mtConfig, Size: 3},
			{Kind: "layer", Digest: dg("layer " + sp.name), MediaType: mtLayer, Size: 5, Title: sp.name + ".tar.gz",
				Annotations: map[string]string{annotations.Title: sp.name + ".tar.gz"}},
			{Kind: "layer", Digest: dg("shared layer"), MediaType: mtLayer, Size: 11},
		},
		Subject:   subject,
		Size:      10,
		TotalSize: sp.totalSize,
		PushedAt:  at(sp.minute),
	}
	if sp.artifactType != "" {
		m.ArtifactType = sp.artifactType
	}
	if sp.mediaType != "" {
		m.MediaType = sp.mediaType
	}
	return m
}

// load puts the artifacts of specs (in order, so that subjects come first)
// and their tags.
func load(t *testing.T, s catalog.Store, specs []spec) fixture {
	t.Helper()
	f := fixture{byName: map[string]catalog.Manifest{}, names: map[string]string{}}
	for _, sp := range specs {
		var subject digest.Digest
		if sp.subject != "" {
			subject = f.byName[sp.subject].Digest
		}
		m := artifact(sp, subject)
		put(t, s, m)
		for _, tg := range sp.tags {
			tag(t, s, m, tg)
		}
		f.byName[sp.name] = withTags(m, sp.tags...)
		f.names[m.Repository+"@"+string(m.Digest)] = sp.name
		f.order = append(f.order, sp.name)
	}
	slices.SortStableFunc(f.order, func(a, b string) int {
		return f.byName[a].PushedAt.Compare(f.byName[b].PushedAt)
	})
	return f
}

// all returns the fixture's manifests in push order.
func (f fixture) all() []catalog.Manifest {
	ms := make([]catalog.Manifest, len(f.order))
	for i, n := range f.order {
		ms[i] = f.byName[n]
	}
	return ms
}

// nameOf returns the fixture name of m, or its repository@digest if it is
// not one of the fixture's.
func (f fixture) nameOf(m catalog.Manifest) string {
	key := m.Repository + "@" + string(m.Digest)
	if n, ok := f.names[key]; ok {
		return n
	}
	return key
}

// namesOf returns the fixture names of ms.
func (f fixture) namesOf(ms []catalog.Manifest) []string {
	out := []string{}
	for _, m := range ms {
		out = append(out, f.nameOf(m))
	}
	return out
}

// except returns the fixture's names in push order, but those of names.
func (f fixture) except(names ...string) []string {
	out := []string{}
	for _, n := range f.order {
		if !slices.Contains(names, n) {
			out = append(out, n)
		}
	}
	return out
}

// artifacts runs Artifacts or fails the test.
func artifacts(t *testing.T, s catalog.Store, q catalog.Query, so catalog.Sort, limit int, after *catalog.Cursor) catalog.ArtifactPage {
	t.Helper()
	p, err := s.Artifacts(t.Context(), q, so, limit, after)
	if err != nil {
		t.Fatalf("Artifacts(%+v, %+v, %d, %+v): %v", q, so, limit, after, err)
	}
	if p.Artifacts == nil {
		t.Errorf("Artifacts(%+v, %+v, %d, %+v): nil Artifacts, want a non-nil slice", q, so, limit, after)
	}
	return p
}

// walk pages through the answer of q in the order so, limit at a time,
// calling between (if not nil) after every page but the last, and returns
// every artifact in order.
func walk(t *testing.T, s catalog.Store, q catalog.Query, so catalog.Sort, limit int, between func(last catalog.Manifest)) []catalog.Manifest {
	t.Helper()
	var out []catalog.Manifest
	var after *catalog.Cursor
	for range 10000 {
		p := artifacts(t, s, q, so, limit, after)
		if len(p.Artifacts) > limit {
			t.Fatalf("page of %d artifacts, limit %d", len(p.Artifacts), limit)
		}
		out = append(out, p.Artifacts...)
		if p.Next == nil {
			return out
		}
		if len(p.Artifacts) == 0 {
			t.Fatalf("empty page with a next cursor %+v", p.Next)
		}
		last := p.Artifacts[len(p.Artifacts)-1]
		if p.Next.Repository != last.Repository || p.Next.Digest != last.Digest {
			t.Errorf("Next %+v is not at the page's last artifact %s@%s", p.Next, last.Repository, last.Digest)
		}
		if between != nil {
			between(last)
		}
		after = p.Next
	}
	t.Fatal("walk: no last page after 10000 pages")
	return nil
}

// compareIn compares a and b in the order so, as the Querier documents it:
// the sort value, then repository, then digest, all reversed by Desc;
// artifacts lacking the annotation sorted by come last in either direction.
func compareIn(so catalog.Sort, a, b catalog.Manifest) int {
	if so.Field == catalog.SortAnnotation {
		va, oka := a.Annotations[so.Key]
		vb, okb := b.Annotations[so.Key]
		if oka != okb {
			if oka {
				return -1
			}
			return 1
		}
		if oka {
			if c := strings.Compare(annotations.SortKey(va), annotations.SortKey(vb)); c != 0 {
				return directed(so, c)
			}
		}
	}
	var c int
	switch so.Field {
	case catalog.SortPushed:
		c = a.PushedAt.Truncate(time.Microsecond).Compare(b.PushedAt.Truncate(time.Microsecond))
	case catalog.SortSize:
		c = cmpInt(a.TotalSize, b.TotalSize)
	}
	if c == 0 {
		c = strings.Compare(a.Repository, b.Repository)
	}
	if c == 0 {
		c = strings.Compare(string(a.Digest), string(b.Digest))
	}
	return directed(so, c)
}

// directed reverses c when so is descending.
func directed(so catalog.Sort, c int) int {
	if so.Desc {
		return -c
	}
	return c
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// sorted returns ms sorted in the order so.
func sorted(ms []catalog.Manifest, so catalog.Sort) []catalog.Manifest {
	out := slices.Clone(ms)
	slices.SortFunc(out, func(a, b catalog.Manifest) int { return compareIn(so, a, b) })
	return out
}

// matches is the reference answer to "does m match q", written from the
// Querier's documentation, for checking the stores on many inputs.
func matches(m catalog.Manifest, q catalog.Query) bool {
	switch {
	case q.Repository != "" && m.Repository != q.Repository,
		q.RepositoryPrefix != "" && !strings.HasPrefix(m.Repository, q.RepositoryPrefix),
		q.ArtifactType != "" && m.ArtifactType != q.ArtifactType,
		q.MediaType != "" && m.MediaType != q.MediaType,
		q.Tag != "" && !slices.Contains(m.Tags, q.Tag),
		q.Subject != "" && m.Subject != q.Subject,
		q.HasSubject != nil && *q.HasSubject != (m.Subject != ""),
		!q.PushedAfter.IsZero() && !m.PushedAt.Truncate(time.Microsecond).After(q.PushedAfter.Truncate(time.Microsecond)),
		!q.PushedBefore.IsZero() && !m.PushedAt.Truncate(time.Microsecond).Before(q.PushedBefore.Truncate(time.Microsecond)):
		return false
	}
	for _, f := range q.Annotations {
		if !matchesFilter(m.Annotations, f) {
			return false
		}
	}
	if q.Text != "" {
		in := []string{m.Repository}
		in = append(in, m.Tags...)
		for _, v := range m.Annotations {
			in = append(in, v)
		}
		return slices.ContainsFunc(in, func(s string) bool { return strings.Contains(asciiLower(s), asciiLower(q.Text)) })
	}
	return true
}

// matchesFilter is the reference answer to "do annotations a match f".
func matchesFilter(a map[string]string, f annotations.Filter) bool {
	v, ok := a[f.Key]
	switch f.Op {
	case annotations.Eq:
		return ok && slices.Contains(f.Values, v)
	case annotations.Ne:
		return !ok || v != f.Values[0]
	case annotations.Prefix:
		return ok && strings.HasPrefix(v, f.Values[0])
	case annotations.Exists:
		return ok
	case annotations.Absent:
		return !ok
	}
	if !ok {
		return false
	}
	operand := f.Values[0]
	c := strings.Compare(v, operand)
	if k := annotations.KindOf(operand); k != annotations.Text && annotations.KindOf(v) == k {
		c = strings.Compare(annotations.SortKey(v), annotations.SortKey(operand))
	}
	switch f.Op {
	case annotations.Ge:
		return c >= 0
	case annotations.Le:
		return c <= 0
	case annotations.Gt:
		return c > 0
	default:
		return c < 0
	}
}

// asciiLower folds ASCII letters only, as both stores do.
func asciiLower(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'A' && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, s)
}

// filters parses annotation filter expressions or fails the test.
func filters(t testing.TB, exprs ...string) []annotations.Filter {
	t.Helper()
	var fs []annotations.Filter
	for _, e := range exprs {
		f, err := annotations.ParseFilter(e)
		if err != nil {
			t.Fatalf("ParseFilter(%q): %v", e, err)
		}
		fs = append(fs, f)
	}
	return fs
}

// ptr returns a pointer to v.
func ptr[T any](v T) *T { return &v }

// itoa is strconv.Itoa, for names.
func itoa(i int) string { return strconv.Itoa(i) }
