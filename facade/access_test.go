package facade

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/cairn-dev/cairn/auth"
	"github.com/cairn-dev/cairn/backend/embedded"
	"github.com/cairn-dev/cairn/catalog"
	"github.com/cairn-dev/cairn/catalog/sqlite"
	"github.com/cairn-dev/cairn/registry"
)

// newAccessServer is a façade with access control over a real engine and
// SQLite catalog, with the visibility rules given.
func newAccessServer(tb testing.TB, rules ...registry.RepositoryRule) (*Server, catalog.Store) {
	tb.Helper()
	ctx := context.Background()
	dir := tb.TempDir()
	eng, err := embedded.New(ctx, zap.NewNop(), embedded.Config{DataDir: filepath.Join(dir, "data")})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = eng.Close() })
	st, err := sqlite.Open(ctx, filepath.Join(dir, "catalog.db"), sqlite.InMemoryIndex())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = st.Close() })
	key, err := auth.LoadOrCreateKey(filepath.Join(dir, "token.key"))
	if err != nil {
		tb.Fatal(err)
	}
	core, err := registry.New(zap.NewNop(), eng, st, registry.WithPolicy(&registry.AccessPolicy{Rules: rules}))
	if err != nil {
		tb.Fatal(err)
	}
	s, err := New(zap.NewNop(), core, eng, st, WithAuthenticator(&Authenticator{
		Issuer: auth.NewIssuer(key, "cairn", "cairn", 5*time.Minute), Realm: "http://cairn.test/auth/token", Service: "cairn", TokenTTL: 5 * time.Minute,
	}))
	if err != nil {
		tb.Fatal(err)
	}
	return s, st
}

// issue stores a token for user with scopes, expiring at expires (zero:
// never), and returns its secret.
func issue(tb testing.TB, st catalog.Store, user, scopes string, expires time.Time) string {
	tb.Helper()
	ss, err := auth.ParseScopes(scopes)
	if err != nil {
		tb.Fatal(err)
	}
	secret, tok, err := auth.NewToken(user, ss, time.Now().Add(-time.Hour), 0)
	if err != nil {
		tb.Fatal(err)
	}
	if err := st.CreateToken(context.Background(), catalog.Token{ID: tok.ID, User: tok.User, Scopes: tok.Scopes.String(), Hash: tok.Hash, CreatedAt: tok.CreatedAt, ExpiresAt: expires}); err != nil {
		tb.Fatal(err)
	}
	return secret
}

// accessServer is newAccessServer with an API token of user ana.
func accessServer(tb testing.TB) (*Server, string) {
	s, st := newAccessServer(tb)
	return s, issue(tb, st, "ana", "models/:pull", time.Time{})
}

// BenchmarkCredentialCheck measures reading a request's credentials, after
// a thousand wrong tokens: an API token (basic), a bearer token of the
// token flow, and a wrong token.
func BenchmarkCredentialCheck(b *testing.B) {
	s, secret := accessServer(b)
	bearer, _, err := s.authn.Issuer.Issue("ana", []auth.Access{{Type: "repository", Name: "models/a", Actions: []string{"pull"}}})
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < 1000; i++ {
		r := httptest.NewRequest("GET", "/v2/models/a/manifests/v1", nil)
		r.Header.Set("Authorization", fmt.Sprintf("Bearer cairn_wrong%d", i))
		if _, err := s.principalOf(r); err == nil {
			b.Fatal("a wrong token was accepted")
		}
	}
	for _, tc := range []struct{ name, header string }{
		{"api-token", "Basic " + base64.StdEncoding.EncodeToString([]byte("ana:"+secret))},
		{"bearer", "Bearer " + bearer},
		{"wrong-token", "Bearer cairn_wrong"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			r := httptest.NewRequest("GET", "/v2/models/a/manifests/v1", nil)
			r.Header.Set("Authorization", tc.header)
			b.ReportAllocs()
			for b.Loop() {
				p, err := s.principalOf(r)
				if (err == nil) != (tc.name != "wrong-token") || (err == nil && p.User != "ana") {
					b.Fatalf("%+v %v", p, err)
				}
			}
		})
	}
}
