package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestParseScope(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // "" for an error
	}{
		{"datasets/:pull,push", "datasets/:pull,push"},
		{":pull", ":pull"},
		{"*:admin", ":admin"},
		{"models/x:pull,pull", "models/x:pull"},
		{"models/", ""},
		{"models/:fly", ""},
		{"models/:", ""},
		{"mod els/:pull", ""},
		{"mo*:pull", ""},
	} {
		sc, err := ParseScope(tc.in)
		if tc.want == "" {
			if err == nil {
				t.Errorf("ParseScope(%q) = %v, want an error", tc.in, sc)
			}
			continue
		}
		if err != nil || sc.String() != tc.want {
			t.Errorf("ParseScope(%q) = %v, %v; want %s", tc.in, sc, err, tc.want)
		}
	}
}

func TestScopesAllow(t *testing.T) {
	ss, err := ParseScopes("datasets/:pull models/team/:push,delete ops/:admin")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		repo   string
		action Action
		want   bool
	}{
		{"datasets/a", Pull, true},
		{"datasets/a", Push, false},
		{"models/team/x", Push, true},
		{"models/team/x", Pull, false},
		{"models/other", Push, false},
		{"ops/x", Delete, true},
		{"ops/x", Pull, true},
		{"dataset", Pull, false},
	} {
		if got := ss.Allows(tc.repo, tc.action); got != tc.want {
			t.Errorf("Allows(%s, %s) = %v", tc.repo, tc.action, got)
		}
	}
	if back, _ := ParseScopes(ss.String()); back.String() != ss.String() {
		t.Errorf("scopes do not round-trip: %q", back.String())
	}
}

func TestNewToken(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	sc, _ := ParseScopes("datasets/:pull")
	secret, tok, err := NewToken("ana", sc, now, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, TokenPrefix) || len(secret) < 40 || strings.Contains(tok.ID, secret) {
		t.Fatalf("secret %q, token %+v", secret, tok)
	}
	if !SameHash(HashSecret(secret), tok.Hash) || SameHash(HashSecret(secret+"x"), tok.Hash) {
		t.Error("hash check")
	}
	if err := tok.Usable(now.Add(time.Hour)); err != nil {
		t.Errorf("fresh token unusable: %v", err)
	}
	if err := tok.Usable(now.Add(24 * time.Hour)); !errors.Is(err, ErrExpired) {
		t.Errorf("expired token: %v", err)
	}
	tok.RevokedAt = now
	if err := tok.Usable(now); !errors.Is(err, ErrRevoked) {
		t.Errorf("revoked token: %v", err)
	}
	other, _, _ := NewToken("ana", sc, now, 0)
	if other == secret {
		t.Error("two tokens share a secret")
	}
	for _, bad := range []string{"", "a b", "a:b"} {
		if _, _, err := NewToken(bad, sc, now, 0); err == nil {
			t.Errorf("user %q accepted", bad)
		}
	}
	if _, _, err := NewToken("ana", nil, now, 0); err == nil {
		t.Error("a token without scopes was made")
	}
}

