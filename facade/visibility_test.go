package facade

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	"go.uber.org/zap"

	"github.com/cairn-dev/cairn/api"
	"github.com/cairn-dev/cairn/backend"
	"github.com/cairn-dev/cairn/catalog"
	"github.com/cairn-dev/cairn/registry"
)

// visibilityFixture is a server where stage/ pushes start staged and
// public/ is public, with one artifact of owner's in every state.
type visibilityFixture struct {
	t   *testing.T
	s   *Server
	srv *httptest.Server
	st  catalog.Store
	tok map[string]string // caller → Authorization header
}

func newVisibilityFixture(t *testing.T) *visibilityFixture {
	s, st := newAccessServer(t,
		registry.RepositoryRule{Prefix: "public/", Public: true},
		registry.RepositoryRule{Prefix: "stage/", Staging: true},
		registry.RepositoryRule{Prefix: "public/stage/", Public: true, Staging: true},
	)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	basic := func(user, scope string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+issue(t, st, user, scope, time.Time{})))
	}
	return &visibilityFixture{t: t, s: s, srv: srv, st: st, tok: map[string]string{
		"owner":     basic("owner", ":pull,push,delete"),
		"colleague": basic("colleague", ":pull,push,delete"),
		"admin":     basic("admin", ":admin"),
		"elsewhere": basic("elsewhere", "other/:pull,push"),
		"anonymous": "",
		"qq":        "Bearer QQ==",
	}}
}

