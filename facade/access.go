package facade

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/cairn-dev/cairn/api"
	"github.com/cairn-dev/cairn/auth"
	"github.com/cairn-dev/cairn/catalog"
	"github.com/cairn-dev/cairn/errcode"
)

// Authenticator reads who a request comes from when access control is
// on: cairn API tokens (basic or bearer) and the bearer tokens of the
// registry token flow, which it issues.
type Authenticator struct {
	// Issuer signs the bearer tokens of the token flow.
	Issuer *auth.Issuer
	// Realm is the token endpoint's URL, as configured (never built from
	// a request), and Service the name tokens are issued for.
	Realm, Service string
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
func (a *Authenticator) verify(tok string, now time.Time) (*auth.Claims, error) {
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

// errBadCredentials is answered 401 with the reason.
func badCredentials(reason string) error {
	return errcode.New(errcode.Unauthorized, "%s; log in again with a valid cairn token (cairn token issue makes one)", reason)
}

// principalOf reads the request's credentials: HTTP basic (user and a
// cairn API token), a cairn API token as bearer, or a bearer token of the
// token flow. A bearer that is neither (such as the "QQ==" content-id
// tools send to public registries) is anonymous.
func (s *Server) principalOf(r *http.Request) (auth.Principal, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return auth.Principal{}, nil
	}
	scheme, cred, _ := strings.Cut(h, " ")
	cred = strings.TrimSpace(cred)
	switch strings.ToLower(scheme) {
	case "basic":
		raw, err := base64.StdEncoding.DecodeString(cred)
		if err != nil {
			return auth.Principal{}, badCredentials("the basic credentials are not base64")
		}
		user, secret, ok := strings.Cut(string(raw), ":")
		if !ok {
			return auth.Principal{}, badCredentials("the basic credentials have no password")
		}
		return s.apiToken(r, user, secret)
	case "bearer":
		if strings.HasPrefix(cred, auth.TokenPrefix) {
			return s.apiToken(r, "", cred)
		}
		c, err := s.authn.verify(cred, s.core.Now())
		if err != nil {
			if strings.Count(cred, ".") == 2 {
				// Shaped like one of ours but not valid: say so, so the
				// client fetches a new one.
				return auth.Principal{}, badCredentials("the bearer token is not valid (expired, or not issued here)")
			}
			return auth.Principal{}, nil
		}
		return auth.Principal{User: c.Subject, Claims: c}, nil
	}
	return auth.Principal{}, badCredentials(fmt.Sprintf("the %q authorization scheme is not supported (use basic or bearer)", scheme))
}

// apiToken checks a cairn API token (and the user it was issued to, when
// given).
func (s *Server) apiToken(r *http.Request, user, secret string) (auth.Principal, error) {
	t, err := s.store.TokenByHash(r.Context(), auth.HashSecret(secret))
	switch {
	case errors.Is(err, catalog.ErrNotFound):
		return auth.Principal{}, badCredentials("the token is not one this server issued")
	case err != nil:
		return auth.Principal{}, errcode.Wrap(errcode.Unavailable, err, "credentials cannot be checked: the catalog is unavailable; try again")
	}
	// The hash lookup found it; compare anyway in constant time, and the
	// user name too when one was given.
	if !auth.SameHash(t.Hash, auth.HashSecret(secret)) || (user != "" && user != t.User) {
		return auth.Principal{}, badCredentials("the token does not belong to user " + user)
	}
	if err := (auth.Token{ExpiresAt: t.ExpiresAt, RevokedAt: t.RevokedAt}).Usable(s.core.Now()); err != nil {
		return auth.Principal{}, badCredentials(err.Error())
	}
	scopes, err := auth.ParseScopes(t.Scopes)
	if err != nil {
		return auth.Principal{}, errcode.Wrap(errcode.Unknown, err, "token %s has unreadable scopes", t.ID)
	}
	s.touch(r, t.ID)
	return auth.Principal{User: t.User, Scopes: scopes}, nil
}

// touch records a token's use, at most once a minute per token.
func (s *Server) touch(r *http.Request, id string) {
	a, now := s.authn, s.core.Now()
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
	v := fmt.Sprintf("Bearer realm=%q,service=%q", s.authn.Realm, s.authn.Service)
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

// principalFrom returns the principal authorizeV2 or viewing let through.
func principalFrom(r *http.Request) auth.Principal {
	p, _ := r.Context().Value(principalKey{}).(auth.Principal)
	return p
}

// authorizeV2 lets a /v2/ request through, with its principal in the
// returned request's context, or answers why not.
func (s *registryAPI) authorizeV2(w http.ResponseWriter, r *http.Request, rt v2Route) (*http.Request, error) {
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
		if p.Anonymous() {
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
		if s.policy.May(p, rt.name, act) {
			continue
		}
		scope := fmt.Sprintf("repository:%s:%s", rt.name, strings.Join(actionNames(v2Actions(r, rt)), ","))
		log.Info("access denied", zap.String("user", p.User), zap.String("repo", rt.name), zap.String("action", string(act)))
		switch {
		case p.Unnamed():
			return r, s.challenge(w, scope, "", fmt.Sprintf("authentication required to %s %s: log in (oras login, docker login, regctl registry login) with a cairn token that may", act, rt.name))
		case p.Claims != nil:
			return r, s.challenge(w, scope, "insufficient_scope", fmt.Sprintf("user %s may not %s %s (the token's scopes do not include it)", p.User, act, rt.name))
		}
		return r, errcode.New(errcode.Denied, "user %s may not %s %s (the token's scopes: %s)", p.User, act, rt.name, p.Scopes)
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

func actionNames(as []auth.Action) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = string(a)
	}
	return out
}

// authorizeAPI lets a catalog API request through to callers that may
// do action on every repository (events: admins).
func (s *catalogAPI) authorizeAPI(w http.ResponseWriter, r *http.Request, action auth.Action) error {
	p, err := s.principalOf(r)
	if err != nil {
		return err
	}
	if p.Anonymous() {
		return s.challenge(w, "", "", "authentication required: send a cairn token (Authorization: Bearer cairn_…)")
	}
	if p.Holds("", action) {
		return nil
	}
	s.logger(r.Context()).Info("access denied", zap.String("user", p.User), zap.String("path", r.URL.Path), zap.String("action", string(action)))
	return errcode.New(errcode.Denied, "only tokens that may %s every repository (scope ':%s') may use %s; user %s's token may not", action, action, r.URL.Path, p.User)
}

// issueToken is GET /auth/token: basic credentials (user and cairn token)
// or none, exchanged for a bearer token holding the scopes asked for that
// the caller holds.
func (s *catalogAPI) issueToken(w http.ResponseWriter, r *http.Request) error {
	if s.policy == nil {
		return errcode.New(errcode.NotFound, "access control is off: no token is needed")
	}
	q := r.URL.Query()
	if svc := q.Get("service"); svc != "" && svc != s.authn.Service {
		return invalidParam("service", "service %q is not this registry's (%q)", svc, s.authn.Service)
	}
	var p auth.Principal
	if r.Header.Get("Authorization") != "" {
		var err error
		if p, err = s.principalOf(r); err != nil {
			return err
		}
		if p.Claims != nil {
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
			if s.policy.May(p, a.Name, auth.Admin) {
				// Admins may delete what others own: say so in the token.
				held = append(held, string(auth.Admin))
			}
			for _, act := range a.Actions {
				if act == "*" {
					act = string(auth.Admin)
				}
				// Only what the credentials hold: public pulls need no
				// grant, and a grant would read as the caller's own.
				if p.Holds(a.Name, auth.Action(act)) {
					held = append(held, act)
				}
			}
			if len(held) > 0 {
				grants = append(grants, auth.Access{Type: "repository", Name: a.Name, Actions: held})
			}
		}
	}
	tok, exp, err := s.authn.Issuer.Issue(p.User, grants)
	if err != nil {
		return errcode.Wrap(errcode.Unknown, err, "issuing a token failed")
	}
	now := s.core.Now()
	w.Header().Set("Cache-Control", "no-store")
	return writeJSON(w, http.StatusOK, api.BearerToken{Token: tok, AccessToken: tok, ExpiresIn: int(exp.Sub(now).Seconds()), IssuedAt: now.UTC()})
}

// gated wraps a catalog API handler with authorizeAPI when access control
// is on.
func (s *catalogAPI) gated(action auth.Action, h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if s.policy != nil {
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
func (s *catalogAPI) viewing(h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if s.policy != nil {
			p, err := s.principalOf(r)
			if err != nil {
				return err
			}
			r = r.WithContext(context.WithValue(r.Context(), principalKey{}, p))
		}
		return h(w, r)
	}
}
