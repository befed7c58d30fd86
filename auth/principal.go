package auth

// Principal is who a request comes from and what their credentials hold:
// the scopes of a cairn API token, or the claims of a bearer token of the
// token flow. The zero Principal is anonymous.
type Principal struct {
	// User is "" for anonymous callers and for the anonymous bearer token.
	User   string
	Scopes Scopes
	Claims *Claims
}

// Anonymous reports whether p brought no credentials at all.
func (p Principal) Anonymous() bool { return p.User == "" && p.Claims == nil }

// Unnamed reports whether p is nobody in particular: anonymous, or holding
// the anonymous bearer token of the token flow.
func (p Principal) Unnamed() bool { return p.User == "" }

// Holds reports whether p's credentials grant action on repo, whatever the
// repository's own rule.
func (p Principal) Holds(repo string, action Action) bool {
	if p.Claims != nil {
		return p.Claims.Allows(repo, action)
	}
	return p.Scopes.Allows(repo, action)
}
