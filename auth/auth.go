// Package auth holds cairn's access control primitives: API tokens (random
// secrets of which only a hash is stored), the scopes they grant by
// repository prefix, and the short-lived bearer tokens of the registry
// token flow, signed with a key the server keeps.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// TokenPrefix starts every cairn API token, so that a leaked one is easy
// to recognise (and to scan for).
const TokenPrefix = "cairn_"

// Action is what a scope allows on a repository.
type Action string

// The actions, in rising power: admin implies every other one.
const (
	Pull   Action = "pull"
	Push   Action = "push"
	Delete Action = "delete"
	Admin  Action = "admin"
)

var actions = []Action{Pull, Push, Delete, Admin}

// Scope grants actions on the repositories whose names start with Prefix
// ("" is every repository).
type Scope struct {
	Prefix  string
	Actions []Action
}

// String is the scope in the form ParseScope reads.
func (s Scope) String() string {
	as := make([]string, len(s.Actions))
	for i, a := range s.Actions {
		as[i] = string(a)
	}
	return s.Prefix + ":" + strings.Join(as, ",")
}

// ParseScope reads PREFIX:ACTION[,ACTION…], e.g. "datasets/:pull,push";
// ":pull" (or "*:pull") is every repository.
func ParseScope(s string) (Scope, error) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return Scope{}, fmt.Errorf("scope %q: give PREFIX:ACTIONS, e.g. datasets/:pull,push (actions: pull, push, delete, admin)", s)
	}
	sc := Scope{Prefix: s[:i]}
	if sc.Prefix == "*" {
		sc.Prefix = ""
	}
	if strings.ContainsAny(sc.Prefix, " \t\n*") {
		return Scope{}, fmt.Errorf("scope %q: the prefix %q has a space or a *; give the start of repository names", s, sc.Prefix)
	}
	for a := range strings.SplitSeq(s[i+1:], ",") {
		act := Action(strings.TrimSpace(a))
		if !slices.Contains(actions, act) {
			return Scope{}, fmt.Errorf("scope %q: %q is not an action (pull, push, delete, admin)", s, a)
		}
		if !slices.Contains(sc.Actions, act) {
			sc.Actions = append(sc.Actions, act)
		}
	}
	return sc, nil
}

// Scopes are everything a token grants.
type Scopes []Scope

// Allows reports whether some scope grants action on repo. admin grants
// every action.
func (ss Scopes) Allows(repo string, action Action) bool {
	for _, s := range ss {
		if !strings.HasPrefix(repo, s.Prefix) {
			continue
		}
		if slices.Contains(s.Actions, action) || slices.Contains(s.Actions, Admin) {
			return true
		}
	}
	return false
}

// String joins the scopes with spaces, as stored.
func (ss Scopes) String() string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = s.String()
	}
	return strings.Join(parts, " ")
}

// ParseScopes reads scopes joined by spaces (what String writes).
func ParseScopes(s string) (Scopes, error) {
	var out Scopes
	for f := range strings.FieldsSeq(s) {
		sc, err := ParseScope(f)
		if err != nil {
			return nil, err
		}
		out = append(out, sc)
	}
	return out, nil
}

// Token is an API token as stored: never its secret.
type Token struct {
	ID     string
	User   string
	Scopes Scopes
	// Hash is the SHA-256 of the secret. Secrets are 256 random bits, so a
	// fast hash is as good as a slow one and keeps the check cheap.
	Hash      []byte
	CreatedAt time.Time
	// ExpiresAt is zero for a token that does not expire.
	ExpiresAt  time.Time
	LastUsedAt time.Time
	RevokedAt  time.Time
}

// Usable reports why the token cannot be used at now, or nil.
func (t Token) Usable(now time.Time) error {
	switch {
	case !t.RevokedAt.IsZero():
		return ErrRevoked
	case !t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt):
		return ErrExpired
	}
	return nil
}

// Errors a token check ends with.
var (
	ErrUnknownToken = errors.New("the token is not one this server issued")
	ErrRevoked      = errors.New("the token was revoked")
	ErrExpired      = errors.New("the token has expired")
)

// NewToken returns a new token for user with scopes, its secret (shown to
// the user once) and the token to store. ttl 0 never expires.
func NewToken(user string, scopes Scopes, now time.Time, ttl time.Duration) (secret string, t Token, err error) {
	if user == "" || strings.ContainsAny(user, ": \t\n") {
		return "", Token{}, fmt.Errorf("user %q: give a name without spaces or ':'", user)
	}
	if len(scopes) == 0 {
		return "", Token{}, errors.New("a token needs at least one scope, e.g. --scope datasets/:pull")
	}
	var raw [32]byte
	var id [8]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", Token{}, err
	}
	if _, err := rand.Read(id[:]); err != nil {
		return "", Token{}, err
	}
	secret = TokenPrefix + base64.RawURLEncoding.EncodeToString(raw[:])
	t = Token{ID: hex.EncodeToString(id[:]), User: user, Scopes: scopes, Hash: HashSecret(secret), CreatedAt: now.UTC()}
	if ttl > 0 {
		t.ExpiresAt = t.CreatedAt.Add(ttl)
	}
	return secret, t, nil
}

// HashSecret is what is stored of a secret.
func HashSecret(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// SameHash compares two hashes in constant time.
func SameHash(a, b []byte) bool { return subtle.ConstantTimeCompare(a, b) == 1 }

// ParseTTL reads a token lifetime: a Go duration or a number of days
// ("90d"); "" or "0" is no expiry.
func ParseTTL(s string) (time.Duration, error) {
	if s == "" || s == "0" {
		return 0, nil
	}
	if d, ok := strings.CutSuffix(s, "d"); ok {
		var n int
		if _, err := fmt.Sscanf(d, "%d", &n); err == nil && n > 0 && fmt.Sprint(n) == d {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("expiry %q: give days (90d) or a duration (12h)", s)
	}
	return d, nil
}
