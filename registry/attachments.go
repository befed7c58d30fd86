package registry

import "github.com/cairn-dev/cairn/catalog"

// attachmentTypes are the artifact types of signatures, SBOMs and
// attestations: attached to an artifact by subject, but not made from it.
var attachmentTypes = map[string]bool{
	"application/vnd.dev.cosign.artifact.sig.v1+json":      true,
	"application/vnd.dev.cosign.simplesigning.v1+json":     true,
	"application/vnd.dev.sigstore.bundle.v0.3+json":        true,
	"application/vnd.dev.sigstore.bundle+json;version=0.3": true,
	"application/vnd.cncf.notary.signature":                true,
	"application/vnd.in-toto+json":                         true,
	"application/vnd.dsse.envelope.v1+json":                true,
	"application/spdx+json":                                true,
	"application/vnd.cyclonedx+json":                       true,
	"application/vnd.syft+json":                            true,
}

// IsAttachment reports whether artifacts of artifactType are attachments
// (signatures, SBOMs, attestations): lineage walks report them on their
// subject instead of as children, deletes take them along, promotions
// raise them with their subject.
func IsAttachment(artifactType string) bool { return attachmentTypes[artifactType] }

// NodeRef is how a lineage node is named: repository@digest, or
// registry/repository@digest for content elsewhere.
func NodeRef(n catalog.Node) string {
	s := n.Repository + "@" + n.Digest.String()
	if n.Registry != "" {
		s = n.Registry + "/" + s
	}
	return s
}
