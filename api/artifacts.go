package api

import (
	"time"

	"github.com/opencontainers/go-digest"
)

// Artifact is one manifest in one repository, as the catalog indexed it:
// an element of GET /api/v1/artifacts and the answer of
// GET /api/v1/artifacts/{reference}.
type Artifact struct {
	Repository   string        `json:"repository"`
	Digest       digest.Digest `json:"digest"`
	MediaType    string        `json:"mediaType"`
	ArtifactType string        `json:"artifactType,omitempty"`
	// Size is what a full pull moves: the manifest and every blob it lists.
	Size         int64             `json:"size"`
	ManifestSize int64             `json:"manifestSize"`
	Tags         []string          `json:"tags"`
	Annotations  map[string]string `json:"annotations"`
	// Subject is the manifest this one refers to; empty when none.
	Subject   digest.Digest `json:"subject,omitempty"`
	Config    *Layer        `json:"config,omitempty"`
	Layers    []Layer       `json:"layers"`
	Manifests []Layer       `json:"manifests,omitempty"`
	PushedAt  time.Time     `json:"pushedAt"`
	// Signed: at least one signature verified with a trusted key.
	Signed     bool        `json:"signed"`
	Signatures []Signature `json:"signatures"`
	// Visibility is answered for one artifact, with access control on:
	// staged, private, unlisted or public.
	Visibility string `json:"visibility,omitempty"`
	// Referrers is answered for one artifact, not in lists: the artifacts
	// of its repository whose subject it is.
	Referrers []Artifact `json:"referrers,omitempty"`
}

// Layer is a descriptor a manifest lists: its config, a layer, or one of an
// index's child manifests.
type Layer struct {
	MediaType    string            `json:"mediaType"`
	Digest       digest.Digest     `json:"digest"`
	Size         int64             `json:"size"`
	ArtifactType string            `json:"artifactType,omitempty"`
	Title        string            `json:"title,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
}

// Signature is the verification record of one cosign signature of an
// artifact.
type Signature struct {
	// Manifest is the signature manifest; Position its payload layer.
	Manifest digest.Digest `json:"manifest"`
	Position int           `json:"position"`
	// Form is how the signature reaches the artifact: "referrer" or "tag".
	Form string `json:"form"`
	// KeyID is the trusted key it verified with, "" when none did.
	KeyID    string    `json:"keyId"`
	Verified bool      `json:"verified"`
	SignedAt time.Time `json:"signedAt"`
	// Error says why the signature did not verify.
	Error string `json:"error,omitempty"`
}

// ArtifactPage is one page of GET /api/v1/artifacts.
type ArtifactPage struct {
	Artifacts []Artifact `json:"artifacts"`
	// NextPageToken continues the list; empty on the last page.
	NextPageToken string `json:"nextPageToken,omitempty"`
}

// PromotionRequest is the optional body of
// POST /api/v1/artifacts/{reference}/promote.
type PromotionRequest struct {
	To string `json:"to,omitempty"`
}

// Promotion is what POST /api/v1/artifacts/{reference}/promote answers.
type Promotion struct {
	Repository string        `json:"repository"`
	Digest     digest.Digest `json:"digest"`
	// Visibility is the artifact's now: private, unlisted or public.
	Visibility string `json:"visibility"`
	// Changed lists repository@digest of every artifact whose visibility
	// moved: the one named, an index's manifests, its signatures and
	// attachments.
	Changed []string `json:"changed"`
}

// Deleted is the body of a manifest DELETE that cascaded
// (DELETE /v2/{name}/manifests/{digest}?cascade=true): repository@digest
// of every manifest deleted, the named one last.
type Deleted struct {
	Deleted []string `json:"deleted"`
}
