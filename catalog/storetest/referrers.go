package storetest

import (
	"testing"

	"github.com/cairn-dev/cairn/catalog"
)

// testReferrers lists the referrers of a subject: complete entries, oldest
// push first then by digest, filtered by artifactType, per repository.
func testReferrers(t *testing.T, s catalog.Store) {
	subject := image("r", "subject", at(0))
	sig1 := referrer("r", "sig1", subject.Digest, atSig, at(5))
	sig2 := referrer("r", "sig2", subject.Digest, atSig, at(5))
	sbom := referrer("r", "sbom", subject.Digest, atSBOM, at(1))
	late := referrer("r", "late", subject.Digest, atSBOM, at(9))
	elsewhere := referrer("r2", "elsewhere", subject.Digest, atSig, at(2))
	unrelated := referrer("r", "unrelated", dg("another subject"), atSig, at(3))
	// Put in an order that is neither push order nor digest order.
	put(t, s, late, sig2, subject, unrelated, sig1, elsewhere, sbom)
	tag(t, s, sig1, "sig")

	sigs := []catalog.Manifest{sig1, sig2}
	if sigs[1].Digest < sigs[0].Digest {
		sigs[0], sigs[1] = sigs[1], sigs[0]
	}
	for i := range sigs {
		if sigs[i].Digest == sig1.Digest {
			sigs[i] = withTags(sigs[i], "sig")
		}
	}

	all := []catalog.Manifest{sbom, sigs[0], sigs[1], late}
	assertManifests(t, "Referrers(all)", referrers(t, s, "r", subject.Digest, ""), all)
	assertManifests(t, "Referrers(sig)", referrers(t, s, "r", subject.Digest, atSig), sigs)
	assertManifests(t, "Referrers(sbom)", referrers(t, s, "r", subject.Digest, atSBOM), []catalog.Manifest{sbom, late})
	assertManifests(t, "Referrers(r2)", referrers(t, s, "r2", subject.Digest, ""), []catalog.Manifest{elsewhere})
	assertManifests(t, "Referrers(unrelated)", referrers(t, s, "r", dg("another subject"), ""), []catalog.Manifest{unrelated})
	assertManifests(t, "Referrers(other type)", referrers(t, s, "r", subject.Digest, "application/vnd.none"), nil)
	assertManifests(t, "Referrers(type prefix)", referrers(t, s, "r", subject.Digest, "application/spdx"), nil)

	// Re-putting a referrer keeps its place in push order.
	sbom2 := withPushedAt(sbom, at(100))
	put(t, s, sbom2)
	assertManifests(t, "Referrers(all) after re-put", referrers(t, s, "r", subject.Digest, ""), all)
}

// testReferrersEmpty lists referrers where there are none: an empty, non-nil
// slice and no error.
func testReferrersEmpty(t *testing.T, s catalog.Store) {
	assertManifests(t, "Referrers in an empty store", referrers(t, s, "r", dg("x"), ""), nil)
	subject := image("r", "subject", at(0))
	put(t, s, subject)
	assertManifests(t, "Referrers of a manifest without any", referrers(t, s, "r", subject.Digest, ""), nil)
	assertManifests(t, "Referrers of an unknown subject", referrers(t, s, "r", dg("unknown"), atSig), nil)
	assertManifests(t, "Referrers in an unknown repository", referrers(t, s, "nope", subject.Digest, ""), nil)
}

// testReferrersOfDeletedSubject deletes a subject: its referrers stay (the
// spec lets referrers be pushed before, and outlive, their subject).
func testReferrersOfDeletedSubject(t *testing.T, s catalog.Store) {
	subject := image("r", "subject", at(0))
	ref := referrer("r", "sig", subject.Digest, atSig, at(1))
	put(t, s, ref)
	assertManifests(t, "Referrers before the subject is pushed", referrers(t, s, "r", subject.Digest, ""), []catalog.Manifest{ref})
	put(t, s, subject)
	if err := s.DeleteManifest(t.Context(), "r", subject.Digest); err != nil {
		t.Fatalf("DeleteManifest: %v", err)
	}
	assertManifests(t, "Referrers after the subject is deleted", referrers(t, s, "r", subject.Digest, ""), []catalog.Manifest{ref})
}
