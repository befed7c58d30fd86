package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/cairn-dev/cairn/signing"
)

// trustEnv runs the real cosign and oras against a cairn whose trust
// policy the test rewrites between restarts.
type trustEnv struct {
	t   *testing.T
	c   *cairn
	dir string
	cfg string
}

const trustPassword = "correct horse"

// runTool runs a client binary with COSIGN_PASSWORD set and returns its
// combined output and exit error.
func (e *trustEnv) runTool(name string, env []string, args ...string) (string, error) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, tool(e.t, name), args...)
	cmd.Env = environ(append(append(homeVars(e.c.home()), "COSIGN_PASSWORD="+trustPassword), env...)...)
	cmd.Dir = e.dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (e *trustEnv) ok(name string, env []string, args ...string) string {
	e.t.Helper()
	out, err := e.runTool(name, env, args...)
	if err != nil {
		e.t.Fatalf("%s %s: %v\n%s\n--- server log ---\n%s", name, strings.Join(args, " "), err, out, e.c.log())
	}
	return out
}

// policy writes the configuration: each rule is prefix, require, key names.
func (e *trustEnv) policy(rules ...trustRule) {
	e.t.Helper()
	var b strings.Builder
	b.WriteString("trust:\n")
	if len(rules) == 0 {
		b.Reset()
	}
	for _, r := range rules {
		fmt.Fprintf(&b, "  - prefix: %q\n    require_signature: %v\n    keys:\n", r.prefix, r.require)
		for _, k := range r.keys {
			fmt.Fprintf(&b, "      - %s\n", filepath.Join(e.dir, k+".pub"))
		}
	}
	if err := os.WriteFile(e.cfg, []byte(b.String()), 0o600); err != nil {
		e.t.Fatal(err)
	}
}

type trustRule struct {
	prefix  string
	require bool
	keys    []string
}

// artifact reads one artifact from the catalog API.
func (e *trustEnv) artifact(ref string) apiArtifact {
	e.t.Helper()
	var a apiArtifact
	if code, ae := apiGet(e.t, e.c, "/api/v1/artifacts/"+ref, &a); code != http.StatusOK {
		e.t.Fatalf("artifact %s: %d %+v", ref, code, ae)
	}
	return a
}

// pushFile pushes one file with oras and returns the manifest digest.
func (e *trustEnv) pushFile(ref, content string, annotations ...string) digest.Digest {
	e.t.Helper()
	name := strings.NewReplacer("/", "_", ":", "_").Replace(ref) + ".bin"
	if err := os.WriteFile(filepath.Join(e.dir, name), []byte(content), 0o600); err != nil {
		e.t.Fatal(err)
	}
	args := []string{"push", "--plain-http", e.c.addr + "/" + ref, name}
	for _, a := range annotations {
		args = append(args, "--annotation", a)
	}
	e.ok("oras", nil, args...)
	return digest.Digest(strings.TrimSpace(e.ok("oras", nil, "resolve", "--plain-http", e.c.addr+"/"+ref)))
}

// getManifest GETs (or HEADs) a manifest and returns the status and body.
func (e *trustEnv) getManifest(method, repo, ref string) (int, string) {
	e.t.Helper()
	code, _, body := do(e.t, method, e.c.url("/v2/"+repo+"/manifests/"+ref), nil, map[string]string{"Accept": ociManifest})
	return code, string(body)
}

// signatureManifest pushes a signature manifest attached to subject in
// repo, carrying payload and the base64 signature sig.
func (e *trustEnv) signatureManifest(repo string, subject digest.Digest, subjectSize int, payload []byte, sig string) digest.Digest {
	e.t.Helper()
	base := e.c.url("")
	cfg := pushBlob(e.t, base, repo, []byte("{}"))
	p := pushBlob(e.t, base, repo, payload)
	m, _ := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     ociManifest,
		"artifactType":  signing.ArtifactType,
		"config":        map[string]any{"mediaType": "application/vnd.oci.empty.v1+json", "digest": cfg, "size": 2},
		"layers": []any{map[string]any{"mediaType": signing.PayloadMediaType, "digest": p, "size": len(payload),
			"annotations": map[string]string{signing.SignatureAnnotation: sig}}},
		"subject": map[string]any{"mediaType": ociManifest, "digest": subject, "size": subjectSize},
	})
	d := digest.FromBytes(m)
	code, err := putManifest(base, repo, d.String(), m)
	if err != nil || code != http.StatusCreated {
		e.t.Fatalf("signature manifest: %d %v", code, err)
	}
	return d
}

