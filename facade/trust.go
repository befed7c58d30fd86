package facade

import (
	"bytes"
	"net/http"
)

// trustJSON is what /api/v1/trust answers.
type trustJSON struct {
	Policies []policyJSON `json:"policies"`
}

type policyJSON struct {
	Prefix           string    `json:"prefix"`
	RequireSignature bool      `json:"requireSignature"`
	Keys             []keyJSON `json:"keys"`
}

type keyJSON struct {
	KeyID     string `json:"keyId"`
	Algorithm string `json:"algorithm"`
	PublicKey string `json:"publicKey"`
}

func (s *Server) apiTrust(w http.ResponseWriter, r *http.Request) error {
	if _, err := newParams(r.URL); err != nil {
		return err
	}
	out := trustJSON{Policies: []policyJSON{}}
	for _, rule := range s.core.Trust().Rules() {
		p := policyJSON{Prefix: rule.Prefix, RequireSignature: rule.RequireSignature, Keys: []keyJSON{}}
		for _, k := range rule.Keys {
			p.Keys = append(p.Keys, keyJSON{KeyID: k.ID, Algorithm: k.Algorithm, PublicKey: string(bytes.TrimSpace(k.PEM)) + "\n"})
		}
		out.Policies = append(out.Policies, p)
	}
	return writeJSON(w, http.StatusOK, out)
}
