package client

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestPromote checks the request Promote sends (method, path, target,
// token) and how the server's answers come back.
func TestPromote(t *testing.T) {
	const ref = "datasets/a@sha256:3b1c7e0000000000000000000000000000000000000000000000000000000000"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method != http.MethodPost || r.URL.Path != "/api/v1/artifacts/"+ref+"/promote":
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"error":{"code":"NOT_FOUND","message":"wrong request `+r.Method+` `+r.URL.Path+`"}}`)
		case r.Header.Get("Authorization") != "Bearer cairn_tok":
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"error":{"code":"UNAUTHORIZED","message":"log in"}}`)
		case r.URL.Query().Get("to") == "private":
			w.WriteHeader(http.StatusConflict)
			_, _ = io.WriteString(w, `{"error":{"code":"CONFLICT","message":"visibility only moves up"}}`)
		default:
			_, _ = io.WriteString(w, `{"repository":"datasets/a","digest":"sha256:3b1c7e0000000000000000000000000000000000000000000000000000000000","visibility":"`+r.URL.Query().Get("to")+`","changed":["`+ref+`"]}`)
		}
	}))
	t.Cleanup(srv.Close)
	ctx := context.Background()
	c, err := New(srv.URL, WithAPIToken("cairn_tok"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.Promote(ctx, ref, "public")
	if err != nil || p.Visibility != "public" || len(p.Changed) != 1 || p.Repository != "datasets/a" {
		t.Errorf("Promote = %+v, %v", p, err)
	}
	if _, err := c.Promote(ctx, ref, "private"); !HasCode(err, CodeConflict) || !strings.Contains(err.Error(), "only moves up") {
		t.Errorf("demotion: %v", err)
	}
	anon, _ := New(srv.URL)
	if _, err := anon.Promote(ctx, ref, "public"); !HasCode(err, CodeUnauthorized) {
		t.Errorf("without a token: %v", err)
	}
	for _, bad := range []string{"", "a@sha256:x?to=public", "a b"} {
		if _, err := c.Promote(ctx, bad, "public"); err == nil {
			t.Errorf("Promote(%q): no error", bad)
		}
	}
}
