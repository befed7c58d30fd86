package facade

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"
	"go.uber.org/zap"

	"github.com/cairn-dev/cairn/api"
	"github.com/cairn-dev/cairn/auth"
	"github.com/cairn-dev/cairn/catalog"
	"github.com/cairn-dev/cairn/errcode"
)

// Access is the access control of a server with --auth: who may do what,
// checked on every /v2/ and catalog API request.
type Access struct {
	// Issuer signs the bearer tokens of the token flow.
	Issuer *auth.Issuer
	// Realm is the token endpoint's URL, as configured (never built from
	// a request), and Service the name tokens are issued for.
	Realm, Service string
	// Prefixes are the visibility rules of repositories by prefix; the
	// longest that matches wins. Repositories no rule matches are private.
	Prefixes []PrefixRule
	// TokenTTL is how long an issued bearer token is good for.
	TokenTTL time.Duration

	mu      sync.Mutex
	touched map[string]time.Time // token id → last recorded use
	// verified keeps the claims of bearer tokens already checked, until
	// they expire: an ES256 check costs ~70 µs, a lookup well under 1.
	verified map[string]*auth.Claims
}

// maxVerified bounds the bearer cache; past it, the cache starts over.
const maxVerified = 10000

// verify checks a bearer token, from the cache when it was checked before.
func (a *Access) verify(tok string, now time.Time) (*auth.Claims, error) {
	a.mu.Lock()
	c, ok := a.verified[tok]
	a.mu.Unlock()
	if ok && c.ExpiresAt != nil && now.Before(c.ExpiresAt.Time) {
		return c, nil
	}
	c, err := a.Issuer.Verify(tok)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	if a.verified == nil || len(a.verified) >= maxVerified {
		a.verified = map[string]*auth.Claims{}
	}
	a.verified[tok] = c
	a.mu.Unlock()
	return c, nil
}

// WithAccess turns access control on.
func WithAccess(a *Access) Option { return func(s *Server) { s.access = a } }

// principal is who a request comes from and what they hold.
type principal struct {
	user   string      // "" for anonymous
	scopes auth.Scopes // of an API token
	claims *auth.Claims
}

func (p principal) anonymous() bool { return p.user == "" && p.claims == nil }

// unnamed reports whether p is nobody in particular: anonymous, or holding
// the anonymous bearer token of the token flow.
func (p principal) unnamed() bool { return p.user == "" }

// may reports whether p may do action on repo: by their credentials, or
// (to pull) because the repository is public.
func (a *Access) may(p principal, repo string, action auth.Action) bool {
	return (action == auth.Pull && a.public(repo)) || a.holds(p, repo, action)
}

// holds reports whether p's credentials grant action on repo, whatever
// the repository's rule.
func (a *Access) holds(p principal, repo string, action auth.Action) bool {
	if p.claims != nil {
		return p.claims.Allows(repo, action)
	}
	return p.scopes.Allows(repo, action)
}

// PrefixRule is the access policy of the repositories under a prefix.
type PrefixRule struct {
	Prefix string
	// Public: anyone may pull what has no state of its own.
	Public bool
	// Staging: new pushes start staged.
	Staging bool
}

// rule returns the rule of repo: the longest matching prefix's (the last
// given among equals), or the private default.
func (a *Access) rule(repo string) PrefixRule {
	best, found := PrefixRule{}, false
	for _, r := range a.Prefixes {
		if strings.HasPrefix(repo, r.Prefix) && (!found || len(r.Prefix) >= len(best.Prefix)) {
			best, found = r, true
		}
	}
	return best
}

func (a *Access) public(repo string) bool { return a.rule(repo).Public }

// publicSet is the repositories public by configuration, as a set the
// catalog can query: public prefixes, except the longer private ones
// under them.
func (a *Access) publicSet() catalog.RepoSet {
	var set catalog.RepoSet
	for _, r := range a.Prefixes {
		if r.Public {
			set.Prefixes = append(set.Prefixes, r.Prefix)
		} else {
			set.Except = append(set.Except, r.Prefix)
		}
	}
	return set
}

// effective is the visibility an artifact of repo in state vis has: its
// own, or its repository's.
func (a *Access) effective(repo string, vis catalog.Visibility) catalog.Visibility {
	if vis != catalog.Inherit {
		return vis
	}
	if a.public(repo) {
		return catalog.Public
	}
	return catalog.Private
}

