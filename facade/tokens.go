package facade

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/cairn-dev/cairn/api"
	"github.com/cairn-dev/cairn/auth"
	"github.com/cairn-dev/cairn/catalog"
	"github.com/cairn-dev/cairn/errcode"
	"github.com/cairn-dev/cairn/registry"
)

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// toTokenInfo renders a token as the API lists it: never its secret.
func toTokenInfo(t catalog.Token) api.TokenInfo {
	return api.TokenInfo{ID: t.ID, User: t.User, Scopes: strings.Fields(t.Scopes), CreatedAt: t.CreatedAt,
		ExpiresAt: timeOrNil(t.ExpiresAt), LastUsedAt: timeOrNil(t.LastUsedAt), RevokedAt: timeOrNil(t.RevokedAt)}
}

// maxTokenRequest bounds a token request's JSON body.
const maxTokenRequest = 64 << 10

// adminOnly answers unless the caller may administer every repository;
// with access control off there are no tokens to manage over HTTP (an
// open server would hand them to anyone).
func (s *catalogAPI) adminOnly(w http.ResponseWriter, r *http.Request) error {
	if s.policy == nil {
		return errcode.New(errcode.NotFound, "access control is off: tokens are managed with cairn token on the server's machine")
	}
	return s.authorizeAPI(w, r, auth.Admin)
}

// tokens is /api/v1/tokens: GET lists, POST issues.
func (s *catalogAPI) tokens(w http.ResponseWriter, r *http.Request) error {
	if _, err := newParams(r.URL); err != nil {
		return err
	}
	if err := s.adminOnly(w, r); err != nil {
		return err
	}
	if r.Method != http.MethodPost {
		ts, err := s.store.Tokens(r.Context())
		if err != nil {
			return registry.CatalogUnavailable(err)
		}
		out := api.TokenList{Tokens: []api.TokenInfo{}}
		for _, t := range ts {
			out.Tokens = append(out.Tokens, toTokenInfo(t))
		}
		return writeJSON(w, http.StatusOK, out)
	}
	body, err := readBody(w, r, maxTokenRequest, "the token request")
	if err != nil {
		return err
	}
	var req api.TokenRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return invalidParam("body", "the body is not {\"user\":…,\"scopes\":[…],\"expires\":…}: %v", err)
	}
	var scopes auth.Scopes
	for _, sc := range req.Scopes {
		p, err := auth.ParseScope(sc)
		if err != nil {
			return invalidParam("scopes", "%v", err)
		}
		scopes = append(scopes, p)
	}
	if req.Expires == "" {
		req.Expires = "90d"
	}
	ttl, err := auth.ParseTTL(req.Expires)
	if err != nil {
		return invalidParam("expires", "%v", err)
	}
	secret, tok, err := auth.NewToken(req.User, scopes, s.core.Now(), ttl)
	if err != nil {
		return invalidParam("user", "%v", err)
	}
	ct := catalog.Token{ID: tok.ID, User: tok.User, Scopes: tok.Scopes.String(), Hash: tok.Hash, CreatedAt: tok.CreatedAt, ExpiresAt: tok.ExpiresAt}
	if err := s.store.CreateToken(r.Context(), ct); err != nil {
		return registry.CatalogUnavailable(err)
	}
	out := api.IssuedToken{TokenInfo: toTokenInfo(ct), Token: secret}
	w.Header().Set("Cache-Control", "no-store")
	return writeJSON(w, http.StatusCreated, out)
}

// revokeToken is DELETE /api/v1/tokens/{id}.
func (s *catalogAPI) revokeToken(w http.ResponseWriter, r *http.Request) error {
	if _, err := newParams(r.URL); err != nil {
		return err
	}
	if err := s.adminOnly(w, r); err != nil {
		return err
	}
	id := strings.TrimPrefix(r.URL.Path, "/api/v1/tokens/")
	err := s.store.RevokeToken(r.Context(), id, s.core.Now())
	if errors.Is(err, catalog.ErrNotFound) {
		return errcode.New(errcode.NotFound, "no token has id %q; GET /api/v1/tokens lists them", id)
	}
	if err != nil {
		return registry.CatalogUnavailable(err)
	}
	return writeJSON(w, http.StatusOK, api.Revoked{Revoked: id})
}
