package catalog

import (
	"fmt"
	"slices"
	"strings"
)

// Visibility is who may see an artifact when access control is on. The
// states form a ladder an artifact only climbs: staged, private, unlisted,
// public.
type Visibility string

// The visibilities. Inherit (no state recorded) takes the repository's,
// from configuration: public or private.
const (
	Inherit Visibility = ""
	// Staged: its owner and admins of the repository only.
	Staged Visibility = "staged"
	// Private: also whoever may pull the repository.
	Private Visibility = "private"
	// Unlisted: also anyone who names its digest; listed to those who may
	// pull the repository only.
	Unlisted Visibility = "unlisted"
	// Public: anyone, listed.
	Public Visibility = "public"
)

var ladder = []Visibility{Staged, Private, Unlisted, Public}

// ParseVisibility reads one of the named states (not Inherit).
func ParseVisibility(s string) (Visibility, error) {
	v := Visibility(s)
	if !slices.Contains(ladder, v) {
		return "", fmt.Errorf("visibility %q: give one of staged, private, unlisted, public", s)
	}
	return v, nil
}

// Rank orders the states from staged (0) to public (3); Inherit ranks as
// private, what a repository that is not public gives.
func (v Visibility) Rank() int {
	if v == Inherit {
		return 1
	}
	return slices.Index(ladder, v)
}

// RepoSet is a set of repositories: those whose names start with one of
// Prefixes ("" is every repository) but not with a longer prefix of
// Except that extends it, and those named in Names. (Except carries the
// nested rules of a configuration where the longest prefix wins.)
type RepoSet struct {
	Prefixes []string
	Except   []string
	Names    []string
}

// Has reports whether repo is in the set.
func (s RepoSet) Has(repo string) bool {
	if slices.Contains(s.Names, repo) {
		return true
	}
	for _, p := range s.Prefixes {
		if strings.HasPrefix(repo, p) && !slices.ContainsFunc(s.ExceptUnder(p), func(q string) bool { return strings.HasPrefix(repo, q) }) {
			return true
		}
	}
	return false
}

// ExceptUnder returns the prefixes of Except that extend p.
func (s RepoSet) ExceptUnder(p string) []string {
	var out []string
	for _, q := range s.Except {
		if len(q) > len(p) && strings.HasPrefix(q, p) {
			out = append(out, q)
		}
	}
	return out
}

// Viewer is one caller as access control sees them, for the catalog to
// return only what they may see. A nil *Viewer sees everything (access
// control off, or an admin of every repository).
type Viewer struct {
	// User sees what they own in any state ("" for anonymous).
	User string
	// Admin holds the repositories where the caller sees every artifact.
	Admin RepoSet
	// Read holds the repositories the caller may pull: they see the
	// artifacts there that are not staged.
	Read RepoSet
	// Public holds the repositories public by configuration, where
	// artifacts without a state of their own are anyone's to see.
	Public RepoSet
	// ByDigest is set when the caller names the artifact by digest:
	// unlisted artifacts are theirs to read too.
	ByDigest bool
}

// Sees reports whether v may see the artifact of repo owned by owner with
// visibility vis: the rule every store's SQL (sqlquery's viewer condition)
// follows too.
func (v *Viewer) Sees(repo, owner string, vis Visibility) bool {
	switch {
	case v == nil, vis == Public, v.Admin.Has(repo):
		return true
	case v.User != "" && owner == v.User:
		return true
	case vis == Unlisted && v.ByDigest:
		return true
	case vis != Staged && v.Read.Has(repo):
		return true
	case vis == Inherit && v.Public.Has(repo):
		return true
	}
	return false
}
