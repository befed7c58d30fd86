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

	"github.com/cairn-dev/cairn/signing"
)

// TestAccess turns access control on and drives it with oras, regctl and
// curl: pushes need a token, anonymous reads reach public prefixes only
// (also with the "Bearer QQ==" content-id tools send), a pull-only token
// cannot push or delete, a revoked token fails on its next request, and
// the catalog API answers each caller what they may read.
func TestAccess(t *testing.T) {
	base := t.TempDir()
	dataDir := filepath.Join(base, "data")
	issue := func(user, scope string) (secret, id string) {
		t.Helper()
		r := runCLI(t, nil, "token", "issue", user, "--scope", scope, "--data-dir", dataDir)
		mustf(t, r.code == 0, "token issue: %d %s", r.code, r.stderr)
		return strings.TrimSpace(r.stdout), strings.Fields(r.stderr)[1]
	}
	writer, _ := issue("writer", ":pull,push,delete")
	other, _ := issue("other", ":pull,push,delete")
	boss, _ := issue("boss", ":admin")
	reader, readerID := issue("reader", "models/:pull")
	// A signing key, and a prefix that requires signatures by it.
	priv, pub, err := signing.GenerateKeyPair(nil)
	if err != nil {
		t.Fatal(err)
	}
	keyDir := t.TempDir()
	writeFile(t, keyDir, "release.key", priv)
	writeFile(t, keyDir, "release.pub", pub)
	cfg := filepath.Join(base, "cairn.yaml")
	conf := "auth:\n  public: [public/]\ntrust:\n  - {prefix: signed/, require_signature: true, keys: [" + filepath.Join(keyDir, "release.pub") + "]}\n"
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	c := &cairn{t: t, dataDir: dataDir, workDir: t.TempDir(), args: []string{"--config", cfg, "--auth"}}
	c.addr = freeAddr(t)
	c.start()
	t.Cleanup(c.stop)
	h := c.addr
	writeFile(t, c.workDir, "weights.bin", []byte("weights"))

	// Pushing needs a token.
	out, err := c.tryRun("oras", "push", "--plain-http", h+"/models/m:v1", "weights.bin")
	mustf(t, err != nil && strings.Contains(out, "401"), "anonymous push: %v\n%s", err, out)
	code, hdr, _ := do(t, http.MethodGet, c.url("/v2/"), nil, nil)
	mustf(t, code == http.StatusUnauthorized && strings.Contains(hdr.Get("WWW-Authenticate"), `realm="http://`+h+`/auth/token"`), "GET /v2/ anonymous: %d %q", code, hdr.Get("WWW-Authenticate"))
	c.run("oras", "push", "--plain-http", "-u", "writer", "-p", writer, h+"/models/m:v1", "weights.bin")
	c.run("oras", "push", "--plain-http", "-u", "writer", "-p", writer, h+"/public/p:v1", "weights.bin")
	blob := digest.FromBytes([]byte("weights")).String()

	// Anonymous reads: public only.
	out, err = c.tryRun("oras", "pull", "--plain-http", h+"/models/m:v1", "-o", "anon")
	mustf(t, err != nil && strings.Contains(out, "log in"), "anonymous pull of a private repository: %v\n%s", err, out)
	c.run("oras", "pull", "--plain-http", h+"/public/p:v1", "-o", "anon")
	for _, hd := range []map[string]string{nil, {"Authorization": "Bearer QQ=="}} {
		code, _, body := do(t, http.MethodGet, c.url("/v2/public/p/blobs/"+blob), nil, hd)
		mustf(t, code == http.StatusOK && string(body) == "weights", "public blob with %v: %d", hd, code)
		code, hdr, _ = do(t, http.MethodGet, c.url("/v2/models/m/blobs/"+blob), nil, hd)
		mustf(t, code == http.StatusUnauthorized && hdr.Get("WWW-Authenticate") != "", "private blob with %v: %d", hd, code)
	}
	code, _, body := do(t, http.MethodGet, c.url("/v2/_catalog"), nil, nil)
	mustf(t, code == http.StatusOK && strings.Contains(string(body), "public/p") && !strings.Contains(string(body), "models/m"), "anonymous _catalog: %d %s", code, body)

	// A pull-only token: reads its prefix, cannot push or delete.
	c.run("oras", "pull", "--plain-http", "-u", "reader", "-p", reader, h+"/models/m:v1", "-o", "reader")
	out, err = c.tryRun("oras", "push", "--plain-http", "-u", "reader", "-p", reader, h+"/models/m:v2", "weights.bin")
	mustf(t, err != nil && strings.Contains(out, "may not push"), "push with a pull-only token: %v\n%s", err, out)
	basic := map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("reader:"+reader))}
	code, _, body = do(t, http.MethodDelete, c.url("/v2/models/m/manifests/v1"), nil, basic)
	mustf(t, code == http.StatusForbidden && strings.Contains(string(body), "may not delete"), "delete with a pull-only token: %d %s", code, body)
	// A repository outside the reader's scopes reads as unknown, exactly
	// as one that does not exist.
	c.run("oras", "push", "--plain-http", "-u", "writer", "-p", writer, h+"/datasets/secret:v1", "weights.bin")
	hiddenCode, _, hiddenBody := do(t, http.MethodGet, c.url("/v2/datasets/secret/manifests/v1"), nil, basic)
	missingCode, _, missingBody := do(t, http.MethodGet, c.url("/v2/datasets/none/manifests/v1"), nil, basic)
	mustf(t, hiddenCode == http.StatusNotFound && missingCode == http.StatusNotFound && strings.Contains(string(hiddenBody), "NAME_UNKNOWN") &&
		strings.Replace(string(hiddenBody), "secret", "none", -1) == string(missingBody), "hidden vs missing repository: %d %s / %d %s", hiddenCode, hiddenBody, missingCode, missingBody)
	out, err = c.tryRun("oras", "pull", "--plain-http", "-u", "reader", "-p", reader, h+"/datasets/secret:v1", "-o", "hidden")
	mustf(t, err != nil && !strings.Contains(out, "may not"), "oras pull of a hidden repository: %v\n%s", err, out)
	code, _, body = do(t, http.MethodGet, c.url("/v2/_catalog"), nil, basic)
	mustf(t, code == http.StatusOK && strings.Contains(string(body), "models/m"), "_catalog for the reader: %d %s", code, body)
	c.regctlHost(h)
	c.run("regctl", "registry", "login", h, "-u", "reader", "-p", reader)
	mustf(t, strings.Contains(c.run("regctl", "manifest", "get", h+"/models/m:v1", "--format", "raw-body"), "weights.bin"), "regctl read")

	// crane reads with the reader's login; cosign signs with the writer's
	// and verifies with the reader's.
	c.run("crane", "auth", "login", h, "-u", "reader", "-p", reader)
	mustf(t, strings.Contains(c.run("crane", "manifest", "--insecure", h+"/models/m:v1"), "weights.bin"), "crane read")
	t.Setenv("COSIGN_PASSWORD", "")
	c.run("cosign", "generate-key-pair")
	c.run("cosign", "login", h, "-u", "writer", "-p", writer)
	c.run("cosign", "sign", "--key", "cosign.key", "--tlog-upload=false", "--yes", "--allow-insecure-registry", h+"/models/m:v1")
	c.run("cosign", "login", h, "-u", "reader", "-p", reader)
	c.run("cosign", "verify", "--key", "cosign.pub", "--insecure-ignore-tlog=true", "--allow-insecure-registry", h+"/models/m:v1")
	// (Signing models/m again would be a duplicate cosign skips: sign
	// something new.)
	c.run("oras", "push", "--plain-http", "-u", "writer", "-p", writer, h+"/models/n:v1", "weights.bin")
	out, err = c.tryRun("cosign", "sign", "--key", "cosign.key", "--tlog-upload=false", "--yes", "--allow-insecure-registry", h+"/models/n:v1")
	mustf(t, err != nil && strings.Contains(out, "may not push"), "cosign sign with a pull-only login: %v\n%s", err, out)

	// The catalog API: what each caller may read.
	code, _, body = do(t, http.MethodGet, c.url("/api/v1/artifacts"), nil, nil)
	mustf(t, code == http.StatusOK && strings.Contains(string(body), "public/p") && !strings.Contains(string(body), "models/"), "catalog API anonymous: %d %s", code, body)
	code, _, body = do(t, http.MethodGet, c.url("/api/v1/artifacts"), nil, basic)
	mustf(t, code == http.StatusOK && strings.Contains(string(body), "models/m") && !strings.Contains(string(body), "datasets/"), "catalog API for a prefix-limited token: %d %s", code, body)
	code, _, body = do(t, http.MethodGet, c.url("/api/v1/artifacts"), nil, map[string]string{"Authorization": "Bearer " + writer})
	mustf(t, code == http.StatusOK && strings.Contains(string(body), "models/m"), "catalog API for the writer: %d %s", code, body)

	// Bad credentials and token requests.
	for name, hd := range map[string]map[string]string{
		"unknown token":      {"Authorization": "Bearer cairn_AAAA"},
		"wrong user":         {"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("writer:"+reader))},
		"not base64":         {"Authorization": "Basic %%%"},
		"forged bearer":      {"Authorization": "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ3cml0ZXIifQ."},
		"unsupported scheme": {"Authorization": "Digest x"},
	} {
		code, _, _ := do(t, http.MethodGet, c.url("/v2/models/m/manifests/v1"), nil, hd)
		mustf(t, code == http.StatusUnauthorized, "%s: %d", name, code)
	}
	code, _, _ = do(t, http.MethodGet, c.url("/auth/token?service=elsewhere&scope=repository:models/m:pull"), nil, nil)
	mustf(t, code == http.StatusBadRequest, "token for another service: %d", code)

	// Owners: another user with the delete scope cannot delete the
	// writer's artifact; its owner and an admin can.
	basicOf := func(user, secret string) map[string]string {
		return map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+secret))}
	}
	code, _, body = do(t, http.MethodDelete, c.url("/v2/models/n/manifests/v1"), nil, basicOf("other", other))
	mustf(t, code == http.StatusForbidden && strings.Contains(string(body), "belongs to writer"), "delete by another user: %d %s", code, body)
	out, err = c.tryRun("oras", "manifest", "delete", "--force", "--plain-http", "-u", "other", "-p", other, h+"/models/n:v1")
	mustf(t, err != nil && strings.Contains(out, "belongs to writer"), "oras delete by another user: %v\n%s", err, out)
	c.run("oras", "manifest", "delete", "--force", "--plain-http", "-u", "writer", "-p", writer, h+"/models/n:v1")
	c.run("oras", "push", "--plain-http", "-u", "other", "-p", other, h+"/models/o:v1", "weights.bin")
	c.run("oras", "manifest", "delete", "--force", "--plain-http", "-u", "boss", "-p", boss, h+"/models/o:v1")

	// Where signatures are required, the owner may still read (and so
	// sign with cosign) what they pushed; others may not until it is
	// signed.
	c.run("oras", "push", "--plain-http", "-u", "writer", "-p", writer, h+"/signed/model:v1", "weights.bin")
	out, err = c.tryRun("oras", "pull", "--plain-http", "-u", "other", "-p", other, h+"/signed/model:v1", "-o", "unsigned")
	mustf(t, err != nil && strings.Contains(out, "require_signature"), "unsigned pull by another user: %v\n%s", err, out)
	c.run("oras", "pull", "--plain-http", "-u", "writer", "-p", writer, h+"/signed/model:v1", "-o", "own")
	t.Setenv("COSIGN_PASSWORD", "")
	c.run("cosign", "login", h, "-u", "writer", "-p", writer)
	c.run("cosign", "sign", "--key", filepath.Join(keyDir, "release.key"), "--tlog-upload=false", "--yes", "--allow-insecure-registry", h+"/signed/model:v1")
	c.run("oras", "pull", "--plain-http", "-u", "other", "-p", other, h+"/signed/model:v1", "-o", "signed")

	// Tokens over the API, for admins.
	bossAuth := basicOf("boss", boss)
	code, _, body = do(t, http.MethodGet, c.url("/api/v1/tokens"), nil, bossAuth)
	mustf(t, code == http.StatusOK && strings.Contains(string(body), `"user":"reader"`) && !strings.Contains(string(body), "cairn_"), "token list: %d %s", code, body)
	code, _, _ = do(t, http.MethodGet, c.url("/api/v1/tokens"), nil, basicOf("writer", writer))
	mustf(t, code == http.StatusForbidden, "token list by a non-admin: %d", code)
	code, _, _ = do(t, http.MethodGet, c.url("/api/v1/tokens"), nil, nil)
	mustf(t, code == http.StatusUnauthorized, "token list anonymous: %d", code)
	code, _, body = do(t, http.MethodPost, c.url("/api/v1/tokens"), []byte(`{"user":"ci","scopes":["ci/:pull,push"],"expires":"1d"}`), bossAuth)
	mustf(t, code == http.StatusCreated, "token issue over the API: %d %s", code, body)
	var issued struct{ ID, Token string }
	mustf(t, json.Unmarshal(body, &issued) == nil && strings.HasPrefix(issued.Token, "cairn_"), "issued: %s", body)
	c.run("oras", "push", "--plain-http", "-u", "ci", "-p", issued.Token, h+"/ci/build:1", "weights.bin")
	// Dedupe never hands out a blob from a repository the caller cannot
	// read: the secret dataset's blob stays unknown to ci/.
	writeFile(t, c.workDir, "secret.bin", []byte("secret rows"))
	c.run("oras", "push", "--plain-http", "-u", "writer", "-p", writer, h+"/datasets/secret:v2", "secret.bin")
	secretBlob := digest.FromBytes([]byte("secret rows")).String()
	code, _, _ = do(t, http.MethodHead, c.url("/v2/ci/build/blobs/"+secretBlob), nil, basicOf("ci", issued.Token))
	mustf(t, code == http.StatusNotFound, "HEAD of another repository's blob by a caller who cannot read it: %d", code)
	code, _, _ = do(t, http.MethodHead, c.url("/v2/models/x/blobs/"+secretBlob), nil, basicOf("writer", writer))
	mustf(t, code == http.StatusOK, "HEAD by a caller who reads both repositories: %d", code)
	code, _, body = do(t, http.MethodPost, c.url("/api/v1/tokens"), []byte(`{"user":"ci","scopes":["ci/:fly"]}`), bossAuth)
	mustf(t, code == http.StatusBadRequest && strings.Contains(string(body), "not an action"), "bad scope over the API: %d %s", code, body)
	code, _, _ = do(t, http.MethodDelete, c.url("/api/v1/tokens/"+issued.ID), nil, bossAuth)
	mustf(t, code == http.StatusOK, "token revoke over the API: %d", code)
	out, err = c.tryRun("oras", "push", "--plain-http", "-u", "ci", "-p", issued.Token, h+"/ci/build:2", "weights.bin")
	mustf(t, err != nil, "a token revoked over the API still pushes:\n%s", out)

	// Revocation takes effect on the next request.
	runCLI(t, nil, "token", "revoke", readerID, "--data-dir", dataDir)
	code, _, body = do(t, http.MethodGet, c.url("/v2/models/m/manifests/v1"), nil, basic)
	mustf(t, code == http.StatusUnauthorized && strings.Contains(string(body), "revoked"), "revoked token: %d %s", code, body)
}
