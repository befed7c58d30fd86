package facade

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/cairn-dev/cairn/registry"
)

// TestAccessMatrix asserts the answer of every route class to every kind
// of caller: anonymous, pull, push, delete, admin, owner and non-owner,
// a token scoped elsewhere, and bad credentials, over a public and a
// private repository.
func TestAccessMatrix(t *testing.T) {
	s, st := newAccessServer(t, registry.RepositoryRule{Prefix: "public/", Public: true})
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)

	basic := func(user, secret string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+secret))
	}
	tok := map[string]string{
		"puller":    basic("puller", issue(t, st, "puller", ":pull", time.Time{})),
		"owner":     basic("owner", issue(t, st, "owner", ":pull,push,delete", time.Time{})),
		"deleter":   basic("deleter", issue(t, st, "deleter", ":pull,delete", time.Time{})),
		"admin":     basic("admin", issue(t, st, "admin", ":admin", time.Time{})),
		"elsewhere": basic("elsewhere", issue(t, st, "elsewhere", "other/:pull,push,delete", time.Time{})),
		"expired":   basic("late", issue(t, st, "late", ":admin", time.Now().Add(-time.Minute))),
		"revoked":   basic("gone", issue(t, st, "gone", ":admin", time.Time{})),
		"anonymous": "",
		"qq":        "Bearer QQ==",
		"unknown":   "Bearer cairn_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"wrongUser": "",
		"forged":    "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9.",
	}
	tok["wrongUser"] = strings.Replace(tok["puller"], tok["puller"][6:], base64.StdEncoding.EncodeToString([]byte("admin:"+mustDecode(t, tok["puller"][6:])[len("puller:"):])), 1)
	tokens, err := st.Tokens(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range tokens {
		if x.User == "gone" {
			if err := st.RevokeToken(context.Background(), x.ID, time.Now()); err != nil {
				t.Fatal(err)
			}
		}
	}

	req := func(who, method, path string, body []byte, ct string) (int, string) {
		t.Helper()
		r, err := http.NewRequest(method, srv.URL+path, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if h := tok[who]; h != "" {
			r.Header.Set("Authorization", h)
		}
		if ct != "" {
			r.Header.Set("Content-Type", ct)
		}
		r.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json")
		res, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	// Content owned by "owner": a blob and a manifest in a public and a
	// private repository, and a spare manifest per destructive case.
	layer := []byte("layer bytes")
	dLayer := digest.FromBytes(layer)
	cfg := []byte("{}")
	manifest := func(n int) []byte {
		return []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.cairn.test.v1","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"%s","size":2},"layers":[{"mediaType":"application/octet-stream","digest":"%s","size":%d}],"annotations":{"n":"%d"}}`,
			digest.FromBytes(cfg), dLayer, len(layer), n))
	}
	put := func(who, repo, tag string, n int) (int, digest.Digest) {
		t.Helper()
		for _, b := range [][]byte{cfg, layer} {
			if code, _ := req(who, http.MethodPost, "/v2/"+repo+"/blobs/uploads/?digest="+digest.FromBytes(b).String(), b, "application/octet-stream"); code != http.StatusCreated {
				return code, ""
			}
		}
		m := manifest(n)
		code, _ := req(who, http.MethodPut, "/v2/"+repo+"/manifests/"+tag, m, "application/vnd.oci.image.manifest.v1+json")
		return code, digest.FromBytes(m)
	}
	var pub, priv digest.Digest
	for repo, d := range map[string]*digest.Digest{"public/a": &pub, "private/a": &priv} {
		code, got := put("owner", repo, "v1", 0)
		if code != http.StatusCreated {
			t.Fatalf("setup push to %s: %d", repo, code)
		}
		*d = got
	}
	spare := func(n int) digest.Digest {
		t.Helper()
		code, d := put("owner", "private/a", fmt.Sprintf("spare%d", n), n)
		if code != http.StatusCreated {
			t.Fatalf("setup spare %d: %d", n, code)
		}
		return d
	}
	m := func(repo string, d digest.Digest) string { return "/v2/" + repo + "/manifests/" + d.String() }
	b := func(repo string) string { return "/v2/" + repo + "/blobs/" + dLayer.String() }
	spareDeleter, spareAdmin, spareOwner := spare(1), spare(2), spare(3)

	for i, tc := range []struct {
		who, method, path string
		want              int
		put               int // > 0: push manifest n through put instead
		repo              string
	}{
		// Anonymous callers: public reads only; everything else is the
		// challenge that tells clients to log in.
		{"anonymous", "GET", "/v2/", 401, 0, ""},
		{"anonymous", "GET", "/v2/_catalog", 200, 0, ""},
		{"anonymous", "GET", m("private/a", priv), 401, 0, ""},
		{"anonymous", "HEAD", m("private/a", priv), 401, 0, ""},
		{"anonymous", "GET", m("public/a", pub), 200, 0, ""},
		{"anonymous", "HEAD", m("public/a", pub), 200, 0, ""},
		{"anonymous", "GET", b("private/a"), 401, 0, ""},
		{"anonymous", "GET", b("public/a"), 200, 0, ""},
		{"anonymous", "HEAD", b("public/a"), 200, 0, ""},
		{"anonymous", "GET", "/v2/private/a/tags/list", 401, 0, ""},
		{"anonymous", "GET", "/v2/public/a/tags/list", 200, 0, ""},
		{"anonymous", "GET", "/v2/private/a/referrers/" + priv.String(), 401, 0, ""},
		{"anonymous", "GET", "/v2/public/a/referrers/" + pub.String(), 200, 0, ""},
		{"anonymous", "POST", "/v2/public/a/blobs/uploads/", 401, 0, ""},
		{"anonymous", "DELETE", m("public/a", pub), 401, 0, ""},
		{"anonymous", "", "", 401, 10, "public/b"},
		{"anonymous", "GET", "/api/v1/artifacts", 200, 0, ""}, // what is public
		{"anonymous", "GET", "/api/v1/tokens", 401, 0, ""},
		{"anonymous", "GET", "/auth/token?service=cairn&scope=repository:public/a:pull", 200, 0, ""},
		// The content-id tools' bearer is anonymous.
		{"qq", "GET", b("public/a"), 200, 0, ""},
		{"qq", "GET", m("private/a", priv), 401, 0, ""},
		// Pull everywhere: reads, no writes.
		{"puller", "GET", "/v2/", 200, 0, ""},
		{"puller", "GET", m("private/a", priv), 200, 0, ""},
		{"puller", "GET", b("private/a"), 200, 0, ""},
		{"puller", "GET", "/v2/private/a/tags/list", 200, 0, ""},
		{"puller", "POST", "/v2/private/a/blobs/uploads/", 403, 0, ""},
		{"puller", "", "", 403, 11, "private/a"},
		{"puller", "DELETE", m("private/a", priv), 403, 0, ""},
		{"puller", "DELETE", b("private/a"), 403, 0, ""},
		{"puller", "GET", "/api/v1/artifacts", 200, 0, ""},
		{"puller", "GET", "/api/v1/tokens", 403, 0, ""},
		// Owner: pushes and deletes what it pushed.
		{"owner", "POST", "/v2/private/a/blobs/uploads/", 202, 0, ""},
		{"owner", "", "", 201, 12, "private/new"},
		{"owner", "DELETE", m("private/a", spareOwner), 202, 0, ""},
		// Delete scope without ownership: refused; the admin may.
		{"deleter", "DELETE", m("private/a", spareDeleter), 403, 0, ""},
		{"deleter", "", "", 403, 13, "private/a"},
		{"admin", "DELETE", m("private/a", spareAdmin), 202, 0, ""},
		{"admin", "", "", 201, 14, "private/admin"},
		{"admin", "GET", "/api/v1/tokens", 200, 0, ""},
		// Scoped elsewhere: private repositories are not there.
		{"elsewhere", "GET", m("private/a", priv), 404, 0, ""},
		{"elsewhere", "HEAD", m("private/a", priv), 404, 0, ""},
		{"elsewhere", "GET", b("private/a"), 404, 0, ""},
		{"elsewhere", "GET", "/v2/private/a/tags/list", 404, 0, ""},
		{"elsewhere", "GET", m("public/a", pub), 200, 0, ""},
		{"elsewhere", "", "", 403, 15, "private/a"},
		{"elsewhere", "", "", 201, 16, "other/x"},
		{"elsewhere", "GET", "/api/v1/artifacts", 200, 0, ""}, // public and their own
		// Bad credentials.
		{"unknown", "GET", m("public/a", pub), 401, 0, ""},
		{"expired", "GET", m("private/a", priv), 401, 0, ""},
		{"revoked", "GET", m("private/a", priv), 401, 0, ""},
		{"wrongUser", "GET", m("private/a", priv), 401, 0, ""},
		{"forged", "GET", m("private/a", priv), 401, 0, ""},
		{"unknown", "GET", "/api/v1/artifacts", 401, 0, ""},
	} {
		name := fmt.Sprintf("%02d %s %s %s", i, tc.who, tc.method, tc.path)
		if tc.put > 0 {
			name = fmt.Sprintf("%02d %s push to %s", i, tc.who, tc.repo)
		}
		t.Run(name, func(t *testing.T) {
			var code int
			var body string
			if tc.put > 0 {
				code, _ = put(tc.who, tc.repo, "t", tc.put)
			} else {
				code, body = req(tc.who, tc.method, tc.path, nil, "")
			}
			if code != tc.want {
				t.Errorf("%d, want %d: %s", code, tc.want, body)
			}
		})
	}

	// What anonymous callers and a caller scoped elsewhere may list.
	if _, body := req("anonymous", "GET", "/v2/_catalog", nil, ""); strings.Contains(body, "private/") || !strings.Contains(body, "public/a") {
		t.Errorf("anonymous _catalog: %s", body)
	}
	if _, body := req("elsewhere", "GET", "/v2/_catalog", nil, ""); strings.Contains(body, "private/") {
		t.Errorf("_catalog of a caller scoped elsewhere: %s", body)
	}
	for _, who := range []string{"anonymous", "elsewhere"} {
		if _, body := req(who, "GET", "/api/v1/artifacts", nil, ""); strings.Contains(body, "private/") || !strings.Contains(body, "public/a") {
			t.Errorf("%s: the catalog lists %s", who, body)
		}
	}
}

func mustDecode(t *testing.T, s string) string {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