func (f *visibilityFixture) do(who, method, path string, body []byte, ct string) (int, http.Header, string) {
	f.t.Helper()
	r, err := http.NewRequest(method, f.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		f.t.Fatal(err)
	}
	if h := f.tok[who]; h != "" {
		r.Header.Set("Authorization", h)
	}
	if ct != "" {
		r.Header.Set("Content-Type", ct)
	}
	r.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json")
	res, err := http.DefaultClient.Do(r)
	if err != nil {
		f.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, string(b)
}

// artifact is one pushed manifest and its own layer.
type artifact struct {
	repo, tag     string
	digest, layer digest.Digest
}

// push uploads a manifest with a layer of its own (and subject, when
// given) as who.
func (f *visibilityFixture) push(who, repo, tag, artifactType string, subject *artifact) artifact {
	f.t.Helper()
	layer := []byte("layer of " + repo + ":" + tag)
	cfg := []byte("{}")
	for _, b := range [][]byte{cfg, layer} {
		if code, _, body := f.do(who, http.MethodPost, "/v2/"+repo+"/blobs/uploads/?digest="+digest.FromBytes(b).String(), b, "application/octet-stream"); code != http.StatusCreated {
			f.t.Fatalf("blob upload to %s as %s: %d %s", repo, who, code, body)
		}
	}
	subj := ""
	if subject != nil {
		subj = fmt.Sprintf(`,"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":1}`, subject.digest)
	}
	m := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":%q,"config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"%s","size":2},"layers":[{"mediaType":"application/octet-stream","digest":"%s","size":%d}]%s}`,
		artifactType, digest.FromBytes(cfg), digest.FromBytes(layer), len(layer), subj))
	if code, _, body := f.do(who, http.MethodPut, "/v2/"+repo+"/manifests/"+tag, m, "application/vnd.oci.image.manifest.v1+json"); code != http.StatusCreated {
		f.t.Fatalf("manifest push to %s:%s as %s: %d %s", repo, tag, who, code, body)
	}
	return artifact{repo: repo, tag: tag, digest: digest.FromBytes(m), layer: digest.FromBytes(layer)}
}

func (f *visibilityFixture) promote(who string, a artifact, to string) (int, string) {
	f.t.Helper()
	code, _, body := f.do(who, http.MethodPost, "/api/v1/artifacts/"+a.repo+"@"+a.digest.String()+"/promote?to="+to, nil, "")
	return code, body
}

// TestVisibilityMatrix asserts what every kind of caller gets from every
// read route for an artifact in each state: staged, private, unlisted,
// public. Hidden artifacts answer as missing ones do.
func TestVisibilityMatrix(t *testing.T) {
	f := newVisibilityFixture(t)
	arts := map[string]artifact{}
	for _, state := range []string{"staged", "private", "unlisted", "public"} {
		a := f.push("owner", "stage/a", state, "application/vnd.cairn.test.v1", nil)
		if state != "staged" {
			if code, body := f.promote("owner", a, state); code != http.StatusOK {
				t.Fatalf("promote to %s: %d %s", state, code, body)
			}
		}
		arts[state] = a
	}
	// Who sees what: by digest, and in lists (by tag, listings).
	seesByDigest := func(who, state string) bool {
		switch who {
		case "owner", "admin":
			return true
		case "colleague":
			return state != "staged"
		}
		return state == "public" || state == "unlisted"
	}
	listed := func(who, state string) bool {
		if state == "unlisted" && who != "owner" && who != "admin" && who != "colleague" {
			return false
		}
		return seesByDigest(who, state)
	}
	// What a hidden read answers: callers with no name are asked to log
	// in (stage/ is not public); the others get the 404 of a repository
	// they may not read, or of an artifact not in one they may.
	hiddenCode := func(who string) int {
		if who == "anonymous" || who == "qq" {
			return http.StatusUnauthorized
		}
		return http.StatusNotFound
	}

	type route struct {
		name   string
		listed bool // a listing or a read by tag: unlisted is hidden there
		check  func(a artifact, who string) (visible bool, detail string)
	}
	status := func(method, path string) func(a artifact, who string) (bool, string) {
		return func(a artifact, who string) (bool, string) {
			code, h, body := f.do(who, method, strings.NewReplacer("{d}", a.digest.String(), "{l}", a.layer.String(), "{tag}", a.tag, "{hex}", a.layer.Encoded()).Replace(path), nil, "")
			switch code {
			case http.StatusOK, http.StatusTemporaryRedirect:
				return true, h.Get(VisibilityHeader)
			case hiddenCode(who):
				return false, ""
			}
			if strings.HasPrefix(path, "/api/") || strings.HasPrefix(path, "/resolve/") {
				if code == http.StatusNotFound {
					return false, "" // the catalog API's 404 for anyone
				}
			}
			return false, fmt.Sprintf("unexpected %d %s", code, body)
		}
	}
	contains := func(path string, want func(a artifact) string) func(a artifact, who string) (bool, string) {
		return func(a artifact, who string) (bool, string) {
			code, _, body := f.do(who, http.MethodGet, path, nil, "")
			if code != http.StatusOK && code != hiddenCode(who) {
				return false, fmt.Sprintf("unexpected %d %s", code, body)
			}
			return code == http.StatusOK && strings.Contains(body, want(a)), ""
		}
	}
	routes := []route{
		{"GET manifest by digest", false, status("GET", "/v2/stage/a/manifests/{d}")},
		{"HEAD manifest by digest", false, status("HEAD", "/v2/stage/a/manifests/{d}")},
		{"GET blob", false, status("GET", "/v2/stage/a/blobs/{l}")},
		{"HEAD blob", false, status("HEAD", "/v2/stage/a/blobs/{l}")},
		{"GET artifact API", false, status("GET", "/api/v1/artifacts/stage/a@{d}")},
		{"resolve hash://", false, status("GET", "/resolve/hash://sha256/{hex}")},
		{"GET manifest by tag", true, status("GET", "/v2/stage/a/manifests/{tag}")},
		{"tags list", true, contains("/v2/stage/a/tags/list", func(a artifact) string { return `"` + a.tag + `"` })},
		{"artifacts API", true, contains("/api/v1/artifacts?repository=stage/a", func(a artifact) string { return a.digest.String() })},
		{"blob uses API", true, status("GET", "/api/v1/blobs/{l}")},
		{"lineage API by tag", true, status("GET", "/api/v1/lineage/stage/a:{tag}")},
	}
	n := 0
	for _, rt := range routes {
		for _, state := range []string{"staged", "private", "unlisted", "public"} {
			for _, who := range []string{"owner", "colleague", "admin", "elsewhere", "anonymous", "qq"} {
				want := seesByDigest(who, state)
				if rt.listed {
					want = listed(who, state)
				}
				n++
				t.Run(fmt.Sprintf("%s/%s/%s", rt.name, state, who), func(t *testing.T) {
					got, detail := rt.check(arts[state], who)
					if strings.HasPrefix(detail, "unexpected") {
						t.Fatal(detail)
					}
					if got != want {
						t.Errorf("visible = %v, want %v", got, want)
					}
					if got && strings.HasPrefix(rt.name, "HEAD") && detail != state {
						t.Errorf("%s = %q, want %q", VisibilityHeader, detail, state)
					}
				})
			}
		}
	}
	if n < 40 {
		t.Fatalf("only %d cases", n)
	}

	// _catalog and the repositories API list stage/a to those who see
	// something there (everyone: the public artifact).
	for _, who := range []string{"anonymous", "elsewhere"} {
		if _, _, body := f.do(who, "GET", "/v2/_catalog", nil, ""); !strings.Contains(body, "stage/a") {
			t.Errorf("_catalog for %s: %s", who, body)
		}
		_, _, body := f.do(who, "GET", "/api/v1/repositories", nil, "")
		var ans api.RepositoryPage
		if err := json.Unmarshal([]byte(body), &ans); err != nil || len(ans.Repositories) != 1 || ans.Repositories[0].Artifacts != 1 {
			t.Errorf("repositories for %s count what they cannot see: %s", who, body)
		}
	}
}

// TestVisibilityStagedRepository checks that a repository holding only
// staged content is not listed, or readable, to anyone but its owner and
// admins.
func TestVisibilityStagedRepository(t *testing.T) {
	f := newVisibilityFixture(t)
	a := f.push("owner", "public/stage/new", "v1", "application/vnd.cairn.test.v1", nil)
	for _, who := range []string{"anonymous", "elsewhere", "colleague"} {
		if _, _, body := f.do(who, "GET", "/v2/_catalog", nil, ""); strings.Contains(body, "public/stage/new") && who != "colleague" {
			t.Errorf("_catalog for %s lists a repository of staged content: %s", who, body)
		}
		// Anonymous callers are challenged, so that a client holding
		// credentials sends them; the others get a plain 404.
		want, wantCode := http.StatusNotFound, "MANIFEST_UNKNOWN"
		if who == "anonymous" {
			want, wantCode = http.StatusUnauthorized, "UNAUTHORIZED"
		}
		if code, _, body := f.do(who, "GET", "/v2/public/stage/new/manifests/v1", nil, ""); code != want || !strings.Contains(body, wantCode) {
			t.Errorf("%s reads a staged manifest of a public repository: %d %s", who, code, body)
		}
		if code, _, body := f.do(who, "GET", "/v2/public/stage/new/tags/list", nil, ""); code != http.StatusOK || strings.Contains(body, "v1") {
			t.Errorf("%s lists a staged tag: %d %s", who, code, body)
		}
	}
	if code, _, _ := f.do("owner", "GET", "/v2/public/stage/new/manifests/v1", nil, ""); code != http.StatusOK {
		t.Errorf("the owner cannot read what they pushed: %d", code)
	}
	if code, body := f.promote("owner", a, "public"); code != http.StatusOK {
		t.Fatalf("promote: %d %s", code, body)
	}
	for _, who := range []string{"anonymous", "qq"} {
		if code, h, body := f.do(who, "GET", "/v2/public/stage/new/blobs/"+a.layer.String(), nil, ""); code != http.StatusOK || h.Get(VisibilityHeader) != "public" || !strings.HasPrefix(body, "layer of") {
			t.Errorf("%s after promotion: %d %q %s", who, code, h.Get(VisibilityHeader), body)
		}
	}
}

// TestPromote checks who may promote, the ladder (never down), the
// answers to bad requests, and that signatures and attachments move
// with their subject.
func TestPromote(t *testing.T) {
	f := newVisibilityFixture(t)
	a := f.push("owner", "stage/p", "v1", "application/vnd.cairn.test.v1", nil)
	sig := f.push("owner", "stage/p", "sig", "application/vnd.dev.cosign.artifact.sig.v1+json", &a)
	sbom := f.push("owner", "stage/p", "sbom", "application/spdx+json", &a)
	derived := f.push("owner", "stage/p", "derived", "application/vnd.cairn.test.v1", &a)
	colleagues := f.push("colleague", "stage/p", "theirs", "application/vnd.cairn.test.v1", nil)
	path := func(x artifact) string { return "/api/v1/artifacts/" + x.repo + "@" + x.digest.String() + "/promote" }

	for i, tc := range []struct {
		who, path, query, body string
		want                   int
		code                   string
	}{
		{"anonymous", path(a), "?to=public", "", 401, "UNAUTHORIZED"},
		{"qq", path(a), "?to=public", "", 401, "UNAUTHORIZED"},
		{"colleague", path(a), "?to=public", "", 404, "NOT_FOUND"}, // staged: not theirs to see
		{"elsewhere", path(a), "?to=public", "", 404, "NOT_FOUND"},
		{"owner", path(a), "", "", 400, "INVALID_PARAMETER"},
		{"owner", path(a), "?to=staged", "", 400, "INVALID_PARAMETER"},
		{"owner", path(a), "?to=everyone", "", 400, "INVALID_PARAMETER"},
		{"owner", path(a), "?to=public", `{"to":"unlisted"}`, 400, "INVALID_PARAMETER"},
		{"owner", path(a), "", `{"to":"public","why":1}`, 400, "INVALID_PARAMETER"},
		{"owner", path(a), "", `not json`, 400, "INVALID_PARAMETER"},
		{"owner", path(a), "", `{"to":"` + strings.Repeat("x", 5000) + `"}`, 413, "TOO_LARGE"},
		{"owner", path(a), "?to=public&x=1", "", 400, "INVALID_PARAMETER"},
		{"owner", "/api/v1/artifacts/stage/p@sha256:" + strings.Repeat("0", 64) + "/promote", "?to=public", "", 404, "NOT_FOUND"},
		{"owner", "/api/v1/artifacts/Stage/P@sha256:00/promote", "?to=public", "", 400, "INVALID_PARAMETER"},
		{"owner", "/api/v1/artifacts/stage/p@" + a.digest.String() + "/demote", "?to=public", "", 404, "NOT_FOUND"},
		{"owner", path(a), "", `{"to":"private"}`, 200, ""},
		{"colleague", path(a), "?to=public", "", 403, "DENIED"}, // now seen, still not theirs
		{"owner", path(a), "?to=private", "", 200, ""},          // where it is: no change
		{"owner", path(a), "?to=unlisted", "", 200, ""},
		{"owner", path(a), "?to=private", "", 409, "CONFLICT"},
		{"owner", path(colleagues), "?to=public", "", 404, "NOT_FOUND"},
		{"admin", path(colleagues), "?to=public", "", 200, ""},
		{"colleague", path(colleagues), "?to=unlisted", "", 409, "CONFLICT"},
	} {
		t.Run(fmt.Sprintf("%02d %s %s%s %s", i, tc.who, strings.TrimPrefix(tc.path, "/api/v1/artifacts/"), tc.query, tc.body), func(t *testing.T) {
			code, _, body := f.do(tc.who, http.MethodPost, tc.path+tc.query, []byte(tc.body), "application/json")
			if code != tc.want || (tc.code != "" && !strings.Contains(body, `"`+tc.code+`"`)) {
				t.Errorf("%d %s, want %d %s", code, body, tc.want, tc.code)
			}
		})
	}

	// The promotions above moved the signature and SBOM with it; the
	// derived artifact is an artifact of its own and stays staged.
	for x, want := range map[artifact]catalog.Visibility{a: catalog.Unlisted, sig: catalog.Unlisted, sbom: catalog.Unlisted, derived: catalog.Staged} {
		if _, vis, err := f.st.Ownership(t.Context(), x.repo, x.digest); err != nil || vis != want {
			t.Errorf("%s: %q %v, want %q", x.tag, vis, err, want)
		}
	}
	// Referrers of the unlisted artifact, to a caller who names it: the
	// signature and SBOM, not the staged derived artifact.
	code, _, body := f.do("anonymous", http.MethodGet, "/v2/stage/p/referrers/"+a.digest.String(), nil, "")
	if code != http.StatusOK || !strings.Contains(body, sig.digest.String()) || !strings.Contains(body, sbom.digest.String()) || strings.Contains(body, derived.digest.String()) {
		t.Errorf("anonymous referrers of an unlisted artifact: %d %s", code, body)
	}
	// Demotion is refused, and the data is untouched.
	if code, body := f.promote("owner", a, "private"); code != http.StatusConflict || !strings.Contains(body, "only moves up") {
		t.Errorf("demotion: %d %s", code, body)
	}
	if _, vis, _ := f.st.Ownership(t.Context(), a.repo, a.digest); vis != catalog.Unlisted {
		t.Errorf("a refused demotion changed the state to %q", vis)
	}
	// A signature pushed by the owner after promotion takes its
	// subject's state; one pushed by someone else starts staged.
	late := f.push("owner", "stage/p", "late-sig", "application/vnd.dev.cosign.artifact.sig.v1+json", &a)
	other := f.push("colleague", "stage/p", "other-sig", "application/vnd.dev.cosign.artifact.sig.v1+json", &a)
	for x, want := range map[artifact]catalog.Visibility{late: catalog.Unlisted, other: catalog.Staged} {
		if _, vis, err := f.st.Ownership(t.Context(), x.repo, x.digest); err != nil || vis != want {
			t.Errorf("%s: %q %v, want %q", x.tag, vis, err, want)
		}
	}
}

// TestHiddenDelete checks that deleting an artifact the caller cannot see
// answers as for a missing one, and that a visible one of another owner
// is refused by name.
func TestHiddenDelete(t *testing.T) {
	f := newVisibilityFixture(t)
	a := f.push("owner", "stage/d", "v1", "application/vnd.cairn.test.v1", nil)
	if code, _, body := f.do("colleague", http.MethodDelete, "/v2/stage/d/manifests/"+a.digest.String(), nil, ""); code != http.StatusNotFound || !strings.Contains(body, "MANIFEST_UNKNOWN") || strings.Contains(body, "owner") {
		t.Errorf("delete of a staged artifact by a colleague: %d %s", code, body)
	}
	if code, body := f.promote("owner", a, "private"); code != http.StatusOK {
		t.Fatalf("promote: %d %s", code, body)
	}
	if code, _, body := f.do("colleague", http.MethodDelete, "/v2/stage/d/manifests/"+a.digest.String(), nil, ""); code != http.StatusForbidden || !strings.Contains(body, "belongs to owner") {
		t.Errorf("delete of a private artifact by a colleague: %d %s", code, body)
	}
	if code, _, _ := f.do("owner", http.MethodGet, "/v2/stage/d/manifests/"+a.digest.String(), nil, ""); code != http.StatusOK {
		t.Errorf("refused deletes lost the artifact: %d", code)
	}
}

// TestBearerScope checks that a bearer token of the token flow is good
// for the repository and actions it was issued for only: not another
// repository (which reads as missing), not a push or delete where it
// holds pull, and not once tampered with.
func TestBearerScope(t *testing.T) {
	f := newVisibilityFixture(t)
	a := f.push("owner", "stage/a", "v1", "application/vnd.cairn.test.v1", nil)
	b := f.push("owner", "stage/b", "v1", "application/vnd.cairn.test.v1", nil)
	for _, x := range []artifact{a, b} {
		if code, body := f.promote("owner", x, "private"); code != http.StatusOK {
			t.Fatalf("promote: %d %s", code, body)
		}
	}
	// The colleague may pull, push and delete everywhere, but asks for
	// pull on stage/a only.
	code, _, body := f.do("colleague", http.MethodGet, "/auth/token?service=cairn&scope=repository:stage/a:pull", nil, "")
	var tok struct{ Token string }
	if code != http.StatusOK || json.Unmarshal([]byte(body), &tok) != nil || tok.Token == "" {
		t.Fatalf("token: %d %s", code, body)
	}
	f.tok["bearer"] = "Bearer " + tok.Token
	parts := strings.Split(tok.Token, ".")
	claims, _ := base64.RawURLEncoding.DecodeString(parts[1])
	widened := strings.Replace(string(claims), `"stage/a"`, `"stage/b"`, 1)
	f.tok["widened"] = "Bearer " + parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(widened)) + "." + parts[2]

	for i, tc := range []struct {
		who, method, path string
		want              int
		code              string
	}{
		{"bearer", "GET", "/v2/stage/a/manifests/" + a.digest.String(), 200, ""},
		{"bearer", "GET", "/v2/stage/a/blobs/" + a.layer.String(), 200, ""},
		{"bearer", "GET", "/v2/stage/b/manifests/" + b.digest.String(), 404, "NAME_UNKNOWN"},
		{"bearer", "GET", "/v2/stage/b/blobs/" + b.layer.String(), 404, "NAME_UNKNOWN"},
		{"bearer", "GET", "/v2/stage/b/tags/list", 404, "NAME_UNKNOWN"},
		{"bearer", "POST", "/v2/stage/a/blobs/uploads/", 401, "UNAUTHORIZED"},
		{"bearer", "DELETE", "/v2/stage/a/manifests/" + a.digest.String(), 401, "UNAUTHORIZED"},
		{"widened", "GET", "/v2/stage/b/manifests/" + b.digest.String(), 401, "UNAUTHORIZED"},
		{"colleague", "GET", "/v2/stage/b/manifests/" + b.digest.String(), 200, ""},
	} {
		t.Run(fmt.Sprintf("%02d %s %s %s", i, tc.who, tc.method, tc.path), func(t *testing.T) {
			code, h, body := f.do(tc.who, tc.method, tc.path, nil, "")
			if code != tc.want || (tc.code != "" && !strings.Contains(body, `"`+tc.code+`"`)) {
				t.Errorf("%d %s, want %d %s", code, body, tc.want, tc.code)
			}
			if code == http.StatusUnauthorized && tc.who == "bearer" && !strings.Contains(h.Get("WWW-Authenticate"), `error="insufficient_scope"`) {
				t.Errorf("WWW-Authenticate %q does not say insufficient_scope", h.Get("WWW-Authenticate"))
			}
		})
	}
}

// TestStagedBySHA512 checks that a staged manifest pushed by its sha512
// digest cannot be read by its sha256 digest, which the catalog does not
// know it by: where pushes start staged, content the catalog does not hold
// is for admins only.
func TestStagedBySHA512(t *testing.T) {
	f := newVisibilityFixture(t)
	a := f.push("owner", "public/stage/x", "v1", "application/vnd.cairn.test.v1", nil)
	code, _, m := f.do("owner", http.MethodGet, "/v2/public/stage/x/manifests/"+a.digest.String(), nil, "")
	if code != http.StatusOK {
		t.Fatalf("owner reads the manifest: %d", code)
	}
	// The same bytes with another annotation, pushed by sha512.
	body := []byte(strings.Replace(m, `"schemaVersion":2`, `"schemaVersion":2,"annotations":{"pushed":"by sha512"}`, 1))
	d512 := digest.SHA512.FromBytes(body)
	if code, _, resp := f.do("owner", http.MethodPut, "/v2/public/stage/x/manifests/"+d512.String(), body, "application/vnd.oci.image.manifest.v1+json"); code != http.StatusCreated {
		t.Fatalf("push by sha512: %d %s", code, resp)
	}
	d256 := digest.SHA256.FromBytes(body)
	check := func(when string) {
		t.Helper()
		for _, tc := range []struct {
			who, ref string
			want     int
		}{
			{"anonymous", d512.String(), 401},
			{"anonymous", d256.String(), 401},
			{"colleague", d512.String(), 404},
			{"colleague", d256.String(), 404},
			{"owner", d512.String(), 200},
			{"admin", d256.String(), 200},
		} {
			if code, _, resp := f.do(tc.who, http.MethodGet, "/v2/public/stage/x/manifests/"+tc.ref, nil, ""); code != tc.want {
				t.Errorf("%s: %s GET %s: %d, want %d: %s", when, tc.who, tc.ref, code, tc.want, resp)
			}
		}
	}
	check("pushed")

	// A reindex from storage finds the manifest by the digest it was
	// pushed by, so its owner and state hold.
	walker, ok := f.s.engine.(backend.Walker)
	if !ok {
		t.Fatal("the embedded engine is no Walker")
	}
	if _, err := catalog.Reindex(t.Context(), zap.NewNop(), f.st, walker, []string{"public/stage/x"}); err != nil {
		t.Fatal(err)
	}
	if owner, vis, err := f.st.Ownership(t.Context(), "public/stage/x", d512); err != nil || owner != "owner" || vis != catalog.Staged {
		t.Errorf("after a reindex: %q %q %v, want owner, staged", owner, vis, err)
	}
	if _, err := f.st.Manifest(t.Context(), "public/stage/x", d256); err == nil {
		t.Error("after a reindex the manifest pushed by sha512 is indexed under sha256 too")
	}
	check("reindexed")
}
