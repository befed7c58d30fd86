package api

// Trust is what GET /api/v1/trust answers: the keys signatures are
// verified with, by repository prefix.
type Trust struct {
	Policies []PrefixTrust `json:"policies"`
}

// PrefixTrust is the trust policy of the repositories under one prefix.
type PrefixTrust struct {
	// Prefix is what the repositories' names start with ("" for all).
	Prefix string `json:"prefix"`
	// RequireSignature: manifests are served (GET) only when signed.
	RequireSignature bool  `json:"requireSignature"`
	Keys             []Key `json:"keys"`
}

// Key is a trusted public key.
type Key struct {
	KeyID     string `json:"keyId"`
	Algorithm string `json:"algorithm"`
	// PublicKey is the key in PEM.
	PublicKey string `json:"publicKey"`
}
