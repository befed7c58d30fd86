package storetest

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/catalog"
)

func testTokens(t *testing.T, s catalog.Store) {
	ctx := t.Context()
	if ts, err := s.Tokens(ctx); err != nil || len(ts) != 0 {
		t.Fatalf("Tokens of an empty store = %v, %v", ts, err)
	}
	a := catalog.Token{ID: "a1", User: "ana", Scopes: "datasets/:pull", Hash: bytes.Repeat([]byte{1}, 32), CreatedAt: at(0)}
	b := catalog.Token{ID: "b2", User: "ben", Scopes: ":admin", Hash: bytes.Repeat([]byte{2}, 32), CreatedAt: at(1), ExpiresAt: at(100)}
	for _, tok := range []catalog.Token{a, b} {
		if err := s.CreateToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	// A second token with a hash already stored is refused.
	if err := s.CreateToken(ctx, catalog.Token{ID: "c3", User: "eve", Scopes: ":admin", Hash: a.Hash, CreatedAt: at(2)}); err == nil {
		t.Error("a token with another's hash was stored")
	}
	same := func(got, want catalog.Token) {
		t.Helper()
		norm := func(x time.Time) time.Time { return x.Truncate(time.Microsecond).UTC() }
		if got.ID != want.ID || got.User != want.User || got.Scopes != want.Scopes || !bytes.Equal(got.Hash, want.Hash) ||
			!got.CreatedAt.Equal(norm(want.CreatedAt)) || !got.ExpiresAt.Equal(norm(want.ExpiresAt)) ||
			!got.LastUsedAt.Equal(norm(want.LastUsedAt)) || !got.RevokedAt.Equal(norm(want.RevokedAt)) {
			t.Errorf("token\n got %+v\nwant %+v", got, want)
		}
		if got.CreatedAt.Location() != time.UTC {
			t.Errorf("token %s: created_at not in UTC", got.ID)
		}
	}
	got, err := s.TokenByHash(ctx, b.Hash)
	if err != nil {
		t.Fatal(err)
	}
	same(got, b)
	if _, err := s.TokenByHash(ctx, bytes.Repeat([]byte{9}, 32)); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("unknown hash: %v, want ErrNotFound", err)
	}

	if err := s.TouchToken(ctx, a.ID, at(5)); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeToken(ctx, a.ID, at(6)); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeToken(ctx, a.ID, at(7)); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeToken(ctx, "nope", at(7)); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("revoking an unknown token: %v", err)
	}
	a.LastUsedAt, a.RevokedAt = at(5), at(6)
	ts, err := s.Tokens(ctx)
	if err != nil || len(ts) != 2 {
		t.Fatalf("Tokens = %v, %v", ts, err)
	}
	same(ts[0], a)
	same(ts[1], b)
}

func testOwners(t *testing.T, s catalog.Store) {
	ctx := t.Context()
	m := image("models/a", "owned", at(0))
	m.Owner = "ana"
	if err := s.IndexPush(ctx, m, "v1", 0); err != nil {
		t.Fatal(err)
	}
	// A re-push by someone else keeps the first owner.
	m.Owner = "ben"
	if err := s.IndexPush(ctx, m, "v2", 0); err != nil {
		t.Fatal(err)
	}
	if o, _, err := s.Ownership(ctx, m.Repository, m.Digest); err != nil || o != "ana" {
		t.Errorf("Owner = %q, %v; want ana", o, err)
	}
	unowned := image("models/a", "unowned", at(1))
	put(t, s, unowned)
	if o, _, err := s.Ownership(ctx, unowned.Repository, unowned.Digest); err != nil || o != "" {
		t.Errorf("Owner of a manifest pushed without access control = %q, %v", o, err)
	}
	if _, _, err := s.Ownership(ctx, "models/a", dg("nothing")); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("Owner of a missing manifest: %v", err)
	}
	// The record goes with the manifest.
	if err := s.DeleteManifest(ctx, m.Repository, m.Digest); err != nil {
		t.Fatal(err)
	}
	m.Owner = ""
	put(t, s, m)
	if o, _, err := s.Ownership(ctx, m.Repository, m.Digest); err != nil || o != "" {
		t.Errorf("Owner after delete and re-push = %q, %v", o, err)
	}
}
