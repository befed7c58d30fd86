package catalog

import "testing"

func TestRepoSetHas(t *testing.T) {
	// public "", private "a/", public "a/b/", private "a/b/c/": the longest
	// prefix wins.
	nested := RepoSet{Prefixes: []string{"", "a/b/"}, Except: []string{"a/", "a/b/c/"}}
	for _, c := range []struct {
		set  RepoSet
		repo string
		want bool
	}{
		{RepoSet{}, "x", false},
		{RepoSet{Prefixes: []string{""}}, "x", true},
		{RepoSet{Prefixes: []string{"data/"}}, "data/x", true},
		{RepoSet{Prefixes: []string{"data/"}}, "datax", false},
		{RepoSet{Names: []string{"data/x"}}, "data/x", true},
		{RepoSet{Names: []string{"data/x"}}, "data/xy", false},
		{nested, "z", true},
		{nested, "a/z", false},
		{nested, "a/b/z", true},
		{nested, "a/b/c/z", false},
		{RepoSet{Prefixes: []string{"a/"}, Except: []string{"b/"}}, "a/x", true},
	} {
		if got := c.set.Has(c.repo); got != c.want {
			t.Errorf("%+v.Has(%q) = %v, want %v", c.set, c.repo, got, c.want)
		}
	}
}

func TestViewerSees(t *testing.T) {
	anon := &Viewer{Public: RepoSet{Prefixes: []string{"pub/"}}}
	byDigest := &Viewer{Public: RepoSet{Prefixes: []string{"pub/"}}, ByDigest: true}
	reader := &Viewer{User: "ana", Read: RepoSet{Prefixes: []string{"grp/"}}}
	admin := &Viewer{User: "cy", Admin: RepoSet{Prefixes: []string{"grp/"}}}
	for _, c := range []struct {
		name        string
		v           *Viewer
		repo, owner string
		vis         Visibility
		want        bool
	}{
		{"nil sees all", nil, "grp/x", "ben", Staged, true},
		{"anonymous, public artifact", anon, "grp/x", "ben", Public, true},
		{"anonymous, public repo", anon, "pub/x", "", Inherit, true},
		{"anonymous, private artifact in public repo", anon, "pub/x", "ben", Private, false},
		{"anonymous, staged in public repo", anon, "pub/x", "ben", Staged, false},
		{"anonymous, unlisted, listing", anon, "pub/x", "ben", Unlisted, false},
		{"anonymous, unlisted, by digest", byDigest, "grp/x", "ben", Unlisted, true},
		{"anonymous, private repo", anon, "grp/x", "", Inherit, false},
		{"reader, inherit", reader, "grp/x", "", Inherit, true},
		{"reader, private", reader, "grp/x", "ben", Private, true},
		{"reader, unlisted", reader, "grp/x", "ben", Unlisted, true},
		{"reader, staged of another", reader, "grp/x", "ben", Staged, false},
		{"reader, own staged", reader, "grp/x", "ana", Staged, true},
		{"reader, own staged elsewhere", reader, "other/x", "ana", Staged, true},
		{"reader, elsewhere", reader, "other/x", "ben", Private, false},
		{"admin, staged", admin, "grp/x", "ben", Staged, true},
		{"anonymous owns nothing", &Viewer{}, "grp/x", "", Staged, false},
	} {
		if got := c.v.Sees(c.repo, c.owner, c.vis); got != c.want {
			t.Errorf("%s: Sees = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestVisibilityLadder(t *testing.T) {
	for _, s := range []string{"staged", "private", "unlisted", "public"} {
		if _, err := ParseVisibility(s); err != nil {
			t.Errorf("ParseVisibility(%q): %v", s, err)
		}
	}
	for _, s := range []string{"", "Public", "hidden", "inherit"} {
		if _, err := ParseVisibility(s); err == nil {
			t.Errorf("ParseVisibility(%q) accepted", s)
		}
	}
	if !(Staged.Rank() < Private.Rank() && Private.Rank() < Unlisted.Rank() && Unlisted.Rank() < Public.Rank()) {
		t.Error("ranks do not climb staged → private → unlisted → public")
	}
	if Inherit.Rank() != Private.Rank() {
		t.Error("Inherit should rank as private")
	}
}