// unindexed is the visibility of content of repo the catalog does not
// hold (not indexed yet, or named by a digest it is not keyed by), and
// whether p may read it: the repository's rule, except that where pushes
// start staged it is staged, for admins only (it might be anyone's
// staged artifact).
func (a *Access) unindexed(p principal, repo string) (catalog.Visibility, bool) {
	if a.rule(repo).Staging {
		return catalog.Staged, a.may(p, repo, auth.Admin)
	}
	return a.effective(repo, catalog.Inherit), a.may(p, repo, auth.Pull)
}

// viewer is what p sees, for the catalog's queries; nil for an admin of
// every repository. byDigest: p names the artifact by its digest.
func (a *Access) viewer(p principal, byDigest bool) *catalog.Viewer {
	v := &catalog.Viewer{User: p.user, Public: a.publicSet(), ByDigest: byDigest}
	if p.claims != nil {
		for _, acc := range p.claims.Access {
			if acc.Type != "repository" {
				continue
			}
			if p.claims.Allows(acc.Name, auth.Admin) {
				v.Admin.Names = append(v.Admin.Names, acc.Name)
			}
			if p.claims.Allows(acc.Name, auth.Pull) {
				v.Read.Names = append(v.Read.Names, acc.Name)
			}
		}
		return v
	}
	for _, sc := range p.scopes {
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

// errBadCredentials is answered 401 with the reason.
func badCredentials(reason string) error {
	return errcode.New(errcode.Unauthorized, "%s; log in again with a valid cairn token (cairn token issue makes one)", reason)
}

// principalOf reads the request's credentials: HTTP basic (user and a
// cairn API token), a cairn API token as bearer, or a bearer token of the
// token flow. A bearer that is neither (such as the "QQ==" content-id
// tools send to public registries) is anonymous.
func (s *Server) principalOf(r *http.Request) (principal, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return principal{}, nil
	}
	scheme, cred, _ := strings.Cut(h, " ")
	cred = strings.TrimSpace(cred)
	switch strings.ToLower(scheme) {
	case "basic":
		raw, err := base64.StdEncoding.DecodeString(cred)
		if err != nil {
			return principal{}, badCredentials("the basic credentials are not base64")
		}
		user, secret, ok := strings.Cut(string(raw), ":")
		if !ok {
			return principal{}, badCredentials("the basic credentials have no password")
		}
		return s.apiToken(r, user, secret)
	case "bearer":
		if strings.HasPrefix(cred, auth.TokenPrefix) {
			return s.apiToken(r, "", cred)
		}
		c, err := s.access.verify(cred, s.now())
		if err != nil {
			if strings.Count(cred, ".") == 2 {
				// Shaped like one of ours but not valid: say so, so the
				// client fetches a new one.
				return principal{}, badCredentials("the bearer token is not valid (expired, or not issued here)")
			}
			return principal{}, nil
		}
		return principal{user: c.Subject, claims: c}, nil
	}
	return principal{}, badCredentials(fmt.Sprintf("the %q authorization scheme is not supported (use basic or bearer)", scheme))
}

// apiToken checks a cairn API token (and the user it was issued to, when
// given).
func (s *Server) apiToken(r *http.Request, user, secret string) (principal, error) {
	t, err := s.store.TokenByHash(r.Context(), auth.HashSecret(secret))
	switch {
	case errors.Is(err, catalog.ErrNotFound):
		return principal{}, badCredentials("the token is not one this server issued")
	case err != nil:
		return principal{}, errcode.Wrap(errcode.Unavailable, err, "credentials cannot be checked: the catalog is unavailable; try again")
	}
	// The hash lookup found it; compare anyway in constant time, and the
	// user name too when one was given.
	if !auth.SameHash(t.Hash, auth.HashSecret(secret)) || (user != "" && user != t.User) {
		return principal{}, badCredentials("the token does not belong to user " + user)
	}
	if err := (auth.Token{ExpiresAt: t.ExpiresAt, RevokedAt: t.RevokedAt}).Usable(s.now()); err != nil {
		return principal{}, badCredentials(err.Error())
	}
	scopes, err := auth.ParseScopes(t.Scopes)
	if err != nil {
		return principal{}, errcode.Wrap(errcode.Unknown, err, "token %s has unreadable scopes", t.ID)
	}
	s.touch(r, t.ID)
	return principal{user: t.User, scopes: scopes}, nil
}

// touch records a token's use, at most once a minute per token.
func (s *Server) touch(r *http.Request, id string) {
	a, now := s.access, s.now()
	a.mu.Lock()
	if a.touched == nil {
		a.touched = map[string]time.Time{}
	}
	last := a.touched[id]
	if now.Sub(last) < time.Minute {
		a.mu.Unlock()
		return
	}
	a.touched[id] = now
	a.mu.Unlock()
	if err := s.store.TouchToken(r.Context(), id, now); err != nil {
		s.logger(r.Context()).Warn("recording a token's use", zap.Error(err))
	}
}

// challenge answers 401 with the token flow's WWW-Authenticate.
func (s *Server) challenge(w http.ResponseWriter, scope, errCode, msg string) error {
	v := fmt.Sprintf("Bearer realm=%q,service=%q", s.access.Realm, s.access.Service)
	if scope != "" {
		v += fmt.Sprintf(",scope=%q", scope)
	}
	if errCode != "" {
		v += fmt.Sprintf(",error=%q", errCode)
	}
	w.Header().Set("WWW-Authenticate", v)
	return errcode.New(errcode.Unauthorized, "%s", msg)
}

// v2Actions are the actions a /v2/ request needs on its repository.
func v2Actions(r *http.Request, rt v2Route) []auth.Action {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		if rt.kind == routeUpload {
			return []auth.Action{auth.Push}
		}
		return []auth.Action{auth.Pull}
	case http.MethodDelete:
		if rt.kind == routeUpload {
			return []auth.Action{auth.Push}
		}
		return []auth.Action{auth.Delete}
	}
	return []auth.Action{auth.Pull, auth.Push}
}

