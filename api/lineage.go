package api

import "github.com/opencontainers/go-digest"

// Lineage is what GET /api/v1/lineage/{reference} answers: the graph
// around the root.
type Lineage struct {
	// Root is the Ref of the node the walk started from.
	Root  string        `json:"root"`
	Nodes []LineageNode `json:"nodes"`
	Edges []LineageEdge `json:"edges"`
}

// LineageNode is an artifact of a lineage graph.
type LineageNode struct {
	// Ref is how edges name the node: repository@digest, or
	// registry/repository@digest for content elsewhere.
	Ref          string            `json:"ref"`
	Registry     string            `json:"registry,omitempty"`
	Repository   string            `json:"repository"`
	Digest       digest.Digest     `json:"digest"`
	ArtifactType string            `json:"artifactType,omitempty"`
	Tags         []string          `json:"tags"`
	Annotations  map[string]string `json:"annotations"`
	// Present says whether cairn holds the artifact: a reference to one
	// it does not (yet) hold is a node all the same.
	Present bool `json:"present"`
	// Signed: a signature verified with a trusted key.
	Signed bool `json:"signed"`
	// Attachments are the signatures, SBOMs and attestations attached to
	// the node, unless the walk made them nodes.
	Attachments []Attachment `json:"attachments,omitempty"`
	// Depth is the node's distance from the root in edges: negative
	// upward.
	Depth int `json:"depth"`
}

// Attachment is a signature, SBOM or attestation attached to a node.
type Attachment struct {
	Digest       digest.Digest `json:"digest"`
	ArtifactType string        `json:"artifactType"`
}

// LineageEdge links a child to its parent, both named by their Ref.
type LineageEdge struct {
	Child  string `json:"child"`
	Parent string `json:"parent"`
	// Kind is "subject" or "derived-from".
	Kind string `json:"kind"`
}

// Impact is what GET /api/v1/lineage/{reference}/impact answers: what was
// made from the root, by distance.
type Impact struct {
	Root   string        `json:"root"`
	Total  int           `json:"total"`
	Levels []ImpactLevel `json:"levels"`
}

// ImpactLevel is the artifacts at one distance below the root.
type ImpactLevel struct {
	Depth     int           `json:"depth"`
	Artifacts []LineageNode `json:"artifacts"`
}
