// Package signing signs and verifies cosign signatures of OCI manifests
// with keys in cosign's format, offline: no transparency log and no
// certificate authority is reached. A signature is cosign's "simple signing"
// payload (which names the signed manifest's digest) signed with the key,
// carried base64-encoded in the annotations of a layer of a signature
// manifest. That manifest reaches the signed one in either of cosign's two
// ways: as an OCI 1.1 referrer (subject) of artifactType ArtifactType, or
// under the legacy tag sha256-<hex>.sig in the same repository.
//
// Keyless signing (Fulcio certificates, Rekor entries) is not done here; a
// Verifier for it would sit beside the key-based one.
package signing

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/opencontainers/go-digest"
)

const (
	// ArtifactType marks a signature manifest stored as a referrer, as
	// cosign writes it in its OCI 1.1 mode.
	ArtifactType = "application/vnd.dev.cosign.artifact.sig.v1+json"
	// PayloadMediaType is the media type of the layer holding the payload.
	PayloadMediaType = "application/vnd.dev.cosign.simplesigning.v1+json"
	// SignatureAnnotation is the layer annotation holding the base64
	// signature of the layer's bytes.
	SignatureAnnotation = "dev.cosignproject.cosign/signature"
	// CertificateAnnotation and BundleAnnotation are where keyless
	// signatures keep their certificate and transparency log entry; they
	// are read, not checked (see the package comment).
	CertificateAnnotation = "dev.sigstore.cosign/certificate"
	BundleAnnotation      = "dev.sigstore.cosign/bundle"
)

// legacyTag is cosign's tag for the signatures of sha256:<hex>.
var legacyTag = regexp.MustCompile(`^sha256-([a-f0-9]{64})\.sig$`)

// LegacyTag returns the tag under which cosign's legacy scheme keeps the
// signatures of dgst.
func LegacyTag(dgst digest.Digest) string {
	return fmt.Sprintf("%s-%s.sig", dgst.Algorithm(), dgst.Encoded())
}

// ParseLegacyTag returns the digest whose signatures tag holds, and false if
// tag is not a signature tag.
func ParseLegacyTag(tag string) (digest.Digest, bool) {
	m := legacyTag.FindStringSubmatch(tag)
	if m == nil {
		return "", false
	}
	return digest.NewDigestFromEncoded(digest.SHA256, m[1]), true
}

// IsSignatureManifest reports whether a manifest with this artifactType (or
// config media type) and tag is a cosign signature manifest.
func IsSignatureManifest(artifactType, tag string) bool {
	if artifactType == ArtifactType {
		return true
	}
	_, ok := ParseLegacyTag(tag)
	return ok
}

// Form says how a signature manifest reaches what it signs.
type Form string

const (
	FormReferrer Form = "referrer"
	FormTag      Form = "tag"
)

// shortKeyID is the first 12 hex digits of a key id, for messages.
func shortKeyID(id string) string {
	hex := strings.TrimPrefix(id, "sha256:")
	if len(hex) > 12 {
		hex = hex[:12]
	}
	return hex
}
