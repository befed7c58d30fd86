package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Access is one grant of a bearer token, in the distribution token
// specification's form: {"type":"repository","name":…,"actions":[…]}.
type Access struct {
	Type    string   `json:"type"`
	Name    string   `json:"name"`
	Actions []string `json:"actions"`
}

// ParseRegistryScope reads a scope parameter of the token flow,
// "repository:NAME:ACTION[,ACTION]" (NAME may hold ':' only before the
// last one, as with registry ports in other registries).
func ParseRegistryScope(s string) (Access, error) {
	typ, rest, ok := strings.Cut(s, ":")
	i := strings.LastIndexByte(rest, ':')
	if !ok || i <= 0 || typ == "" {
		return Access{}, fmt.Errorf("scope %q is not TYPE:NAME:ACTIONS", s)
	}
	a := Access{Type: typ, Name: rest[:i]}
	for act := range strings.SplitSeq(rest[i+1:], ",") {
		if act != "" {
			a.Actions = append(a.Actions, act)
		}
	}
	return a, nil
}

// Claims are a bearer token's claims.
type Claims struct {
	jwt.RegisteredClaims
	Access []Access `json:"access"`
}

// Allows reports whether the claims grant action on repository repo.
func (c *Claims) Allows(repo string, action Action) bool {
	for _, a := range c.Access {
		if a.Type != "repository" || a.Name != repo {
			continue
		}
		for _, act := range a.Actions {
			if act == string(action) || act == "*" {
				return true
			}
		}
	}
	return false
}

// Issuer signs and checks the bearer tokens of the token flow. The
// algorithm is fixed (ES256): a token naming another one is refused, so
// neither "none" nor a key confusion gets through.
type Issuer struct {
	key     *ecdsa.PrivateKey
	issuer  string
	service string
	ttl     time.Duration
	now     func() time.Time
}

// NewIssuer returns an issuer of tokens for service, valid for ttl.
func NewIssuer(key *ecdsa.PrivateKey, issuer, service string, ttl time.Duration) *Issuer {
	return &Issuer{key: key, issuer: issuer, service: service, ttl: ttl, now: time.Now}
}

// Issue returns a token for subject ("" for anonymous) granting access,
// and when it expires.
func (i *Issuer) Issue(subject string, access []Access) (string, time.Time, error) {
	now := i.now()
	exp := now.Add(i.ttl)
	var id [12]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", time.Time{}, err
	}
	c := Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    i.issuer,
			Subject:   subject,
			Audience:  jwt.ClaimStrings{i.service},
			ExpiresAt: jwt.NewNumericDate(exp),
			NotBefore: jwt.NewNumericDate(now.Add(-time.Minute)),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        fmt.Sprintf("%x", id),
		},
		Access: access,
	}
	if c.Access == nil {
		c.Access = []Access{}
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodES256, c).SignedString(i.key)
	return s, exp, err
}

// ErrBadBearer wraps every reason a bearer token is refused.
var ErrBadBearer = errors.New("invalid bearer token")

// Verify checks a token's signature (ES256 with this issuer's key only),
// issuer, audience and time, and returns its claims.
func (i *Issuer) Verify(s string) (*Claims, error) {
	var c Claims
	_, err := jwt.ParseWithClaims(s, &c, func(*jwt.Token) (any, error) { return &i.key.PublicKey, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodES256.Alg()}),
		jwt.WithIssuer(i.issuer),
		jwt.WithAudience(i.service),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(i.now),
	)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadBearer, err)
	}
	return &c, nil
}

// LoadOrCreateKey reads the ES256 signing key at path, creating it (mode
// 0600) the first time.
func LoadOrCreateKey(path string) (*ecdsa.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		der, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			return nil, err
		}
		pemBytes := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, fmt.Errorf("token signing key: %w", err)
		}
		if _, err := f.Write(pemBytes); err != nil {
			f.Close()
			return nil, fmt.Errorf("token signing key: %w", err)
		}
		if err := f.Close(); err != nil {
			return nil, fmt.Errorf("token signing key: %w", err)
		}
		return k, nil
	}
	if err != nil {
		return nil, fmt.Errorf("token signing key: %w", err)
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "EC PRIVATE KEY" {
		return nil, fmt.Errorf("token signing key %s: not a PEM EC PRIVATE KEY", path)
	}
	k, err := x509.ParseECPrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("token signing key %s: %w", path, err)
	}
	if k.Curve != elliptic.P256() {
		return nil, fmt.Errorf("token signing key %s: not a P-256 key (ES256)", path)
	}
	return k, nil
}