type principalKey struct{}

// principalFrom returns the principal authorizeV2 let through.
func principalFrom(r *http.Request) principal {
	p, _ := r.Context().Value(principalKey{}).(principal)
	return p
}

// authorizeV2 lets a /v2/ request through, with its principal in the
// returned request's context, or answers why not.
func (s *Server) authorizeV2(w http.ResponseWriter, r *http.Request, rt v2Route) (*http.Request, error) {
	p, err := s.principalOf(r)
	if err != nil {
		if errcode.As(err).Code == errcode.Unauthorized {
			return r, s.challenge(w, "", "invalid_token", errcode.As(err).Message)
		}
		return r, err
	}
	r = r.WithContext(context.WithValue(r.Context(), principalKey{}, p))
	log := s.logger(r.Context())
	switch rt.kind {
	case routeBase:
		if p.anonymous() {
			return r, s.challenge(w, "", "", "authentication required: log in (oras login, docker login, regctl registry login) with a cairn token")
		}
		return r, nil
	case routeCatalog:
		// Anonymous callers see the public repositories (filtered below).
		return r, nil
	}
	if readRoute(r, rt) {
		// Reads are answered per artifact: what the caller may see
		// depends on its owner and visibility, not on the repository
		// alone (see visibility.go).
		return r, nil
	}
	for _, act := range v2Actions(r, rt) {
		if s.access.may(p, rt.name, act) {
			continue
		}
		scope := fmt.Sprintf("repository:%s:%s", rt.name, strings.Join(actionNames(v2Actions(r, rt)), ","))
		log.Info("access denied", zap.String("user", p.user), zap.String("repo", rt.name), zap.String("action", string(act)))
		switch {
		case p.unnamed():
			return r, s.challenge(w, scope, "", fmt.Sprintf("authentication required to %s %s: log in (oras login, docker login, regctl registry login) with a cairn token that may", act, rt.name))
		case p.claims != nil:
			return r, s.challenge(w, scope, "insufficient_scope", fmt.Sprintf("user %s may not %s %s (the token's scopes do not include it)", p.user, act, rt.name))
		}
		return r, errcode.New(errcode.Denied, "user %s may not %s %s (the token's scopes: %s)", p.user, act, rt.name, p.scopes)
	}
	if rt.kind == routeUploadStart && r.URL.Query().Get("from") != "" && !s.mayMount(r, r.URL.Query().Get("from"), r.URL.Query().Get("mount")) {
		// A mount of a blob the caller cannot read would hand it out:
		// drop the mount, which the spec lets a registry ignore.
		q := r.URL.Query()
		q.Del("mount")
		q.Del("from")
		r.URL.RawQuery = q.Encode()
	}
	return r, nil
}

