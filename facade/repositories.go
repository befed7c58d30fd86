package facade

import (
	"encoding/json"
	"net/http"

	"github.com/cairn-dev/cairn/auth"
	"github.com/cairn-dev/cairn/errcode"
)

// publicCatalog answers /v2/_catalog with access control on: the
// repositories where the caller may see an artifact, or holds pull.
func (s *registryAPI) publicCatalog(w http.ResponseWriter, r *http.Request) error {
	p, err := s.principalOf(r)
	if err != nil {
		return err
	}
	res := s.forward(r)
	if res.Status != http.StatusOK {
		return res.CopyTo(w)
	}
	var body struct {
		Repositories []string `json:"repositories"`
	}
	if err := json.Unmarshal(res.Body.Bytes(), &body); err != nil {
		return errcode.Wrap(errcode.Unknown, err, "the engine's catalog answer cannot be read")
	}
	v := s.policy.Viewer(p, false)
	seen := map[string]bool{}
	if v != nil {
		// Every repository with an artifact the caller sees, in pages.
		after := ""
		for {
			rs, err := s.store.RepositorySummaries(r.Context(), "", after, v, 1000)
			if err != nil {
				return errcode.Wrap(errcode.Unavailable, err, "which repositories you may see cannot be checked: the catalog is unavailable; try again")
			}
			for _, rep := range rs {
				seen[rep.Name] = true
			}
			if len(rs) < 1000 {
				break
			}
			after = rs[len(rs)-1].Name
		}
	}
	visible := []string{}
	for _, repo := range body.Repositories {
		if v == nil || seen[repo] || p.Holds(repo, auth.Pull) {
			visible = append(visible, repo)
		}
	}
	body.Repositories = visible
	for k, vals := range res.Header() {
		if k != "Content-Length" {
			w.Header()[k] = vals
		}
	}
	return writeJSON(w, http.StatusOK, body)
}
