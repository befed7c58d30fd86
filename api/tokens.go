package api

import "time"

// TokenInfo is an API token as /api/v1/tokens lists it: never its secret.
type TokenInfo struct {
	ID         string     `json:"id"`
	User       string     `json:"user"`
	Scopes     []string   `json:"scopes"`
	CreatedAt  time.Time  `json:"createdAt"`
	ExpiresAt  *time.Time `json:"expiresAt,omitempty"`
	LastUsedAt *time.Time `json:"lastUsedAt,omitempty"`
	RevokedAt  *time.Time `json:"revokedAt,omitempty"`
}

// TokenList is what GET /api/v1/tokens answers.
type TokenList struct {
	Tokens []TokenInfo `json:"tokens"`
}

// TokenRequest is the body of POST /api/v1/tokens.
type TokenRequest struct {
	User   string   `json:"user"`
	Scopes []string `json:"scopes"`
	// Expires is a lifetime such as 90d (the default) or 12h.
	Expires string `json:"expires,omitempty"`
}

// IssuedToken is what POST /api/v1/tokens answers: the token and, this
// once, its secret.
type IssuedToken struct {
	TokenInfo
	Token string `json:"token"`
}

// Revoked is what DELETE /api/v1/tokens/{id} answers.
type Revoked struct {
	Revoked string `json:"revoked"`
}

// BearerToken is what the registry's token endpoint (GET /auth/token)
// answers, as the distribution token specification has it: the token
// under both of its names.
type BearerToken struct {
	Token       string    `json:"token"`
	AccessToken string    `json:"access_token"`
	ExpiresIn   int       `json:"expires_in"`
	IssuedAt    time.Time `json:"issued_at"`
}
