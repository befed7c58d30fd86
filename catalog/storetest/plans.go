package storetest

import (
	"fmt"
	"slices"
	"testing"

	"github.com/cairn-dev/cairn/annotations"
	"github.com/cairn-dev/cairn/catalog"
	"github.com/cairn-dev/cairn/catalog/sqlquery"
)

// PlansAgree checks that every plan of sqlquery.ArtifactsPlanned finds the
// same rows, on s (empty) seeded with 3,000 artifacts of the benchmarks'
// data: for queries with every kind of annotation filter and every sort,
// over three pages, the statement that walks the sort order and those led
// by each drivable filter answer alike, and s.Artifacts answers the walk's
// page. rows runs a statement
// on s. RunArtifacts may pick any of these plans, so a plan that answered
// differently would make the catalog's answers depend on the data's
// spread.
func PlansAgree(t *testing.T, s catalog.Store, d sqlquery.Dialect, rows sqlquery.ArtifactRows) {
	t.Helper()
	const n = 3000
	Seed(t, s, n, BenchSeed)
	parse := func(exprs ...string) []annotations.Filter { return filters(t, exprs...) }
	queries := []catalog.Query{
		{Annotations: parse(benchConference+"=neurips|icml", benchYear+">=2022", benchModel+"=qwen3")},
		{Annotations: parse(benchConference+"=naacl|chil", benchYear+">=2025", benchModel+"=gpt2")},
		{Annotations: parse(benchPapers+"<500", benchSplit+"!=train")},
		{Annotations: parse(annCreated+">2024-06-01T00:00:00Z", benchID+"^=run-00")},
		{Annotations: parse(benchModel, "!org.example.none", benchConference+"=iclr")},
		{Annotations: parse(benchYear+"<=2016", benchModel+"=llama3"), RepositoryPrefix: "lab1"},
		{Annotations: parse(benchConference + "=cvpr"), Text: "lora", ArtifactType: atModel},
		{Annotations: parse(benchSplit + "=test"), HasSubject: new(bool)},
	}
	sorts := []catalog.Sort{
		{Field: catalog.SortPushed, Desc: true},
		{Field: catalog.SortSize},
		{Field: catalog.SortRepository, Desc: true},
		{Field: catalog.SortAnnotation, Key: benchPapers},
		{Field: catalog.SortAnnotation, Key: benchYear, Desc: true},
		{Field: catalog.SortAnnotation, Key: benchSplit},
		{Field: catalog.SortAnnotation, Key: "org.example.none"}, // every artifact lacks it
	}
	const limit = 20
	type row struct {
		repo, dgst, sk string
	}
	run := func(q catalog.Query, so catalog.Sort, after *catalog.Cursor, p sqlquery.Plan) ([]row, *catalog.Cursor) {
		t.Helper()
		st, err := sqlquery.ArtifactsPlanned(d, q, so, limit, after, p)
		if err != nil {
			t.Fatalf("plan %+v: %v", p, err)
		}
		ms, keys, err := rows(st)
		if err != nil {
			t.Fatalf("plan %+v: %v\n%s", p, err, st.SQL)
		}
		out := make([]row, len(ms))
		for i, m := range ms {
			out[i] = row{m.Repository, string(m.Digest), "<none>"}
			if keys[i] != nil {
				out[i].sk = *keys[i]
			}
		}
		return out, sqlquery.Page(so, limit, ms, keys).Next
	}
	for qi, q := range queries {
		for _, so := range sorts {
			var after *catalog.Cursor
			for page := range 3 {
				name := fmt.Sprintf("query %d, sort %+v, page %d", qi, so, page+1)
				want, next := run(q, so, after, sqlquery.Walk)
				if page == 0 && len(want) == 0 {
					t.Errorf("%s: nothing matches; the check would prove nothing", name)
				}
				var plans []sqlquery.Plan
				for i, f := range q.Annotations {
					if sqlquery.Drivable(f) {
						plans = append(plans, sqlquery.Plan{Drive: i})
					}
				}
				for _, p := range plans {
					if got, _ := run(q, so, after, p); !slices.Equal(got, want) {
						t.Errorf("%s: plan %+v answers\n%v\nwhere the walk answers\n%v", name, p, got, want)
					}
				}
				// And the store, whichever plan it picks, answers the walk's page.
				page, err := s.Artifacts(t.Context(), q, so, limit, after)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				var got []row
				for _, m := range page.Artifacts {
					got = append(got, row{m.Repository, string(m.Digest), ""})
				}
				wantPage := want[:min(len(want), limit)]
				same := len(got) == len(wantPage) && (page.Next == nil) == (next == nil)
				for i := 0; same && i < len(got); i++ {
					same = got[i].repo == wantPage[i].repo && got[i].dgst == wantPage[i].dgst
				}
				if same && next != nil {
					same = *page.Next == *next
				}
				if !same {
					t.Errorf("%s: the store answers\n%v (next %+v)\nwhere the walk answers\n%v (next %+v)", name, got, page.Next, wantPage, next)
				}
				if next == nil {
					break
				}
				after = next
			}
		}
	}
}
