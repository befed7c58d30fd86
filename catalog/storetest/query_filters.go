package storetest

import (
	"slices"
	"testing"

	"github.com/cairn-dev/cairn/catalog"
)

// querySpecs is the fixture of the query tests: names, look-alike
// repositories (team_x, team-x, a%b), tags, subjects, and annotations
// whose values order as numbers, times and text.
var querySpecs = []spec{
	{name: "alpine1", repo: "library/alpine", minute: 0, totalSize: 100, tags: []string{"3.19"},
		annotations: map[string]string{"year": "2023", "created": "2024-01-01T00:00:00Z", "title": "Alpine Linux", "letter": "a"}},
	{name: "alpine2", repo: "library/alpine", minute: 1, totalSize: 300, tags: []string{"edge", "latest"},
		annotations: map[string]string{"year": "2024", "created": "2024-01-01T01:30:00+02:00", "title": "alpine edge", "letter": "b"}},
	{name: "alpineSig", repo: "library/alpine", minute: 2, totalSize: 50, artifactType: atSig, subject: "alpine2",
		annotations: map[string]string{"year": "abc"}},
	{name: "busybox", repo: "library/busybox", minute: 3, totalSize: 200, tags: []string{"latest"},
		annotations: map[string]string{"year": "2025", "score": "10", "letter": "B"}},
	{name: "model", repo: "team/models", minute: 4, totalSize: 1000, artifactType: "application/vnd.example.model",
		annotations: map[string]string{"year": "10000", "score": "2", "ver": "v1.0"}},
	{name: "modelExtra", repo: "team/models-extra", minute: 5, totalSize: 100, mediaType: mtIndex, tags: []string{"v1_0"},
		annotations: map[string]string{"score": "-1.5", "ver": "v1_0"}},
	{name: "teamx", repo: "team_x/y", minute: 6, totalSize: 0, tags: []string{"it's"},
		annotations: map[string]string{"note": `100% pure \ back_slash`}},
	{name: "teamdash", repo: "team-x/y", minute: 7, totalSize: 100},
	{name: "pct", repo: "a%b", minute: 8, totalSize: 7, annotations: map[string]string{"year": "2024"}},
	{name: "abc", repo: "abc", minute: 9, totalSize: 7, annotations: map[string]string{"note": "plain"}},
}

// queryCase is one query and the names of the artifacts it selects, in
// push order.
type queryCase struct {
	name string
	q    catalog.Query
	want []string
}

// runQueryCases runs each case against f, checking the answer against
// want and against the reference matcher.
func runQueryCases(t *testing.T, s catalog.Store, f fixture, cases []queryCase) {
	t.Helper()
	for _, c := range cases {
		got := f.namesOf(artifacts(t, s, c.q, catalog.Sort{}, 1000, nil).Artifacts)
		want := c.want
		if want == nil {
			want = []string{}
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: got %q, want %q", c.name, got, want)
		}
		var ref []string
		for _, m := range f.all() {
			if matches(m, c.q) {
				ref = append(ref, f.nameOf(m))
			}
		}
		if !slices.Equal(ref, c.want) {
			t.Errorf("%s: the reference matcher says %q (the test's want is wrong, or the matcher)", c.name, ref)
		}
	}
}

