package storetest

import (
	"cmp"
	"errors"
	"reflect"
	"slices"
	"testing"

	"github.com/cairn-dev/cairn/catalog"
)

func testSignatures(t *testing.T, s catalog.Store) {
	ctx := t.Context()
	signed := image("models/a", "signed", at(0))
	unsigned := image("models/a", "unsigned", at(1))
	badlySigned := image("models/b", "badly signed", at(2))
	sig := referrer("models/a", "sig", signed.Digest, atSig, at(3))
	for _, m := range []catalog.Manifest{signed, unsigned, badlySigned, sig} {
		put(t, s, m)
	}
	// A legacy signature tag in models/b, and one for a manifest the
	// catalog does not hold.
	legacy := referrer("models/b", "legacy", "", mtConfig, at(4))
	put(t, s, legacy)
	tag(t, s, legacy, "sha256-"+badlySigned.Digest.Encoded()+".sig")
	tag(t, s, legacy, "sha256-"+dg("elsewhere").Encoded()+".sig")
	tag(t, s, legacy, "sha256-short.sig")

	subjects, err := s.SignatureSubjects(ctx, "", atSig)
	if err != nil {
		t.Fatal(err)
	}
	want := []catalog.Node{
		{Repository: "models/a", Digest: signed.Digest},
		{Repository: "models/b", Digest: dg("elsewhere")},
		{Repository: "models/b", Digest: badlySigned.Digest},
	}
	sortNodes(want)
	if !reflect.DeepEqual(subjects, want) {
		t.Errorf("SignatureSubjects = %v, want %v", subjects, want)
	}
	if subjects, err := s.SignatureSubjects(ctx, "models/a", atSig); err != nil || len(subjects) != 1 {
		t.Errorf("SignatureSubjects(models/a) = %v, %v; want 1", subjects, err)
	}

	good := catalog.Signature{Manifest: sig.Digest, Form: "referrer", KeyID: "sha256:k1", Verified: true, SignedAt: at(3)}
	bad := catalog.Signature{Manifest: legacy.Digest, Position: 1, Form: "tag", Error: "the signature does not verify", SignedAt: at(4)}
	if err := s.SetSignatures(ctx, signed.Repository, signed.Digest, []catalog.Signature{good}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetSignatures(ctx, badlySigned.Repository, badlySigned.Digest, []catalog.Signature{bad}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetSignatures(ctx, "models/b", dg("elsewhere"), []catalog.Signature{bad}); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("SetSignatures of a manifest not in the catalog: %v, want ErrNotFound", err)
	}
	signed.Signatures = []catalog.Signature{good}
	badlySigned.Signatures = []catalog.Signature{bad}
	assertManifest(t, get(t, s, signed.Repository, signed.Digest), signed)
	assertManifest(t, get(t, s, badlySigned.Repository, badlySigned.Digest), badlySigned)

	yes, no := true, false
	names := func(q catalog.Query) []string {
		var out []string
		for _, m := range artifacts(t, s, q, catalog.Sort{}, 100, nil).Artifacts {
			out = append(out, m.Repository+"@"+m.Annotations[annCreated]+m.Annotations["org.opencontainers.image.name"])
			if m.Digest == signed.Digest {
				assertManifest(t, m, signed)
			}
		}
		return out
	}
	if got := names(catalog.Query{Signed: &yes}); !reflect.DeepEqual(got, []string{"models/a@2024-05-06T07:08:09Zsigned"}) {
		t.Errorf("signed=true: %q", got)
	}
	if got := names(catalog.Query{Signed: &no, RepositoryPrefix: "models/"}); len(got) != 4 {
		t.Errorf("signed=false: %q, want the 4 others", got)
	}

	// Replacing, then removing.
	if err := s.SetSignatures(ctx, signed.Repository, signed.Digest, []catalog.Signature{bad}); err != nil {
		t.Fatal(err)
	}
	if got := names(catalog.Query{Signed: &yes}); len(got) != 0 {
		t.Errorf("signed=true after the good signature was replaced: %q", got)
	}
	if err := s.SetSignatures(ctx, signed.Repository, signed.Digest, nil); err != nil {
		t.Fatal(err)
	}
	signed.Signatures = nil
	assertManifest(t, get(t, s, signed.Repository, signed.Digest), signed)

	// Records go with their manifest, and a re-push keeps them.
	put(t, s, badlySigned)
	assertManifest(t, get(t, s, badlySigned.Repository, badlySigned.Digest), badlySigned)
	if err := s.DeleteManifest(ctx, badlySigned.Repository, badlySigned.Digest); err != nil {
		t.Fatal(err)
	}
	put(t, s, badlySigned)
	badlySigned.Signatures = nil
	assertManifest(t, get(t, s, badlySigned.Repository, badlySigned.Digest), badlySigned)

	// Settings.
	if v, err := s.Setting(ctx, "trust"); err != nil || v != "" {
		t.Errorf("unset setting = %q, %v", v, err)
	}
	for _, v := range []string{"a", "b"} {
		if err := s.SetSetting(ctx, "trust", v); err != nil {
			t.Fatal(err)
		}
		if got, err := s.Setting(ctx, "trust"); err != nil || got != v {
			t.Errorf("setting = %q, %v; want %q", got, err, v)
		}
	}
}

func sortNodes(ns []catalog.Node) {
	slices.SortFunc(ns, func(a, b catalog.Node) int {
		return cmp.Or(cmp.Compare(a.Repository, b.Repository), cmp.Compare(a.Digest, b.Digest))
	})
}
