package signing

import (
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

func newSigner(t testing.TB, password string) (*Signer, *PublicKey) {
	t.Helper()
	priv, pub, err := GenerateKeyPair([]byte(password))
	if err != nil {
		t.Fatal(err)
	}
	s, err := ParsePrivateKey(priv, []byte(password))
	if err != nil {
		t.Fatal(err)
	}
	k, err := ParsePublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	if s.Key.ID != k.ID {
		t.Fatalf("signer's key id %s differs from the public file's %s", s.Key.ID, k.ID)
	}
	return s, k
}

func TestKeyFiles(t *testing.T) {
	priv, pub, err := GenerateKeyPair([]byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(priv), "ENCRYPTED SIGSTORE PRIVATE KEY") {
		t.Fatalf("private key is not in cosign's format:\n%s", priv)
	}
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	privPath, pubPath := write("cosign.key", priv), write("cosign.pub", pub)
	garbage := write("garbage", []byte("not a key"))

	if _, err := LoadPrivateKey(privPath, []byte("pw")); err != nil {
		t.Fatalf("right password: %v", err)
	}
	if k, err := LoadPublicKey(pubPath); err != nil || k.Algorithm != "ecdsa-p256" || !strings.HasPrefix(k.ID, "sha256:") {
		t.Fatalf("public key: %+v, %v", k, err)
	}
	for _, tc := range []struct {
		name string
		err  func() error
		want string
	}{
		{"wrong password", func() error { _, err := LoadPrivateKey(privPath, []byte("nope")); return err }, "COSIGN_PASSWORD"},
		{"empty password for a protected key", func() error { _, err := LoadPrivateKey(privPath, nil); return err }, "COSIGN_PASSWORD"},
		{"missing private key", func() error { _, err := LoadPrivateKey(filepath.Join(dir, "none"), nil); return err }, "no such file"},
		{"public key given to sign", func() error { _, err := LoadPrivateKey(pubPath, nil); return err }, "private half"},
		{"garbage private key", func() error { _, err := LoadPrivateKey(garbage, nil); return err }, "no PEM block"},
		{"private key given to verify", func() error { _, err := LoadPublicKey(privPath); return err }, "public half"},
		{"garbage public key", func() error { _, err := LoadPublicKey(garbage); return err }, "no PEM block"},
		{"unreadable public key", func() error { _, err := LoadPublicKey(dir); return err }, "reading public key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.err()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one saying %q", err, tc.want)
			}
		})
	}
	if _, err := LoadPrivateKey(privPath, []byte("nope")); !errors.Is(err, ErrWrongPassword) {
		t.Fatalf("wrong password is %v, not ErrWrongPassword", err)
	}
}

func TestVerify(t *testing.T) {
	signer, key := newSigner(t, "")
	_, other := newSigner(t, "")
	subject := digest.FromString("model")
	payload, err := NewPayload("localhost:5000/models/m", subject, map[string]any{"by": "ci"})
	if err != nil {
		t.Fatal(err)
	}
	sig, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	foreignPayload, _ := NewPayload("localhost:5000/models/m", digest.FromString("other"), nil)
	foreignSig, _ := signer.Sign(foreignPayload)
	notCosign := []byte(`{"critical":{"type":"something else"}}`)
	notCosignSig, _ := signer.Sign(notCosign)
	flipped := []byte(sig)
	flipped[10] ^= 1

	for _, tc := range []struct {
		name    string
		payload []byte
		sig     string
		keys    []*PublicKey
		wantKey string
		wantErr error
	}{
		{"valid", payload, sig, []*PublicKey{key}, key.ID, nil},
		{"valid among several keys", payload, sig, []*PublicKey{other, key}, key.ID, nil},
		{"wrong key", payload, sig, []*PublicKey{other}, "", ErrNoTrustedKey},
		{"no keys", payload, sig, nil, "", ErrNoTrustedKey},
		{"payload changed", append([]byte(" "), payload...), sig, []*PublicKey{key}, "", ErrNoTrustedKey},
		{"signature changed", payload, string(flipped), []*PublicKey{key}, "", nil},
		{"not base64", payload, "@@@", []*PublicKey{key}, "", ErrBadEncoding},
		{"no signature", payload, "", []*PublicKey{key}, "", ErrNoSignature},
		{"random bytes", payload, base64.StdEncoding.EncodeToString([]byte("xx")), []*PublicKey{key}, "", ErrNoTrustedKey},
		{"signature for another digest", foreignPayload, foreignSig, []*PublicKey{key}, key.ID, ErrWrongDigest},
		{"signed payload of another type", notCosign, notCosignSig, []*PublicKey{key}, key.ID, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Verify(tc.payload, tc.sig, subject, tc.keys)
			valid := tc.name == "valid" || tc.name == "valid among several keys"
			if r.Verified != valid {
				t.Fatalf("Verified = %v (err %v), want %v", r.Verified, r.Err, valid)
			}
			if r.KeyID != tc.wantKey {
				t.Errorf("KeyID = %q, want %q", r.KeyID, tc.wantKey)
			}
			if !valid && r.Err == nil {
				t.Fatal("an unverified signature carries no reason")
			}
			if tc.wantErr != nil && !errors.Is(r.Err, tc.wantErr) {
				t.Errorf("error %v, want %v", r.Err, tc.wantErr)
			}
		})
	}
	r := Verify(payload, sig, subject, []*PublicKey{key})
	if r.Claim.Reference != "localhost:5000/models/m" || r.Claim.Annotations["by"] != "ci" {
		t.Errorf("claim %+v", r.Claim)
	}
}