func manifestSize(t *testing.T, c *cairn, repo string, d digest.Digest) int {
	t.Helper()
	code, h, _ := do(t, http.MethodHead, c.url("/v2/"+repo+"/manifests/"+d.String()), nil, map[string]string{"Accept": ociManifest})
	mustf(t, code == http.StatusOK, "HEAD %s@%s: %d", repo, d, code)
	n, _ := strconv.Atoi(h.Get("Content-Length"))
	return n
}

// TestSignatures walks through what a user of cosign sees in cairn: a model
// pushed with oras is unsigned in the catalog; cosign sign (both of its
// storage forms) makes it signed by that key; a tag moved to other content
// points at an unsigned artifact, which a require_signature repository
// refuses to serve; corrupt, foreign and wrongly keyed signatures never
// count; deleting a signature or distrusting its key takes the state back.
func TestSignatures(t *testing.T) {
	signaturesScenario(t)
}

// TestSignaturesOverZot is TestSignatures with cairn in front of a real zot
// (ZOT_BIN).
func TestSignaturesOverZot(t *testing.T) {
	zot := os.Getenv("ZOT_BIN")
	if zot == "" {
		t.Skip("SKIPPED: ZOT_BIN is not set; this test needs a zot binary (see README, 'Testing against zot')")
	}
	signaturesScenario(t, "--upstream", "http://"+startZot(t, zot))
}