func TestParseTTL(t *testing.T) {
	for in, want := range map[string]time.Duration{"": 0, "0": 0, "90d": 90 * 24 * time.Hour, "12h": 12 * time.Hour} {
		if got, err := ParseTTL(in); err != nil || got != want {
			t.Errorf("ParseTTL(%q) = %v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"d", "-1d", "1.5d", "soon", "-3h"} {
		if _, err := ParseTTL(bad); err == nil {
			t.Errorf("ParseTTL(%q) accepted", bad)
		}
	}
}

func newIssuer(t testing.TB) *Issuer {
	t.Helper()
	k, err := LoadOrCreateKey(filepath.Join(t.TempDir(), "token.key"))
	if err != nil {
		t.Fatal(err)
	}
	return NewIssuer(k, "cairn", "cairn.test", 5*time.Minute)
}

func TestBearer(t *testing.T) {
	iss := newIssuer(t)
	access := []Access{{Type: "repository", Name: "models/a", Actions: []string{"pull"}}}
	good, _, err := iss.Issue("ana", access)
	if err != nil {
		t.Fatal(err)
	}
	c, err := iss.Verify(good)
	if err != nil || c.Subject != "ana" || !c.Allows("models/a", Pull) || c.Allows("models/a", Push) || c.Allows("models/b", Pull) {
		t.Fatalf("good token: %+v, %v", c, err)
	}

	otherKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	forged, _, _ := NewIssuer(otherKey, "cairn", "cairn.test", time.Minute).Issue("ana", access)
	wrongAudience, _, _ := NewIssuer(iss.key, "cairn", "elsewhere", time.Minute).Issue("ana", access)
	wrongIssuer, _, _ := NewIssuer(iss.key, "someone", "cairn.test", time.Minute).Issue("ana", access)
	past := NewIssuer(iss.key, "cairn", "cairn.test", time.Minute)
	past.now = func() time.Time { return time.Now().Add(-time.Hour) }
	expired, _, _ := past.Issue("ana", access)
	claims := Claims{RegisteredClaims: jwt.RegisteredClaims{Issuer: "cairn", Subject: "ana", Audience: jwt.ClaimStrings{"cairn.test"}, ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour))}, Access: access}
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, claims).SignedString(jwt.UnsafeAllowNoneSignatureType)
	// Key confusion: HMAC keyed with the public key's bytes.
	pub, _ := x509.MarshalPKIXPublicKey(&iss.key.PublicKey)
	hmac, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(pub)
	noExpiry := claims
	noExpiry.ExpiresAt = nil
	unbounded, _ := jwt.NewWithClaims(jwt.SigningMethodES256, noExpiry).SignedString(iss.key)
	// Tampered: more access in the payload, the signature kept.
	parts := strings.Split(good, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	parts[1] = base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(payload), `"pull"`, `"pull","push"`, 1)))
	tampered := strings.Join(parts, ".")

	for name, tok := range map[string]string{
		"forged": forged, "wrong audience": wrongAudience, "wrong issuer": wrongIssuer, "expired": expired,
		"alg none": none, "re-signed with HS256": hmac, "no expiry": unbounded, "tampered": tampered,
		"empty": "", "garbage": "QQ==", "cairn api token": TokenPrefix + "abc",
	} {
		if c, err := iss.Verify(tok); err == nil || !errors.Is(err, ErrBadBearer) {
			t.Errorf("%s token accepted: %+v, %v", name, c, err)
		}
	}
}

func TestLoadOrCreateKey(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "token.key")
	k1, err := LoadOrCreateKey(p)
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(p)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v", fi.Mode())
	}
	k2, err := LoadOrCreateKey(p)
	if err != nil || !k1.Equal(k2) {
		t.Fatalf("the key changed on reload: %v", err)
	}
	_ = os.WriteFile(filepath.Join(dir, "bad.key"), []byte("nope"), 0o600)
	if _, err := LoadOrCreateKey(filepath.Join(dir, "bad.key")); err == nil {
		t.Error("garbage key accepted")
	}
}

func TestParseRegistryScope(t *testing.T) {
	a, err := ParseRegistryScope("repository:models/a:pull,push")
	if err != nil || a.Type != "repository" || a.Name != "models/a" || len(a.Actions) != 2 {
		t.Fatalf("%+v %v", a, err)
	}
	for _, bad := range []string{"", "repository", "repository:models", ":x:pull"} {
		if _, err := ParseRegistryScope(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// BenchmarkVerifyBearer measures the check of a bearer token on every
// request of the token flow.
func BenchmarkVerifyBearer(b *testing.B) {
	iss := newIssuer(b)
	tok, _, _ := iss.Issue("ana", []Access{{Type: "repository", Name: "models/a", Actions: []string{"pull"}}})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := iss.Verify(tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheckSecret measures hashing a presented API token and
// comparing it with a stored hash.
func BenchmarkCheckSecret(b *testing.B) {
	sc, _ := ParseScopes(":pull")
	secret, tok, _ := NewToken("ana", sc, time.Now(), 0)
	b.ReportAllocs()
	for b.Loop() {
		if !SameHash(HashSecret(secret), tok.Hash) {
			b.Fatal("mismatch")
		}
	}
}
