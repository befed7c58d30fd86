package e2e

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

// TestVisibility walks the visibility ladder as users meet it, with oras,
// regctl, crane, cosign and curl: a push under a staging prefix is seen by
// its owner only (not by anonymous pulls, the catalog API, _catalog or the
// resolver) until its owner promotes it; then anyone reads it, with no
// credentials or with "Bearer QQ=="; demotion is refused; another user
// may neither promote nor delete it; unlisted content is read by digest
// only.
func TestVisibility(t *testing.T) {
	visibilityScenario(t)
}

// TestVisibilityOverZot is TestVisibility with cairn in front of a real
// zot: tags, referrers and blobs come from zot, filtered by cairn.
func TestVisibilityOverZot(t *testing.T) {
	zot := os.Getenv("ZOT_BIN")
	if zot == "" {
		t.Skip("SKIPPED: ZOT_BIN is not set; this test needs a zot binary (see README, 'Testing against zot')")
	}
	visibilityScenario(t, "--upstream", "http://"+startZot(t, zot))
}

func visibilityScenario(t *testing.T, extraArgs ...string) {
	base := t.TempDir()
	dataDir := filepath.Join(base, "data")
	issue := func(user, scope string) string {
		t.Helper()
		r := runCLI(t, nil, "token", "issue", user, "--scope", scope, "--data-dir", dataDir)
		mustf(t, r.code == 0, "token issue: %d %s", r.code, r.stderr)
		return strings.TrimSpace(r.stdout)
	}
	writer := issue("writer", ":pull,push,delete")
	other := issue("other", ":pull,push,delete")
	cfg := filepath.Join(base, "cairn.yaml")
	conf := "auth:\n  prefixes:\n    - {prefix: open/, visibility: public, staging: true}\n    - {prefix: lab/, staging: true}\n"
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	c := &cairn{t: t, dataDir: dataDir, workDir: t.TempDir(), args: append([]string{"--config", cfg, "--auth"}, extraArgs...)}
	c.addr = freeAddr(t)
	c.start()
	t.Cleanup(c.stop)
	h := c.addr
	// Clients with homes of their own: anonymous, and the other user.
	clientOf := func() *cairn {
		return &cairn{t: t, addr: h, dataDir: filepath.Join(t.TempDir(), "data"), workDir: t.TempDir(), logPath: c.logPath}
	}
	anon, colleague := clientOf(), clientOf()
	for _, x := range []*cairn{c, anon, colleague} {
		x.regctlHost(h)
	}
	basicOf := func(user, secret string) map[string]string {
		return map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+secret))}
	}
	asWriter, asOther := basicOf("writer", writer), basicOf("other", other)
	noCreds, qq := map[string]string(nil), map[string]string{"Authorization": "Bearer QQ=="}

	// The writer logs in and pushes under open/: public, but staged.
	c.run("oras", "login", "--plain-http", h, "-u", "writer", "-p", writer)
	c.run("cosign", "login", h, "-u", "writer", "-p", writer)
	colleague.run("oras", "login", "--plain-http", h, "-u", "other", "-p", other)
	colleague.run("regctl", "registry", "login", h, "-u", "other", "-p", other)
	writeFile(t, c.workDir, "weights.bin", []byte("open weights"))
	c.run("oras", "push", "--plain-http", h+"/open/ds:v1", "weights.bin")
	blob := digest.FromBytes([]byte("open weights"))
	manifestDigest := strings.TrimSpace(c.run("oras", "resolve", "--plain-http", h+"/open/ds:v1"))
	const ociManifest = "application/vnd.oci.image.manifest.v1+json"
	code, hdr, _ := do(t, http.MethodHead, c.url("/v2/open/ds/manifests/v1"), nil, map[string]string{"Authorization": asWriter["Authorization"], "Accept": ociManifest})
	mustf(t, code == http.StatusOK && hdr.Get("Cairn-Visibility") == "staged" && hdr.Get("Docker-Content-Digest") == manifestDigest && hdr.Get("Content-Length") != "",
		"HEAD by the owner: %d %v", code, hdr)

	// Staged: invisible to everyone else, wherever they look.
	hiddenEverywhere := func(when string) {
		t.Helper()
		out, err := anon.tryRun("oras", "pull", "--plain-http", h+"/open/ds:v1", "-o", "out")
		mustf(t, err != nil, "%s: anonymous oras pull:\n%s", when, out)
		out, err = anon.tryRun("crane", "manifest", "--insecure", h+"/open/ds@"+manifestDigest)
		mustf(t, err != nil, "%s: anonymous crane manifest by digest:\n%s", when, out)
		out, err = anon.tryRun("regctl", "manifest", "get", h+"/open/ds:v1")
		mustf(t, err != nil, "%s: anonymous regctl manifest get:\n%s", when, out)
		out, err = colleague.tryRun("oras", "pull", "--plain-http", h+"/open/ds:v1", "-o", "out")
		mustf(t, err != nil, "%s: another user's oras pull:\n%s", when, out)
		for _, hd := range []map[string]string{noCreds, qq, asOther} {
			// Anonymous callers are asked to log in, others told it is
			// not there.
			want, wantCode := http.StatusUnauthorized, "UNAUTHORIZED"
			if hd["Authorization"] == asOther["Authorization"] {
				want, wantCode = http.StatusNotFound, "BLOB_UNKNOWN"
			}
			code, _, body := do(t, http.MethodGet, c.url("/v2/open/ds/blobs/"+blob.String()), nil, hd)
			mustf(t, code == want && strings.Contains(string(body), wantCode), "%s: blob with %v: %d %s", when, hd, code, body)
			// (A user who may pull the repository sees its name there.)
			_, _, body = do(t, http.MethodGet, c.url("/v2/_catalog"), nil, hd)
			mustf(t, hd["Authorization"] == asOther["Authorization"] || !strings.Contains(string(body), "open/ds"), "%s: _catalog with %v: %s", when, hd, body)
			_, _, body = do(t, http.MethodGet, c.url("/api/v1/artifacts?repository=open/ds"), nil, hd)
			mustf(t, strings.Contains(string(body), `"artifacts":[]`), "%s: catalog API with %v: %s", when, hd, body)
			code, _, body = do(t, http.MethodGet, c.url("/resolve/hash://sha256/"+blob.Encoded()), nil, hd)
			mustf(t, code == http.StatusNotFound, "%s: resolver with %v: %d %s", when, hd, code, body)
		}
	}
	hiddenEverywhere("staged")

	// The owner signs it with cosign (the owner reads what they pushed);
	// the signature is staged with it.
	t.Setenv("COSIGN_PASSWORD", "")
	c.run("cosign", "generate-key-pair")
	c.run("cosign", "sign", "--key", "cosign.key", "--tlog-upload=false", "--yes", "--allow-insecure-registry", h+"/open/ds@"+manifestDigest)
	for _, name := range []string{"cosign.pub"} {
		b, err := os.ReadFile(filepath.Join(c.workDir, name))
		mustf(t, err == nil, "%v", err)
		writeFile(t, anon.workDir, name, b)
	}
	out, err := anon.tryRun("cosign", "verify", "--key", "cosign.pub", "--insecure-ignore-tlog=true", "--allow-insecure-registry", h+"/open/ds@"+manifestDigest)
	mustf(t, err != nil, "anonymous cosign verify of a staged artifact:\n%s", out)
	hiddenEverywhere("signed, still staged")

	// Only its owner promotes it: the other user cannot even see it.
	promote := func(hd map[string]string, ref, to string) (int, string) {
		t.Helper()
		code, _, body := do(t, http.MethodPost, c.url("/api/v1/artifacts/"+ref+"/promote?to="+to), nil, hd)
		return code, string(body)
	}
	code, body := promote(asOther, "open/ds@"+manifestDigest, "public")
	mustf(t, code == http.StatusNotFound, "promotion by another user: %d %s", code, body)
	code, body = promote(noCreds, "open/ds@"+manifestDigest, "public")
	mustf(t, code == http.StatusUnauthorized, "anonymous promotion: %d %s", code, body)
	code, body = promote(asWriter, "open/ds@"+manifestDigest, "public")
	var promoted struct {
		Visibility string
		Changed    []string
	}
	mustf(t, code == http.StatusOK && json.Unmarshal([]byte(body), &promoted) == nil && promoted.Visibility == "public" && len(promoted.Changed) >= 2,
		"promotion by the owner (the artifact and its signature): %d %s", code, body)

	// Public: anyone reads it, with any client.
	for _, hd := range []map[string]string{noCreds, qq} {
		code, hdr, body := do(t, http.MethodGet, c.url("/v2/open/ds/blobs/"+blob.String()), nil, hd)
		mustf(t, code == http.StatusOK && string(body) == "open weights" && hdr.Get("Cairn-Visibility") == "public", "public blob with %v: %d %q", hd, code, hdr.Get("Cairn-Visibility"))
		_, _, b := do(t, http.MethodGet, c.url("/v2/_catalog"), nil, hd)
		mustf(t, strings.Contains(string(b), "open/ds"), "_catalog with %v after promotion: %s", hd, b)
		_, _, b = do(t, http.MethodGet, c.url("/api/v1/artifacts?repository=open/ds"), nil, hd)
		mustf(t, strings.Contains(string(b), manifestDigest), "catalog API with %v after promotion: %s", hd, b)
	}
	anon.run("oras", "pull", "--plain-http", h+"/open/ds:v1", "-o", "out")
	got, err := os.ReadFile(filepath.Join(anon.workDir, "out", "weights.bin"))
	mustf(t, err == nil && string(got) == "open weights", "anonymous oras pull: %v %q", err, got)
	mustf(t, strings.Contains(anon.run("regctl", "manifest", "get", h+"/open/ds:v1", "--format", "raw-body"), "weights.bin"), "anonymous regctl read")
	mustf(t, strings.Contains(anon.run("crane", "manifest", "--insecure", h+"/open/ds:v1"), "weights.bin"), "anonymous crane read")
	anon.run("cosign", "verify", "--key", "cosign.pub", "--insecure-ignore-tlog=true", "--allow-insecure-registry", h+"/open/ds@"+manifestDigest)
	r0 := runCLI(t, nil, "resolve", "--server", "http://"+h, "hash://sha256/"+blob.Encoded())
	mustf(t, r0.code == 0 && r0.stdout == "open weights", "anonymous cairn resolve: %d %q %s", r0.code, r0.stdout, r0.stderr)

	// Never down; and another user may neither promote nor delete it.
	code, body = promote(asWriter, "open/ds@"+manifestDigest, "unlisted")
	mustf(t, code == http.StatusConflict && strings.Contains(body, "only moves up"), "demotion: %d %s", code, body)
	code, body = promote(asOther, "open/ds@"+manifestDigest, "public")
	mustf(t, code == http.StatusForbidden && strings.Contains(body, "belongs to writer"), "promotion by another user who sees it: %d %s", code, body)
	out, err = colleague.tryRun("oras", "manifest", "delete", "--force", "--plain-http", h+"/open/ds@"+manifestDigest)
	mustf(t, err != nil && strings.Contains(out, "belongs to writer"), "delete by another user: %v\n%s", err, out)
	code, _, _ = do(t, http.MethodHead, c.url("/v2/open/ds/manifests/v1"), nil, map[string]string{"Accept": ociManifest})
	mustf(t, code == http.StatusOK, "refusals lost the artifact: %d", code)

	// Unlisted, in a private repository: anyone who names the digest
	// reads it; nobody without pull finds it listed.
	writeFile(t, c.workDir, "notes.txt", []byte("lab notes"))
	c.run("oras", "push", "--plain-http", h+"/lab/notes:v1", "notes.txt")
	notes := strings.TrimSpace(c.run("oras", "resolve", "--plain-http", h+"/lab/notes:v1"))
	// cairn's own commands, with the writer's token: search sees the
	// staged artifact, promote moves it, and refuses to move it back.
	srv, tok := "--server=http://"+h, []string{"CAIRN_TOKEN=" + writer}
	r := runCLI(t, nil, "search", srv, "--repo", "lab/notes")
	mustf(t, r.code == 0 && !strings.Contains(r.stdout, "lab/notes"), "anonymous cairn search lists staged content: %d %s %s", r.code, r.stdout, r.stderr)
	r = runCLI(t, tok, "search", srv, "--repo", "lab/notes")
	mustf(t, r.code == 0 && strings.Contains(r.stdout, "lab/notes"), "the owner's cairn search: %d %s %s", r.code, r.stdout, r.stderr)
	r = runCLI(t, []string{"CAIRN_TOKEN=" + other}, "promote", srv, "lab/notes@"+notes, "--to", "public")
	mustf(t, r.code != 0 && strings.Contains(r.stderr, "no artifact"), "cairn promote by another user: %d %s", r.code, r.stderr)
	r = runCLI(t, tok, "promote", srv, "lab/notes@"+notes, "--to", "unlisted")
	mustf(t, r.code == 0 && strings.Contains(r.stdout, "is unlisted"), "cairn promote to unlisted: %d %s %s", r.code, r.stdout, r.stderr)
	r = runCLI(t, tok, "promote", srv, "lab/notes:v1", "--to", "private")
	mustf(t, r.code != 0 && strings.Contains(r.stderr, "only moves up"), "cairn promote down: %d %s %s", r.code, r.stdout, r.stderr)
	mustf(t, strings.Contains(anon.run("crane", "manifest", "--insecure", h+"/lab/notes@"+notes), "notes.txt"), "anonymous crane read of unlisted content by digest")
	out, err = anon.tryRun("oras", "pull", "--plain-http", h+"/lab/notes:v1", "-o", "notes")
	mustf(t, err != nil, "anonymous pull of unlisted content by tag:\n%s", out)
	for _, hd := range []map[string]string{noCreds, qq} {
		_, _, b := do(t, http.MethodGet, c.url("/v2/_catalog"), nil, hd)
		mustf(t, !strings.Contains(string(b), "lab/notes"), "_catalog lists unlisted content: %s", b)
		_, _, b = do(t, http.MethodGet, c.url("/api/v1/artifacts?repository=lab/notes"), nil, hd)
		mustf(t, strings.Contains(string(b), `"artifacts":[]`), "the catalog API lists unlisted content: %s", b)
	}
	// The other user (pull on every repository) sees it listed.
	mustf(t, strings.Contains(colleague.run("regctl", "tag", "ls", h+"/lab/notes"), "v1"), "tags of unlisted content for a user who may pull")
}
