package registry

import (
	"slices"
	"strings"

	"github.com/cairn-dev/cairn/auth"
	"github.com/cairn-dev/cairn/catalog"
)

// AccessPolicy is who may see and do what when access control is on: the rules
// of repositories by prefix, read with the credentials a principal holds.
// A Registry without one has access control off.
type AccessPolicy struct {
	// Rules are the repositories' rules by prefix; the longest that
	// matches wins. Repositories no rule matches are private.
	Rules []RepositoryRule
}

// RepositoryRule is the access policy of the repositories under a prefix.
type RepositoryRule struct {
	Prefix string
	// Public: anyone may pull what has no state of its own.
	Public bool
	// Staging: new pushes start staged.
	Staging bool
}

// May reports whether p may do action on repo: by their credentials, or
// (to pull) because the repository is public.
func (pol *AccessPolicy) May(p auth.Principal, repo string, action auth.Action) bool {
	return (action == auth.Pull && pol.public(repo)) || p.Holds(repo, action)
}

// Rule returns the rule of repo: the longest matching prefix's (the last
// given among equals), or the private default.
func (pol *AccessPolicy) Rule(repo string) RepositoryRule {
	best, found := RepositoryRule{}, false
	for _, r := range pol.Rules {
		if strings.HasPrefix(repo, r.Prefix) && (!found || len(r.Prefix) >= len(best.Prefix)) {
			best, found = r, true
		}
	}
	return best
}

func (pol *AccessPolicy) public(repo string) bool { return pol.Rule(repo).Public }

// publicSet is the repositories public by configuration, as a set the
// catalog can query: public prefixes, except the longer private ones
// under them.
func (pol *AccessPolicy) publicSet() catalog.RepoSet {
	var set catalog.RepoSet
	for _, r := range pol.Rules {
		if r.Public {
			set.Prefixes = append(set.Prefixes, r.Prefix)
		} else {
			set.Except = append(set.Except, r.Prefix)
		}
	}
	return set
}

// Effective is the visibility an artifact of repo in state vis has: its
// own, or its repository's.
func (pol *AccessPolicy) Effective(repo string, vis catalog.Visibility) catalog.Visibility {
	if vis != catalog.Inherit {
		return vis
	}
	if pol.public(repo) {
		return catalog.Public
	}
	return catalog.Private
}

// Unindexed is the visibility of content of repo the catalog does not
// hold (not indexed yet, or named by a digest it is not keyed by), and
// whether p may read it: the repository's rule, except that where pushes
// start staged it is staged, for admins only (it might be anyone's staged
// artifact).
func (pol *AccessPolicy) Unindexed(p auth.Principal, repo string) (catalog.Visibility, bool) {
	if pol.Rule(repo).Staging {
		return catalog.Staged, pol.May(p, repo, auth.Admin)
	}
	return pol.Effective(repo, catalog.Inherit), pol.May(p, repo, auth.Pull)
}

// Viewer is what p sees, for the catalog's queries; nil for an admin of
// every repository, and for everyone when pol is nil (access control
// off). byDigest: p names the artifact by its digest.
func (pol *AccessPolicy) Viewer(p auth.Principal, byDigest bool) *catalog.Viewer {
	if pol == nil {
		return nil
	}
	v := &catalog.Viewer{User: p.User, Public: pol.publicSet(), ByDigest: byDigest}
	if p.Claims != nil {
		for _, acc := range p.Claims.Access {
			if acc.Type != "repository" {
				continue
			}
			if p.Claims.Allows(acc.Name, auth.Admin) {
				v.Admin.Names = append(v.Admin.Names, acc.Name)
			}
			if p.Claims.Allows(acc.Name, auth.Pull) {
				v.Read.Names = append(v.Read.Names, acc.Name)
			}
		}
		return v
	}
	for _, sc := range p.Scopes {
		switch {
		case slices.Contains(sc.Actions, auth.Admin):
			if sc.Prefix == "" {
				return nil
			}
			v.Admin.Prefixes = append(v.Admin.Prefixes, sc.Prefix)
			v.Read.Prefixes = append(v.Read.Prefixes, sc.Prefix)
		case slices.Contains(sc.Actions, auth.Pull):
			v.Read.Prefixes = append(v.Read.Prefixes, sc.Prefix)
		}
	}
	return v
}
