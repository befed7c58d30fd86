package facade

import (
	"bytes"
	"net/http"

	"github.com/cairn-dev/cairn/api"
)

// apiTrust answers GET /api/v1/trust: the keys trusted by prefix.
func (s *catalogAPI) apiTrust(w http.ResponseWriter, r *http.Request) error {
	if _, err := newParams(r.URL); err != nil {
		return err
	}
	out := api.Trust{Policies: []api.PrefixTrust{}}
	for _, rule := range s.core.Trust().Rules() {
		p := api.PrefixTrust{Prefix: rule.Prefix, RequireSignature: rule.RequireSignature, Keys: []api.Key{}}
		for _, k := range rule.Keys {
			p.Keys = append(p.Keys, api.Key{KeyID: k.ID, Algorithm: k.Algorithm, PublicKey: string(bytes.TrimSpace(k.PEM)) + "\n"})
		}
		out.Policies = append(out.Policies, p)
	}
	return writeJSON(w, http.StatusOK, out)
}