func signaturesScenario(t *testing.T, extra ...string) {
	dir := t.TempDir()
	e := &trustEnv{t: t, dir: dir, cfg: filepath.Join(dir, "cairn.yaml")}
	e.policy()
	e.c = startCairn(t, append([]string{"--config", e.cfg}, extra...)...)
	for _, k := range []string{"team", "other"} {
		e.ok("cosign", nil, "generate-key-pair", "--output-key-prefix", k)
	}
	e.policy(trustRule{"models/", false, []string{"team"}}, trustRule{"", false, []string{"team"}})
	team, err := signing.LoadPublicKey(filepath.Join(dir, "team.pub"))
	if err != nil {
		t.Fatal(err)
	}
	reg := e.c.addr
	// The policy restarts with the server: start over with keys present.
	e.c.restart()

	// The trust policy is readable.
	var tr struct {
		Policies []struct {
			Prefix           string `json:"prefix"`
			RequireSignature bool   `json:"requireSignature"`
			Keys             []struct {
				KeyID string `json:"keyId"`
			} `json:"keys"`
		} `json:"policies"`
	}
	if code, ae := apiGet(t, e.c, "/api/v1/trust", &tr); code != http.StatusOK || len(tr.Policies) != 2 || tr.Policies[0].Prefix != "models/" || tr.Policies[0].Keys[0].KeyID != team.ID {
		t.Fatalf("trust: %d %+v %+v", code, tr, ae)
	}

	// A model pushed with oras is unsigned.
	model := e.pushFile("models/bert:v1", "weights v1", "org.example.task=ner")
	// A second tag keeps the model reachable once v1 moves (zot drops a
	// manifest whose only tag is moved away).
	e.ok("oras", nil, "tag", "--plain-http", reg+"/models/bert:v1", "release")
	found := e.c.cliJSON("--annotation", "org.example.task=ner")
	mustf(t, len(found) == 1 && found[0].Digest == model.String() && !found[0].Signed && len(found[0].Signatures) == 0, "before signing: %+v", found)
	table := e.c.cliOK("search", "--server", e.c.url(""), "--annotation", "org.example.task=ner")
	mustf(t, strings.Contains(table, "SIGNED") && strings.Contains(table, " no "), "table before signing:\n%s", table)

	// cosign sign, legacy tag form.
	e.ok("cosign", nil, "sign", "--key", "team.key", "--tlog-upload=false", "--yes", reg+"/models/bert@"+model.String())
	a := e.artifact("models/bert@" + model.String())
	mustf(t, a.Signed && len(a.Signatures) == 1 && a.Signatures[0].Verified && a.Signatures[0].KeyID == team.ID && a.Signatures[0].Form == "tag", "after cosign sign: %+v", a.Signatures)
	// Lineage lists the tag-form signature as an attachment of the model.
	var lin struct {
		Nodes []struct {
			Digest      string `json:"digest"`
			Signed      bool   `json:"signed"`
			Attachments []struct {
				Digest       string `json:"digest"`
				ArtifactType string `json:"artifactType"`
			} `json:"attachments"`
		} `json:"nodes"`
	}
	if code, ae := apiGet(t, e.c, "/api/v1/lineage/models/bert@"+model.String()+"?direction=down", &lin); code != http.StatusOK {
		t.Fatalf("lineage: %d %+v", code, ae)
	}
	mustf(t, len(lin.Nodes) == 1 && lin.Nodes[0].Signed && len(lin.Nodes[0].Attachments) == 1 && lin.Nodes[0].Attachments[0].Digest == a.Signatures[0].Manifest &&
		lin.Nodes[0].Attachments[0].ArtifactType == signing.ArtifactType, "lineage of the signed model: %+v", lin)
	found = e.c.cliJSON("--signed", "true")
	mustf(t, len(found) == 1 && found[0].Digest == model.String(), "signed=true: %+v", found)

	// cosign sign, OCI 1.1 referrer form, on a second model.
	model2 := e.pushFile("models/gpt:v1", "weights gpt")
	e.ok("cosign", []string{"COSIGN_EXPERIMENTAL=1"}, "sign", "--registry-referrers-mode=oci-1-1", "--key", "team.key", "--tlog-upload=false", "--yes", reg+"/models/gpt@"+model2.String())
	a = e.artifact("models/gpt@" + model2.String())
	mustf(t, a.Signed && len(a.Signatures) == 1 && a.Signatures[0].Form == "referrer" && a.Signatures[0].KeyID == team.ID, "after cosign sign (oci-1-1): %+v", a.Signatures)

	// Tamper: the tag now points at other, unsigned content.
	tampered := e.pushFile("models/bert:v1", "weights v2, not signed")
	a = e.artifact("models/bert:v1")
	mustf(t, a.Digest == tampered.String() && !a.Signed, "tag after tampering: %s signed=%v", a.Digest, a.Signed)

	// Require signatures under models/.
	e.policy(trustRule{"models/", true, []string{"team"}}, trustRule{"", false, []string{"team"}})
	e.c.restart()
	code, body := e.getManifest(http.MethodGet, "models/bert", "v1")
	mustf(t, code == http.StatusForbidden && strings.Contains(body, "DENIED") && strings.Contains(body, `"models/"`) && strings.Contains(body, "require_signature"), "GET of the tampered tag: %d %s", code, body)
	out, err := e.runTool("oras", nil, "pull", "--plain-http", reg+"/models/bert:v1", "-o", "pulled")
	mustf(t, err != nil && strings.Contains(out, "require_signature"), "oras pull of the tampered tag: %v\n%s", err, out)
	code, _ = e.getManifest(http.MethodGet, "models/bert", model.String())
	mustf(t, code == http.StatusOK, "GET of the signed digest: %d", code)
	e.ok("oras", nil, "pull", "--plain-http", reg+"/models/bert@"+model.String(), "-o", "pulled")
	code, _ = e.getManifest(http.MethodHead, "models/bert", "v1")
	mustf(t, code == http.StatusOK, "HEAD of the tampered tag: %d", code)
	code, _ = e.getManifest(http.MethodGet, "models/bert", signing.LegacyTag(model))
	mustf(t, code == http.StatusOK, "GET of the signature itself: %d", code)
	idx, _ := referrersOf(t, e.c.url(""), "models/bert", tampered.String(), "")
	mustf(t, len(idx.Manifests) == 0, "referrers of the tampered digest: %+v", idx)
	e.ok("cosign", nil, "verify", "--key", "team.pub", "--insecure-ignore-tlog=true", reg+"/models/bert@"+model.String())
	// Repeated with cairn sign, which needs only HEAD, so it signs where
	// the policy refuses to serve the unsigned manifest; then cosign
	// verifies what cairn signed.
	fresh := e.pushFile("models/t5:v1", "weights t5")
	code, _ = e.getManifest(http.MethodGet, "models/t5", "v1")
	mustf(t, code == http.StatusForbidden, "GET of an unsigned model under the policy: %d", code)
	r := runCLI(t, []string{"COSIGN_PASSWORD=" + trustPassword}, "sign", "--plain-http", "--key", filepath.Join(dir, "team.key"), reg+"/models/t5:v1")
	mustf(t, r.code == 0 && strings.Contains(r.stdout, team.ID), "cairn sign under the policy: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	code, _ = e.getManifest(http.MethodGet, "models/t5", "v1")
	mustf(t, code == http.StatusOK, "GET after cairn sign: %d", code)
	mustf(t, e.artifact("models/t5:v1").Signed, "not signed in the catalog after cairn sign")
	e.ok("cosign", nil, "verify", "--key", "team.pub", "--insecure-ignore-tlog=true", "--experimental-oci11=true", reg+"/models/t5@"+fresh.String())
	r = runCLI(t, nil, "verify", "--plain-http", "--key", filepath.Join(dir, "team.pub"), reg+"/models/t5:v1")
	mustf(t, r.code == 0 && strings.Contains(r.stdout, "Verified") && strings.Contains(r.stdout, team.ID), "cairn verify: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	// The tampered tag: no valid signature, and a verified pull refuses it.
	r = runCLI(t, nil, "verify", "--plain-http", "--key", filepath.Join(dir, "team.pub"), reg+"/models/bert:v1")
	mustf(t, r.code == 8 && strings.Contains(r.stderr, "no signatures"), "cairn verify of the tampered tag: exit %d\n%s", r.code, r.stderr)

	// Outside models/ nothing is required.
	plain := e.pushFile("datasets/abstracts:v1", "rows")
	code, _ = e.getManifest(http.MethodGet, "datasets/abstracts", "v1")
	mustf(t, code == http.StatusOK, "GET outside the policy: %d", code)

	// Signatures that must never count, on datasets/abstracts.
	size := manifestSize(t, e.c, "datasets/abstracts", plain)
	signer, err := signing.LoadPrivateKey(filepath.Join(dir, "team.key"), []byte(trustPassword))
	if err != nil {
		t.Fatal(err)
	}
	other := e.pushFile("datasets/other:v1", "other rows")
	forOther, _ := signing.NewPayload(reg+"/datasets/other", other, nil)
	forOtherSig, _ := signer.Sign(forOther)
	forPlain, _ := signing.NewPayload(reg+"/datasets/abstracts", plain, nil)
	forPlainSig, _ := signer.Sign(forPlain)
	for _, tc := range []struct {
		name, sig string
		payload   []byte
		want      string
	}{
		{"corrupt signature", "bm90IGEgc2lnbmF0dXJl", forPlain, "does not verify"},
		{"signature not base64", "%%%", forPlain, "not base64"},
		{"corrupt payload", forPlainSig, append([]byte("{"), forPlain...), "does not verify"},
		{"signature of another digest", forOtherSig, forOther, "another manifest"},
	} {
		sigManifest := e.signatureManifest("datasets/abstracts", plain, size, tc.payload, tc.sig)
		a := e.artifact("datasets/abstracts@" + plain.String())
		mustf(t, !a.Signed, "%s: artifact counts as signed: %+v", tc.name, a.Signatures)
		var rec *struct {
			Manifest string `json:"manifest"`
			Form     string `json:"form"`
			KeyID    string `json:"keyId"`
			Verified bool   `json:"verified"`
			Error    string `json:"error"`
		}
		for i := range a.Signatures {
			if a.Signatures[i].Manifest == sigManifest.String() {
				rec = &a.Signatures[i]
			}
		}
		mustf(t, rec != nil && !rec.Verified && strings.Contains(rec.Error, tc.want), "%s: record %+v, want an error saying %q", tc.name, rec, tc.want)
	}
	e.ok("cosign", nil, "sign", "--key", "other.key", "--tlog-upload=false", "--yes", reg+"/datasets/abstracts@"+plain.String())
	a = e.artifact("datasets/abstracts@" + plain.String())
	mustf(t, !a.Signed && len(a.Signatures) == 5, "after a signature by an untrusted key: %+v", a.Signatures)

	// A valid signature, then its deletion.
	good := e.signatureManifest("datasets/abstracts", plain, size, forPlain, forPlainSig)
	mustf(t, e.artifact("datasets/abstracts@"+plain.String()).Signed, "a valid hand-made signature does not count")
	code, _, body2 := do(t, http.MethodDelete, e.c.url("/v2/datasets/abstracts/manifests/"+good.String()), nil, nil)
	mustf(t, code == http.StatusAccepted, "DELETE signature: %d %s", code, body2)
	mustf(t, !e.artifact("datasets/abstracts@"+plain.String()).Signed, "still signed after its signature was deleted")

	// Distrusting the key: after a restart its signatures no longer count,
	// and the require_signature repository stops serving the model.
	e.policy(trustRule{"models/", true, []string{"other"}})
	e.c.restart()
	a = e.artifact("models/bert@" + model.String())
	mustf(t, !a.Signed && len(a.Signatures) == 1 && a.Signatures[0].KeyID == "", "after the key was removed: %+v", a.Signatures)
	code, _ = e.getManifest(http.MethodGet, "models/bert", model.String())
	mustf(t, code == http.StatusForbidden, "GET of a digest signed by a removed key: %d", code)
}
