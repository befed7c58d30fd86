package storetest

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/cairn-dev/cairn/catalog"
)

// testRepositorySummaries lists repositories with their counts, sizes and
// last pushes, by prefix and after a name.
func testRepositorySummaries(t *testing.T, s catalog.Store) {
	f := load(t, s, querySpecs)
	last := func(name string) catalog.RepositorySummary {
		m := f.byName[name]
		return catalog.RepositorySummary{LastPush: m.PushedAt.Truncate(time.Microsecond).UTC()}
	}
	sum := func(name string, artifacts, tags, size int64, lastPushed string) catalog.RepositorySummary {
		r := last(lastPushed)
		r.Name, r.Artifacts, r.Tags, r.Size = name, artifacts, tags, size
		return r
	}
	all := []catalog.RepositorySummary{
		sum("a%b", 1, 0, 7, "pct"),
		sum("abc", 1, 0, 7, "abc"),
		sum("library/alpine", 3, 3, 450, "alpineSig"),
		sum("library/busybox", 1, 1, 200, "busybox"),
		sum("team-x/y", 1, 0, 100, "teamdash"),
		sum("team/models", 1, 0, 1000, "model"),
		sum("team/models-extra", 1, 1, 100, "modelExtra"),
		sum("team_x/y", 1, 1, 0, "teamx"),
	}
	for _, c := range []struct {
		prefix, after string
		limit         int
		want          []catalog.RepositorySummary
	}{
		{"", "", 1000, all},
		{"", "", 2, all[:2]},
		{"", "", 0, all[:1]},
		{"", "", -1, all[:1]},
		{"", "library/alpine", 1000, all[3:]},
		{"", "library/alpine", 2, all[3:5]},
		{"", "library", 1, all[2:3]},
		{"team", "", 1000, all[4:]},
		{"team_", "", 1000, all[7:]},
		{"team/models", "", 1000, all[5:7]},
		{"team/models", "team/models", 1000, all[6:7]},
		{"a%", "", 1000, all[:1]},
		{"library/", "library/alpine", 1000, all[3:4]},
		{"zzz", "", 1000, nil},
		{"", "zzz", 1000, nil},
		{"'; DROP TABLE manifests; --", "", 1000, nil},
		{"%", "%", 1000, nil},
	} {
		got, err := s.RepositorySummaries(t.Context(), c.prefix, c.after, nil, c.limit)
		if err != nil {
			t.Fatalf("RepositorySummaries(%q, %q, %d): %v", c.prefix, c.after, c.limit, err)
		}
		if got == nil {
			t.Errorf("RepositorySummaries(%q, %q, %d) = nil, want a non-nil slice", c.prefix, c.after, c.limit)
		}
		if len(got) != len(c.want) || (len(got) > 0 && !reflect.DeepEqual(got, c.want)) {
			t.Errorf("RepositorySummaries(%q, %q, %d):\n got %+v\nwant %+v", c.prefix, c.after, c.limit, got, c.want)
		}
		for _, r := range got {
			if r.LastPush.Location() != time.UTC {
				t.Errorf("RepositorySummaries: LastPush %v of %s not in UTC", r.LastPush, r.Name)
			}
		}
	}
}

// assertCounts fails the test unless got equals want (both may be empty)
// and got is not nil.
func assertCounts(t *testing.T, what string, got []catalog.Count, err error, want []catalog.Count) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if got == nil {
		t.Errorf("%s = nil, want a non-nil slice", what)
	}
	if len(got) != len(want) || (len(got) > 0 && !reflect.DeepEqual(got, want)) {
		t.Errorf("%s:\n got %v\nwant %v", what, got, want)
	}
}

// cnt is a catalog.Count.
func cnt(value string, n int64) catalog.Count { return catalog.Count{Value: value, Count: n} }

// testAnnotationKeys counts the artifacts that have each key, among those a
// query selects.
func testAnnotationKeys(t *testing.T, s catalog.Store) {
	load(t, s, querySpecs)
	all := []catalog.Count{cnt("year", 6), cnt("letter", 3), cnt("score", 3), cnt("created", 2), cnt("note", 2), cnt("title", 2), cnt("ver", 2)}
	for _, c := range []struct {
		name  string
		q     catalog.Query
		limit int
		want  []catalog.Count
	}{
		{"all", catalog.Query{}, 1000, all},
		{"limit 3", catalog.Query{}, 3, all[:3]},
		{"limit 0", catalog.Query{}, 0, all[:1]},
		{"repository", catalog.Query{Repository: "library/alpine"}, 1000, []catalog.Count{cnt("year", 3), cnt("created", 2), cnt("letter", 2), cnt("title", 2)}},
		{"filter", catalog.Query{Annotations: filters(t, "score")}, 1000, []catalog.Count{cnt("score", 3), cnt("ver", 2), cnt("year", 2), cnt("letter", 1)}},
		{"text", catalog.Query{Text: "%"}, 1000, []catalog.Count{cnt("note", 1), cnt("year", 1)}},
		{"nothing", catalog.Query{Repository: "none"}, 1000, nil},
	} {
		got, err := s.AnnotationKeys(t.Context(), c.q, c.limit)
		assertCounts(t, "AnnotationKeys "+c.name, got, err, c.want)
	}
}

