package facade

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/cairn-dev/cairn/api"
	"github.com/cairn-dev/cairn/catalog"
	"github.com/cairn-dev/cairn/errcode"
	"github.com/cairn-dev/cairn/registry"
)

// maxPromoteBody bounds a promote request's JSON body.
const maxPromoteBody = 4 << 10

// promote answers POST /api/v1/artifacts/{repository}@{digest}/promote:
// an artifact's owner or an admin moves it up the ladder.
func (s *catalogAPI) promote(w http.ResponseWriter, r *http.Request) error {
	ref, ok := strings.CutSuffix(strings.TrimPrefix(r.URL.EscapedPath(), "/api/v1/artifacts/"), "/promote")
	if !ok {
		return errcode.New(errcode.NotFound, "no endpoint %s %s; POST /api/v1/artifacts/{repository}@{digest}/promote changes an artifact's visibility", r.Method, r.URL.Path)
	}
	params, err := newParams(r.URL, api.ParamTo)
	if err != nil {
		return err
	}
	to, err := promoteTarget(w, r, params.get(api.ParamTo))
	if err != nil {
		return err
	}
	if s.policy == nil {
		return errcode.New(errcode.Conflict, "access control is off: every artifact is readable by anyone, and visibility has no meaning; serve with --auth to use it")
	}
	p, err := s.principalOf(r)
	if err != nil {
		return err
	}
	if p.Anonymous() {
		return s.challenge(w, "", "", "authentication required: promote with a cairn token (Authorization: Bearer cairn_…) of the artifact's owner or an admin")
	}
	repo, dgst, tag, err := parseArtifactRef(ref)
	if err != nil {
		return err
	}
	done, err := s.core.Promote(r.Context(), registry.Promotion{Repository: repo, Tag: tag, Digest: dgst, To: to, By: p})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, api.Promotion{Repository: done.Repository, Digest: done.Digest, Visibility: string(done.Visibility), Changed: done.Changed})
}

// promoteTarget reads where a promotion goes: ?to= or {"to": …}.
func promoteTarget(w http.ResponseWriter, r *http.Request, query string) (catalog.Visibility, error) {
	to := query
	body, err := readBody(w, r, maxPromoteBody, `the request body (send {"to":"public"} or nothing)`)
	if err != nil {
		return "", err
	}
	if len(strings.TrimSpace(string(body))) > 0 {
		var req api.PromotionRequest
		dec := json.NewDecoder(strings.NewReader(string(body)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			return "", invalidParam("body", "the body is not {\"to\": \"unlisted\"|\"public\"|\"private\"}: %v", err)
		}
		if to != "" && req.To != "" && to != req.To {
			return "", invalidParam(api.ParamTo, "to=%s in the query and %q in the body disagree; give one", to, req.To)
		}
		if req.To != "" {
			to = req.To
		}
	}
	if to == "" {
		return "", invalidParam(api.ParamTo, "to is required: private, unlisted or public")
	}
	v, err := catalog.ParseVisibility(to)
	if err != nil || v == catalog.Staged {
		return "", invalidParam(api.ParamTo, "to=%q: give private, unlisted or public (artifacts only move up from staged)", to)
	}
	return v, nil
}
