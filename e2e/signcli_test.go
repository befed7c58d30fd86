package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/cairn-dev/cairn/signing"
)

// TestSignCLI drives cairn keygen, sign, verify and pull --verify-key
// against cairn serve (no trust policy: these are client-side checks that
// work on any registry), with the real cosign on the other side of each
// exchange, and the bad input each command must refuse clearly.
func TestSignCLI(t *testing.T) {
	dir := t.TempDir()
	e := &trustEnv{t: t, dir: dir, cfg: filepath.Join(dir, "cairn.yaml")}
	e.policy()
	e.c = startCairn(t)
	reg := e.c.addr
	cli := func(env []string, args ...string) cliResult {
		t.Helper()
		full := append([]string{args[0], "--plain-http"}, args[1:]...)
		if args[0] == "keygen" {
			full = args
		}
		cmdEnv := append([]string{"COSIGN_PASSWORD=" + trustPassword}, env...)
		r := runCLIIn(t, dir, cmdEnv, full...)
		return r
	}
	okCLI := func(args ...string) string {
		t.Helper()
		r := cli(nil, args...)
		mustf(t, r.code == 0, "cairn %s: exit %d\n%s%s\n--- server log ---\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr, e.c.log())
		return r.stdout
	}

	// Keys made by each tool.
	e.ok("cosign", nil, "generate-key-pair", "--output-key-prefix", "cosign")
	okCLI("keygen", "--output-key-prefix", "cairn")
	r := cli(nil, "keygen", "--output-key-prefix", "cairn")
	mustf(t, r.code == 2 && strings.Contains(r.stderr, "exists"), "keygen over existing files: exit %d %s", r.code, r.stderr)
	info, err := os.Stat(filepath.Join(dir, "cairn.key"))
	mustf(t, err == nil && info.Mode().Perm() == 0o600, "cairn.key mode %v, %v", info.Mode(), err)
	cosignKey, err := signing.LoadPublicKey(filepath.Join(dir, "cosign.pub"))
	if err != nil {
		t.Fatal(err)
	}
	cairnKey, err := signing.LoadPublicKey(filepath.Join(dir, "cairn.pub"))
	if err != nil {
		t.Fatal(err)
	}

	// cosign signs (legacy tag, then referrers mode), cairn verifies.
	a := e.pushFile("models/a:v1", "a")
	e.ok("cosign", nil, "sign", "--key", "cosign.key", "--tlog-upload=false", "--yes", reg+"/models/a@"+a.String())
	out := okCLI("verify", "--key", "cosign.pub", reg+"/models/a:v1")
	mustf(t, strings.Contains(out, cosignKey.ID) && strings.Contains(out, "tag") && strings.Contains(out, "time not recorded"), "cairn verify of cosign's legacy signature:\n%s", out)
	b := e.pushFile("models/b:v1", "b")
	e.ok("cosign", []string{"COSIGN_EXPERIMENTAL=1"}, "sign", "--registry-referrers-mode=oci-1-1", "--key", "cosign.key", "--tlog-upload=false", "--yes", reg+"/models/b@"+b.String())
	out = okCLI("verify", "--key", "cosign.pub", reg+"/models/b:v1")
	mustf(t, strings.Contains(out, cosignKey.ID) && strings.Contains(out, "referrer"), "cairn verify of cosign's referrer signature:\n%s", out)
	// A key cairn made works with cosign, and the other way round.
	e.ok("cosign", nil, "sign", "--key", "cairn.key", "--tlog-upload=false", "--yes", reg+"/models/b@"+b.String())
	out = okCLI("verify", "--key", "cairn.pub", reg+"/models/b:v1")
	mustf(t, strings.Contains(out, cairnKey.ID), "cairn verify of cosign's signature with cairn's key:\n%s", out)

	// cairn signs, cosign verifies: the referrer with --experimental-oci11,
	// plain cosign verify once the legacy tag is written too.
	c := e.pushFile("models/c:v1", "c")
	out = okCLI("sign", "--key", "cosign.key", "-a", "org.example.reviewed-by=ml", reg+"/models/c:v1")
	mustf(t, strings.Contains(out, c.String()) && strings.Contains(out, cosignKey.ID), "cairn sign:\n%s", out)
	e.ok("cosign", nil, "verify", "--key", "cosign.pub", "--insecure-ignore-tlog=true", "--experimental-oci11=true", "-a", "org.example.reviewed-by=ml", reg+"/models/c@"+c.String())
	_, err = e.runTool("cosign", nil, "verify", "--key", "cosign.pub", "--insecure-ignore-tlog=true", reg+"/models/c@"+c.String())
	mustf(t, err != nil, "plain cosign verify found a referrer-only signature; the docs say it needs --experimental-oci11")
	out = okCLI("sign", "--key", "cairn.key", "--legacy-tag", reg+"/models/c:v1")
	mustf(t, strings.Contains(out, signing.LegacyTag(c)), "cairn sign --legacy-tag:\n%s", out)
	e.ok("cosign", nil, "verify", "--key", "cairn.pub", "--insecure-ignore-tlog=true", reg+"/models/c@"+c.String())

	// Verified pull: unsigned refused before anything lands, signed pulled.
	u := e.pushFile("models/u:v1", "unsigned")
	r = cli(nil, "pull", "--verify-key", "cosign.pub", reg+"/models/u:v1", "-o", "out-u")
	mustf(t, r.code == 8 && strings.Contains(r.stderr, u.String()) && strings.Contains(r.stderr, "no signatures"), "pull --verify-key of an unsigned artifact: exit %d\n%s", r.code, r.stderr)
	_, err = os.Stat(filepath.Join(dir, "out-u"))
	mustf(t, os.IsNotExist(err), "a refused pull created its output directory: %v", err)
	okCLI("pull", "--verify-key", "cosign.pub", reg+"/models/c:v1", "-o", "out-c")
	got, err := os.ReadFile(filepath.Join(dir, "out-c", "models_c_v1.bin"))
	mustf(t, err == nil && string(got) == "c", "verified pull wrote %q, %v", got, err)

	// Tamper: the tag moves to unsigned content.
	e.pushFile("models/c:v1", "c, changed")
	r = cli(nil, "verify", "--key", "cosign.pub", reg+"/models/c:v1")
	mustf(t, r.code == 8 && strings.Contains(r.stderr, "no signatures"), "verify after the tag moved: exit %d\n%s", r.code, r.stderr)
	r = cli(nil, "pull", "--verify-key", "cosign.pub", reg+"/models/c:v1", "-o", "out-c")
	mustf(t, r.code == 8, "pull --verify-key after the tag moved: exit %d\n%s", r.code, r.stderr)
	got, _ = os.ReadFile(filepath.Join(dir, "out-c", "models_c_v1.bin"))
	mustf(t, string(got) == "c", "a refused pull changed the output: %q", got)

	// Bad input.
	writeFile(t, dir, "garbage.pem", []byte("not a key"))
	before := len(referrersOfDigest(t, e.c, "models/u", u))
	for _, tc := range []struct {
		name string
		env  []string
		args []string
		code int
		want string
	}{
		{"wrong key", nil, []string{"verify", "--key", "cairn.pub", reg + "/models/a:v1"}, 8, "verifies with key " + strings.TrimPrefix(cairnKey.ID, "sha256:")[:12]},
		{"wrong password", []string{"COSIGN_PASSWORD=wrong"}, []string{"sign", "--key", "cairn.key", reg + "/models/u:v1"}, 2, "COSIGN_PASSWORD"},
		{"public key to sign", nil, []string{"sign", "--key", "cairn.pub", reg + "/models/u:v1"}, 2, "private half"},
		{"private key to verify", nil, []string{"verify", "--key", "cairn.key", reg + "/models/u:v1"}, 2, "public half"},
		{"garbage key", nil, []string{"verify", "--key", "garbage.pem", reg + "/models/u:v1"}, 2, "no PEM block"},
		{"missing key", nil, []string{"sign", "--key", "nothing.key", reg + "/models/u:v1"}, 2, "no such file"},
		{"no key", nil, []string{"sign", reg + "/models/u:v1"}, 2, "--key is required"},
		{"bad reference", nil, []string{"verify", "--key", "cairn.pub", reg + "/Models/U:v1"}, 2, ""},
		{"unknown tag", nil, []string{"verify", "--key", "cairn.pub", reg + "/models/u:nope"}, 3, ""},
		{"unknown repository", nil, []string{"sign", "--key", "cairn.key", reg + "/models/none:v1"}, 3, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := cli(tc.env, tc.args...)
			mustf(t, r.code == tc.code && strings.Contains(r.stderr, tc.want), "exit %d (want %d)\n%s", r.code, tc.code, r.stderr)
		})
	}
	mustf(t, len(referrersOfDigest(t, e.c, "models/u", u)) == before, "a refused sign pushed a signature")

	// Signatures that must not verify: corrupt, and made for another digest.
	size := manifestSize(t, e.c, "models/u", u)
	signer, err := signing.LoadPrivateKey(filepath.Join(dir, "cosign.key"), []byte(trustPassword))
	if err != nil {
		t.Fatal(err)
	}
	forA, _ := signing.NewPayload(reg+"/models/a", a, nil)
	forASig, _ := signer.Sign(forA)
	e.signatureManifest("models/u", u, size, forA, forASig)
	e.signatureManifest("models/u", u, size, forA, "Y29ycnVwdA==")
	r = cli(nil, "verify", "--key", "cosign.pub", "--json", reg+"/models/u:v1")
	mustf(t, r.code == 8 && strings.Contains(r.stdout, "another manifest") && strings.Contains(r.stdout, "does not verify"), "verify of foreign and corrupt signatures: exit %d\n%s%s", r.code, r.stdout, r.stderr)
}

func referrersOfDigest(t *testing.T, c *cairn, repo string, d digest.Digest) []string {
	t.Helper()
	idx, _ := referrersOf(t, c.url(""), repo, d.String(), "")
	var out []string
	for _, m := range idx.Manifests {
		out = append(out, m.Digest)
	}
	return out
}