func TestLegacyTag(t *testing.T) {
	d := digest.FromString("x")
	tag := LegacyTag(d)
	if got, ok := ParseLegacyTag(tag); !ok || got != d {
		t.Fatalf("ParseLegacyTag(%q) = %s, %v", tag, got, ok)
	}
	for _, tag := range []string{"latest", "sha256-abc.sig", "sha512-" + strings.Repeat("a", 64) + ".sig", "sha256-" + strings.Repeat("a", 64) + ".att", "sha256-" + strings.Repeat("A", 64) + ".sig"} {
		if _, ok := ParseLegacyTag(tag); ok {
			t.Errorf("%q taken for a signature tag", tag)
		}
	}
	if !IsSignatureManifest(ArtifactType, "") || !IsSignatureManifest("application/vnd.oci.image.config.v1+json", tag) || IsSignatureManifest("application/vnd.oci.image.config.v1+json", "v1") {
		t.Error("IsSignatureManifest")
	}
}

func TestTrust(t *testing.T) {
	_, a := newSigner(t, "")
	_, b := newSigner(t, "")
	tr, err := NewTrust([]PrefixTrust{
		{Prefix: "", Keys: []*PublicKey{a}},
		{Prefix: "models/", Keys: []*PublicKey{b}, RequireSignature: true},
		{Prefix: "models/open/", Keys: []*PublicKey{a, b}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for repo, want := range map[string]string{"datasets/x": "", "models/x": "models/", "models/open/y": "models/open/", "models": ""} {
		r, ok := tr.For(repo)
		if !ok || r.Prefix != want {
			t.Errorf("For(%q) = %q, %v; want %q", repo, r.Prefix, ok, want)
		}
	}
	fp := tr.Fingerprint()
	tr2, _ := NewTrust([]PrefixTrust{{Prefix: "", Keys: []*PublicKey{a}}, {Prefix: "models/", Keys: []*PublicKey{b}, RequireSignature: true}})
	if tr2.Fingerprint() == fp {
		t.Error("removing a rule left the fingerprint unchanged")
	}
	if (*Trust)(nil).Fingerprint() == fp {
		t.Error("no trust has the same fingerprint as some")
	}
	if _, ok := (*Trust)(nil).For("x"); ok {
		t.Error("nil trust governs a repository")
	}
	if _, err := NewTrust([]PrefixTrust{{Prefix: "a"}, {Prefix: "a"}}); err == nil {
		t.Error("duplicate prefix accepted")
	}
	if _, err := NewTrust([]PrefixTrust{{Prefix: "a", RequireSignature: true}}); err == nil {
		t.Error("a rule requiring signatures with no key accepted")
	}
}

// BenchmarkVerify measures checking one signature against one key: the
// work the server does per signature pushed.
func BenchmarkVerify(b *testing.B) {
	signer, key := newSigner(b, "")
	subject := digest.FromString("model")
	payload, _ := NewPayload("localhost:5000/models/m", subject, nil)
	sig, _ := signer.Sign(payload)
	b.ReportAllocs()
	for b.Loop() {
		if r := Verify(payload, sig, subject, []*PublicKey{key}); !r.Verified {
			b.Fatal(r.Err)
		}
	}
}
