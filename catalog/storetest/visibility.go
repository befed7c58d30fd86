package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/cairn-dev/cairn/catalog"
	"github.com/opencontainers/go-digest"
)

// testVisibility checks that every read that takes a viewer returns what
// catalog.Viewer.Sees says the viewer sees, over every visibility, owner
// and kind of repository (public by configuration, readable by scope,
// administered, neither).
func testVisibility(t *testing.T, s catalog.Store) {
	ctx := t.Context()
	type art struct {
		m   catalog.Manifest
		tag string
	}
	var arts []art
	n := 0
	for _, repo := range []string{"pub/data", "grp/data", "adm/data", "other/data", "other/x"} {
		for _, owner := range []string{"", "ana", "ben"} {
			for _, vis := range []catalog.Visibility{catalog.Inherit, catalog.Staged, catalog.Private, catalog.Unlisted, catalog.Public} {
				name := fmt.Sprintf("%s %s %s", repo, owner, vis)
				m := image(repo, name, at(n))
				// One layer shared by every artifact, one of its own.
				m.Layers[1].Digest = dg("shared layer")
				m.Owner, m.Visibility = owner, vis
				tg := fmt.Sprintf("t%d", n)
				if err := s.IndexPush(ctx, m, tg, 0); err != nil {
					t.Fatal(err)
				}
				arts = append(arts, art{m, tg})
				n++
			}
		}
	}
	// A re-push keeps the first owner and state.
	again := arts[1].m
	again.Owner, again.Visibility = "ben", catalog.Public
	if err := s.IndexPush(ctx, again, "", 0); err != nil {
		t.Fatal(err)
	}
	if o, v, err := s.Ownership(ctx, again.Repository, again.Digest); err != nil || o != arts[1].m.Owner || v != arts[1].m.Visibility {
		t.Errorf("Ownership after a re-push = %q, %q, %v; want %q, %q", o, v, err, arts[1].m.Owner, arts[1].m.Visibility)
	}
	// Reads fill owner and visibility.
	for _, a := range arts[:6] {
		got := get(t, s, a.m.Repository, a.m.Digest)
		if got.Owner != a.m.Owner || got.Visibility != a.m.Visibility {
			t.Errorf("Manifest(%s) owner, visibility = %q, %q; want %q, %q", a.m.Digest, got.Owner, got.Visibility, a.m.Owner, a.m.Visibility)
		}
	}

	viewers := map[string]*catalog.Viewer{
		"anonymous":           {Public: catalog.RepoSet{Prefixes: []string{"pub/"}}},
		"anonymous by digest": {Public: catalog.RepoSet{Prefixes: []string{"pub/"}}, ByDigest: true},
		"ana reads grp":       {User: "ana", Read: catalog.RepoSet{Prefixes: []string{"grp/"}}, Public: catalog.RepoSet{Prefixes: []string{"pub/"}}},
		"ben by name":         {User: "ben", Read: catalog.RepoSet{Names: []string{"grp/data", "other/data"}}, ByDigest: true},
		"admin of adm":        {User: "cy", Admin: catalog.RepoSet{Prefixes: []string{"adm/"}}, Read: catalog.RepoSet{Prefixes: []string{""}}},
		"reads all":           {User: "dee", Read: catalog.RepoSet{Prefixes: []string{""}}},
		"nobody":              {},
		"everything":          nil,
	}
	for name, v := range viewers {
		t.Run(name, func(t *testing.T) {
			var want []string
			wantRepos := map[string]int64{}
			wantTags := map[string][]string{}
			for _, a := range arts {
				if v.Sees(a.m.Repository, a.m.Owner, a.m.Visibility) {
					want = append(want, string(a.m.Digest))
					wantRepos[a.m.Repository]++
					wantTags[a.m.Repository] = append(wantTags[a.m.Repository], a.tag)
				}
			}
			slices.Sort(want)

			var got []string
			var after *catalog.Cursor
			for {
				page, err := s.Artifacts(ctx, catalog.Query{Viewer: v}, catalog.Sort{}, 7, after)
				if err != nil {
					t.Fatal(err)
				}
				for _, m := range page.Artifacts {
					got = append(got, string(m.Digest))
				}
				if page.Next == nil {
					break
				}
				after = page.Next
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("Artifacts: %d artifacts, want %d\n got %v\nwant %v", len(got), len(want), got, want)
			}

			sums, err := s.RepositorySummaries(ctx, "", "", v, 100)
			if err != nil {
				t.Fatal(err)
			}
			gotRepos := map[string]int64{}
			for _, r := range sums {
				gotRepos[r.Name] = r.Artifacts
				if r.Tags != int64(len(wantTags[r.Name])) {
					t.Errorf("RepositorySummaries: %s has %d tags, want %d", r.Name, r.Tags, len(wantTags[r.Name]))
				}
			}
			if fmt.Sprint(gotRepos) != fmt.Sprint(wantRepos) {
				t.Errorf("RepositorySummaries = %v, want %v", gotRepos, wantRepos)
			}

			for _, repo := range []string{"pub/data", "grp/data", "adm/data", "other/data", "other/x"} {
				tags, err := s.VisibleTags(ctx, repo, v)
				if err != nil {
					t.Fatal(err)
				}
				wt := wantTags[repo]
				slices.Sort(wt)
				if !slices.Equal(tags, wt) && len(tags)+len(wt) > 0 {
					t.Errorf("VisibleTags(%s) = %v, want %v", repo, tags, wt)
				}
				uses, err := s.BlobUses(ctx, dg("shared layer"), repo, v, 1000)
				if err != nil {
					t.Fatal(err)
				}
				if int64(len(uses)) != wantRepos[repo] {
					t.Errorf("BlobUses(shared layer, %s) = %d uses, want %d", repo, len(uses), wantRepos[repo])
				}
				for _, u := range uses {
					if u.Repository != repo {
						t.Errorf("BlobUses(…, %s) answered a use in %s", repo, u.Repository)
					}
					if !v.Sees(u.Repository, u.Owner, u.Visibility) {
						t.Errorf("BlobUses(…, %s) answered %s (owner %q, %q), which the viewer does not see", repo, u.Manifest, u.Owner, u.Visibility)
					}
				}
			}

			keys, err := s.AnnotationKeys(ctx, catalog.Query{Viewer: v}, 10)
			if err != nil {
				t.Fatal(err)
			}
			var counted int64
			for _, k := range keys {
				if k.Value == annCreated {
					counted = k.Count
				}
			}
			if counted != int64(len(want)) {
				t.Errorf("AnnotationKeys counts %d artifacts with %s, want %d", counted, annCreated, len(want))
			}
		})
	}

	// The state is set and read back; the owner stays.
	m := arts[16].m // grp/data, no owner, staged
	if err := s.SetVisibility(ctx, m.Repository, []digest.Digest{m.Digest}, catalog.Unlisted); err != nil {
		t.Fatal(err)
	}
	if o, v, err := s.Ownership(ctx, m.Repository, m.Digest); err != nil || o != m.Owner || v != catalog.Unlisted {
		t.Errorf("Ownership after SetVisibility = %q, %q, %v; want %q, unlisted", o, v, err, m.Owner)
	}
	// A manifest with no record gets one.
	m = arts[0].m
	if err := s.SetVisibility(ctx, m.Repository, []digest.Digest{m.Digest}, catalog.Public); err != nil {
		t.Fatal(err)
	}
	if o, v, err := s.Ownership(ctx, m.Repository, m.Digest); err != nil || o != "" || v != catalog.Public {
		t.Errorf("Ownership after SetVisibility of an unowned manifest = %q, %q, %v", o, v, err)
	}
	if err := s.SetVisibility(ctx, "grp/data", []digest.Digest{dg("nothing")}, catalog.Public); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("SetVisibility of a missing manifest: %v, want ErrNotFound", err)
	}
	// All or none: with one of them missing, the others keep their state.
	m = arts[16].m
	if err := s.SetVisibility(ctx, m.Repository, []digest.Digest{m.Digest, dg("nothing")}, catalog.Public); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("SetVisibility of a present and a missing manifest: %v, want ErrNotFound", err)
	}
	if _, v, err := s.Ownership(ctx, m.Repository, m.Digest); err != nil || v != catalog.Unlisted {
		t.Errorf("after a SetVisibility that failed on another manifest, the visibility is %q (%v); want it unchanged, unlisted", v, err)
	}
}