// testAnnotationValues counts the artifacts that have each value of a key,
// among those a query selects.
func testAnnotationValues(t *testing.T, s catalog.Store) {
	load(t, s, querySpecs)
	all := []catalog.Count{cnt("2024", 2), cnt("10000", 1), cnt("2023", 1), cnt("2025", 1), cnt("abc", 1)}
	for _, c := range []struct {
		name, key string
		q         catalog.Query
		limit     int
		want      []catalog.Count
	}{
		{"all", "year", catalog.Query{}, 1000, all},
		{"limit 1", "year", catalog.Query{}, 1, all[:1]},
		{"limit -1", "year", catalog.Query{}, -1, all[:1]},
		{"repository", "year", catalog.Query{Repository: "library/alpine"}, 1000, []catalog.Count{cnt("2023", 1), cnt("2024", 1), cnt("abc", 1)}},
		{"range", "year", catalog.Query{Annotations: filters(t, "year>=2024")}, 1000, []catalog.Count{cnt("2024", 2), cnt("10000", 1), cnt("2025", 1), cnt("abc", 1)}},
		{"other key's filter", "score", catalog.Query{Annotations: filters(t, "year")}, 1000, []catalog.Count{cnt("10", 1), cnt("2", 1)}},
		{"unknown key", "nokey", catalog.Query{}, 1000, nil},
		{"nothing", "year", catalog.Query{Tag: "none"}, 1000, nil},
		{"injection key", "'; DROP TABLE annotations; --", catalog.Query{}, 1000, nil},
		{"note", "note", catalog.Query{}, 1000, []catalog.Count{cnt(`100% pure \ back_slash`, 1), cnt("plain", 1)}},
	} {
		got, err := s.AnnotationValues(t.Context(), c.key, c.q, c.limit)
		assertCounts(t, "AnnotationValues "+c.name, got, err, c.want)
	}
}

// testBlobUses lists where blobs are used: as configs, layers, child
// manifests and manifests themselves, sha256 and sha512.
func testBlobUses(t *testing.T, s catalog.Store) {
	m1 := image("r1", "a", at(0))
	m2 := image("r2", "a", at(1)) // the same manifest in another repository
	idx := catalog.Manifest{
		Repository: "r1", Digest: dg("index"), MediaType: mtIndex, Size: 300, PushedAt: at(2),
		Layers: []catalog.Layer{
			{Kind: "manifest", Digest: dg("elsewhere"), MediaType: mtImage, Size: 1},
			{Kind: "manifest", Digest: m1.Digest, MediaType: mtImage, Size: m1.Size},
		},
	}
	big := catalog.Manifest{
		Repository: "r512", Digest: digest.SHA512.FromString("manifest 512"), MediaType: mtImage, Size: 77, PushedAt: at(3),
		Layers: []catalog.Layer{{Kind: "layer", Digest: digest.SHA512.FromString("layer 512"), MediaType: mtLayer, Size: 5, Title: "big.bin"}},
	}
	put(t, s, m1, m2, idx, big)

	self := func(m catalog.Manifest) catalog.BlobUse {
		return catalog.BlobUse{Repository: m.Repository, Manifest: m.Digest, Kind: "manifest-self", MediaType: m.MediaType, Size: m.Size}
	}
	use := func(m catalog.Manifest, i int) catalog.BlobUse {
		l := m.Layers[i]
		return catalog.BlobUse{Repository: m.Repository, Manifest: m.Digest, Kind: l.Kind, MediaType: l.MediaType, Size: l.Size, Title: l.Title}
	}
	byPlace := func(us ...catalog.BlobUse) []catalog.BlobUse {
		slices.SortStableFunc(us, func(a, b catalog.BlobUse) int {
			if c := strings.Compare(a.Repository, b.Repository); c != 0 {
				return c
			}
			return strings.Compare(string(a.Manifest), string(b.Manifest))
		})
		return us
	}
	for _, c := range []struct {
		name  string
		dgst  digest.Digest
		limit int
		want  []catalog.BlobUse
	}{
		{"layer", m1.Layers[1].Digest, 1000, []catalog.BlobUse{use(m1, 1), use(m2, 1)}},
		{"config", m1.Layers[0].Digest, 1000, []catalog.BlobUse{use(m1, 0), use(m2, 0)}},
		{"manifest and child", m1.Digest, 1000, byPlace(self(m1), use(idx, 1), self(m2))},
		{"limit", m1.Digest, 1, byPlace(self(m1), use(idx, 1), self(m2))[:1]},
		{"limit 0", m1.Layers[1].Digest, 0, []catalog.BlobUse{use(m1, 1)}},
		{"child only", dg("elsewhere"), 1000, []catalog.BlobUse{use(idx, 0)}},
		{"index itself", idx.Digest, 1000, []catalog.BlobUse{self(idx)}},
		{"sha512 layer", big.Layers[0].Digest, 1000, []catalog.BlobUse{use(big, 0)}},
		{"sha512 manifest", big.Digest, 1000, []catalog.BlobUse{self(big)}},
		{"unknown", dg("unknown"), 1000, nil},
		{"unknown sha512", digest.SHA512.FromString("unknown"), 1000, nil},
		{"injection", digest.Digest("' OR '1'='1"), 1000, nil},
		{"empty", "", 1000, nil},
	} {
		got, err := s.BlobUses(t.Context(), c.dgst, "", nil, c.limit)
		if err != nil {
			t.Fatalf("BlobUses %s: %v", c.name, err)
		}
		if got == nil {
			t.Errorf("BlobUses %s = nil, want a non-nil slice", c.name)
		}
		if len(got) != len(c.want) || (len(got) > 0 && !reflect.DeepEqual(got, c.want)) {
			t.Errorf("BlobUses %s:\n got %+v\nwant %+v", c.name, got, c.want)
		}
	}
}