// testArtifactsQueryFields filters artifacts on each field of Query, and
// on several at once.
func testArtifactsQueryFields(t *testing.T, s catalog.Store) {
	f := load(t, s, querySpecs)
	alpine2 := f.byName["alpine2"]
	runQueryCases(t, s, f, []queryCase{
		{"zero query", catalog.Query{}, f.order},
		{"repository", catalog.Query{Repository: "library/alpine"}, []string{"alpine1", "alpine2", "alpineSig"}},
		{"repository is exact", catalog.Query{Repository: "library"}, nil},
		{"repository is case-sensitive", catalog.Query{Repository: "LIBRARY/ALPINE"}, nil},
		{"repository prefix", catalog.Query{RepositoryPrefix: "library/"}, []string{"alpine1", "alpine2", "alpineSig", "busybox"}},
		{"repository prefix, whole name", catalog.Query{RepositoryPrefix: "team/models"}, []string{"model", "modelExtra"}},
		{"repository prefix with _", catalog.Query{RepositoryPrefix: "team_"}, []string{"teamx"}},
		{"repository prefix team", catalog.Query{RepositoryPrefix: "team"}, []string{"model", "modelExtra", "teamx", "teamdash"}},
		{"repository prefix with %", catalog.Query{RepositoryPrefix: "a%"}, []string{"pct"}},
		{"repository prefix a", catalog.Query{RepositoryPrefix: "a"}, []string{"pct", "abc"}},
		{"repository prefix, none", catalog.Query{RepositoryPrefix: "library/alpine/"}, nil},
		{"artifact type", catalog.Query{ArtifactType: atSig}, []string{"alpineSig"}},
		{"artifact type is exact", catalog.Query{ArtifactType: "application/vnd"}, nil},
		{"media type", catalog.Query{MediaType: mtIndex}, []string{"modelExtra"}},
		{"tag", catalog.Query{Tag: "latest"}, []string{"alpine2", "busybox"}},
		{"tag edge", catalog.Query{Tag: "edge"}, []string{"alpine2"}},
		{"tag with _", catalog.Query{Tag: "v1_0"}, []string{"modelExtra"}},
		{"tag with %", catalog.Query{Tag: "v1%0"}, nil},
		{"tag is case-sensitive", catalog.Query{Tag: "LATEST"}, nil},
		{"subject", catalog.Query{Subject: alpine2.Digest}, []string{"alpineSig"}},
		{"subject without referrers", catalog.Query{Subject: f.byName["alpine1"].Digest}, nil},
		{"has subject", catalog.Query{HasSubject: ptr(true)}, []string{"alpineSig"}},
		{"has no subject", catalog.Query{HasSubject: ptr(false)}, f.except("alpineSig")},
		{"pushed after (exclusive)", catalog.Query{PushedAfter: at(2)}, []string{"busybox", "model", "modelExtra", "teamx", "teamdash", "pct", "abc"}},
		{"pushed before (exclusive)", catalog.Query{PushedBefore: at(2)}, []string{"alpine1", "alpine2"}},
		{"pushed between", catalog.Query{PushedAfter: at(0), PushedBefore: at(3)}, []string{"alpine2", "alpineSig"}},
		{"pushed between, empty", catalog.Query{PushedAfter: at(3), PushedBefore: at(3)}, nil},
		{"text in a repository, any case", catalog.Query{Text: "ALPINE"}, []string{"alpine1", "alpine2", "alpineSig"}},
		{"text in a value and a tag", catalog.Query{Text: "Edge"}, []string{"alpine2"}},
		{"text in a value", catalog.Query{Text: "lin"}, []string{"alpine1"}},
		{"text %", catalog.Query{Text: "%"}, []string{"teamx", "pct"}},
		{"text _", catalog.Query{Text: "_"}, []string{"modelExtra", "teamx"}},
		{`text \`, catalog.Query{Text: `\`}, []string{"teamx"}},
		{"text with a quote, in a tag", catalog.Query{Text: "it's"}, []string{"teamx"}},
		{"text nowhere", catalog.Query{Text: "zzz"}, nil},
		{"text does not search keys", catalog.Query{Text: "score"}, nil},
		{"repository and tag", catalog.Query{Repository: "library/alpine", Tag: "latest"}, []string{"alpine2"}},
		{"prefix, no subject, pushed before", catalog.Query{RepositoryPrefix: "team", HasSubject: ptr(false), PushedBefore: at(6)}, []string{"model", "modelExtra"}},
		{"disjoint fields", catalog.Query{Repository: "library/busybox", ArtifactType: atSig}, nil},
	})
}

// testArtifactsAnnotationFilters filters artifacts on annotations: every
// operator, ranges over numbers, times and text, and LIKE look-alikes.
func testArtifactsAnnotationFilters(t *testing.T, s catalog.Store) {
	f := load(t, s, querySpecs)
	cases := []struct {
		exprs []string
		want  []string
	}{
		{[]string{"year=2024"}, []string{"alpine2", "pct"}},
		{[]string{"year=2023|2025"}, []string{"alpine1", "busybox"}},
		{[]string{"year="}, nil},
		{[]string{"year!=2024"}, f.except("alpine2", "pct")}, // lacking the key matches !=
		{[]string{"year^=20"}, []string{"alpine1", "alpine2", "busybox", "pct"}},
		{[]string{"ver^=v1_"}, []string{"modelExtra"}},
		{[]string{"ver^=v1."}, []string{"model"}},
		{[]string{"note^=100%"}, []string{"teamx"}},
		{[]string{"note^=100_"}, nil},
		{[]string{`note=100% pure \ back_slash`}, []string{"teamx"}},
		{[]string{"year"}, []string{"alpine1", "alpine2", "alpineSig", "busybox", "model", "pct"}},
		{[]string{"!year"}, []string{"modelExtra", "teamx", "teamdash", "abc"}},
		// Numbers against a number: numerically; "abc" against a number: by text.
		{[]string{"year>=2024"}, []string{"alpine2", "alpineSig", "busybox", "model", "pct"}},
		{[]string{"year>2024"}, []string{"alpineSig", "busybox", "model"}},
		{[]string{"year<2024"}, []string{"alpine1"}},
		{[]string{"year<=2024"}, []string{"alpine1", "alpine2", "pct"}},
		{[]string{"year>=10000"}, []string{"alpineSig", "model"}},
		{[]string{"year<abc"}, []string{"alpine1", "alpine2", "busybox", "model", "pct"}},
		{[]string{"score>2"}, []string{"busybox"}}, // 10 > 2, though "10" < "2"
		{[]string{"score<10"}, []string{"model", "modelExtra"}},
		{[]string{"score>=-1.5"}, []string{"busybox", "model", "modelExtra"}},
		{[]string{"score<-1.5"}, nil},
		// Times against a time: by instant, whatever the offsets.
		{[]string{"created>=2024-01-01T00:00:00Z"}, []string{"alpine1"}},
		{[]string{"created<2024-01-01T00:00:00Z"}, []string{"alpine2"}},
		{[]string{"created<2024-01-01T00:00:00+01:00"}, nil},
		{[]string{"created<=2023-12-31T23:30:00Z"}, []string{"alpine2"}},
		{[]string{"created>2023"}, []string{"alpine1", "alpine2"}}, // times against a number: by text
		// Text against text: by bytes.
		{[]string{"ver>v1"}, []string{"model", "modelExtra"}},
		{[]string{"ver<v1_"}, []string{"model"}},
		{[]string{"letter>a"}, []string{"alpine2"}},
		{[]string{"letter<a"}, []string{"busybox"}},
		{[]string{"letter>=A"}, []string{"alpine1", "alpine2", "busybox"}},
		// Several filters hold together.
		{[]string{"year>=2024", "score"}, []string{"busybox", "model"}},
		{[]string{"year", "!score", "letter!=a"}, []string{"alpine2", "alpineSig", "pct"}},
		{[]string{"unknown=v"}, nil},
		{[]string{"!unknown"}, f.order},
		{[]string{"unknown!=v"}, f.order},
	}
	var qcs []queryCase
	for _, c := range cases {
		qcs = append(qcs, queryCase{name: "filters " + quoteAll(c.exprs), q: catalog.Query{Annotations: filters(t, c.exprs...)}, want: c.want})
	}
	qcs = append(qcs, queryCase{"filter and repository", catalog.Query{Repository: "library/alpine", Annotations: filters(t, "year>=2024")}, []string{"alpine2", "alpineSig"}})
	runQueryCases(t, s, f, qcs)
}

// quoteAll spells a list of expressions for messages.
func quoteAll(ss []string) string {
	out := ""
	for i, s := range ss {
		if i > 0 {
			out += " "
		}
		out += "«" + s + "»"
	}
	return out
}