// checkOwner refuses to delete repo@dgst unless the caller owns it or is
// an admin of repo; an artifact they cannot see is not there. Content
// pushed while access control was off has no owner: the delete scope
// decides alone.
func (s *Server) checkOwner(r *http.Request, repo string, dgst digest.Digest) error {
	if s.access == nil {
		return nil
	}
	p := principalFrom(r)
	if s.access.may(p, repo, auth.Admin) {
		return nil
	}
	owner, vis, err := s.store.Ownership(r.Context(), repo, dgst)
	switch {
	case errors.Is(err, catalog.ErrNotFound):
		return nil // the engine answers for what the catalog does not hold
	case err != nil:
		return errcode.Wrap(errcode.Unavailable, err, "the owner of %s@%s cannot be checked: the catalog is unavailable; try again", repo, dgst)
	case !s.access.viewer(p, true).Sees(repo, owner, vis):
		s.logger(r.Context()).Info("access denied: not visible", zap.String("user", p.user), zap.String("repo", repo), zap.Stringer("digest", dgst), zap.String("action", "delete"))
		return errManifestUnknown(repo, dgst.String())
	case owner != "" && owner != p.user:
		s.logger(r.Context()).Info("access denied: not the owner", zap.String("user", p.user), zap.String("repo", repo), zap.String("owner", owner), zap.String("action", "delete"))
		return errcode.New(errcode.Denied, "%s@%s belongs to %s: only its owner or an admin of the repository may delete it", repo, dgst, owner)
	}
	return nil
}

func actionNames(as []auth.Action) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = string(a)
	}
	return out
}

// authorizeAPI lets a catalog API request through to callers that may
// do action on every repository (events: admins).
func (s *Server) authorizeAPI(w http.ResponseWriter, r *http.Request, action auth.Action) error {
	p, err := s.principalOf(r)
	if err != nil {
		return err
	}
	if p.anonymous() {
		return s.challenge(w, "", "", "authentication required: send a cairn token (Authorization: Bearer cairn_…)")
	}
	if s.access.holds(p, "", action) {
		return nil
	}
	s.logger(r.Context()).Info("access denied", zap.String("user", p.user), zap.String("path", r.URL.Path), zap.String("action", string(action)))
	return errcode.New(errcode.Denied, "only tokens that may %s every repository (scope ':%s') may use %s; user %s's token may not", action, action, r.URL.Path, p.user)
}

// issueToken is GET /auth/token: basic credentials (user and cairn token)
// or none, exchanged for a bearer token holding the scopes asked for that
// the caller holds.
func (s *Server) issueToken(w http.ResponseWriter, r *http.Request) error {
	if s.access == nil {
		return errcode.New(errcode.NotFound, "access control is off: no token is needed")
	}
	q := r.URL.Query()
	if svc := q.Get("service"); svc != "" && svc != s.access.Service {
		return invalidParam("service", "service %q is not this registry's (%q)", svc, s.access.Service)
	}
	var p principal
	if r.Header.Get("Authorization") != "" {
		var err error
		if p, err = s.principalOf(r); err != nil {
			return err
		}
		if p.claims != nil {
			return errcode.New(errcode.Unauthorized, "exchange a cairn token (basic credentials), not a bearer token")
		}
	}
	grants := []auth.Access{}
	for _, sc := range q["scope"] {
		for one := range strings.FieldsSeq(sc) {
			a, err := auth.ParseRegistryScope(one)
			if err != nil {
				return invalidParam("scope", "%v", err)
			}
			if a.Type != "repository" {
				continue
			}
			var held []string
			if s.access.may(p, a.Name, auth.Admin) {
				// Admins may delete what others own: say so in the token.
				held = append(held, string(auth.Admin))
			}
			for _, act := range a.Actions {
				if act == "*" {
					act = string(auth.Admin)
				}
				// Only what the credentials hold: public pulls need no
				// grant, and a grant would read as the caller's own.
				if s.access.holds(p, a.Name, auth.Action(act)) {
					held = append(held, act)
				}
			}
			if len(held) > 0 {
				grants = append(grants, auth.Access{Type: "repository", Name: a.Name, Actions: held})
			}
		}
	}
	tok, exp, err := s.access.Issuer.Issue(p.user, grants)
	if err != nil {
		return errcode.Wrap(errcode.Unknown, err, "issuing a token failed")
	}
	now := s.now()
	w.Header().Set("Cache-Control", "no-store")
	return writeJSON(w, http.StatusOK, api.BearerToken{Token: tok, AccessToken: tok, ExpiresIn: int(exp.Sub(now).Seconds()), IssuedAt: now.UTC()})
}

// gated wraps a catalog API handler with authorizeAPI when access control
// is on.
func (s *Server) gated(action auth.Action, h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if s.access != nil {
			if err := s.authorizeAPI(w, r, action); err != nil {
				return err
			}
		}
		return h(w, r)
	}
}

// viewing wraps a catalog API read: with access control on, the caller's
// principal goes in the request's context and the handler answers what
// they may see (anonymous callers: what is public).
func (s *Server) viewing(h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if s.access != nil {
			p, err := s.principalOf(r)
			if err != nil {
				return err
			}
			r = r.WithContext(context.WithValue(r.Context(), principalKey{}, p))
		}
		return h(w, r)
	}
}
