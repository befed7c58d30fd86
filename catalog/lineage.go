package catalog

import (
	"github.com/opencontainers/go-digest"

	"github.com/cairn-dev/cairn/annotations"
)

// EdgeKind is how a child artifact links to its parent.
type EdgeKind string

// The kinds of edges.
const (
	// EdgeSubject: the child's manifest has the parent as its subject (OCI
	// 1.1; same repository).
	EdgeSubject EdgeKind = "subject"
	// EdgeDerivedFrom: the child's annotations.DerivedFrom names the
	// parent, in any repository or registry.
	EdgeDerivedFrom EdgeKind = "derived-from"
)

// Node is an artifact of the lineage graph: by digest, in this registry
// (Registry "") or in another.
type Node struct {
	Registry   string
	Repository string
	Digest     digest.Digest
}

// Edge links an artifact to one it was made from or refers to.
type Edge struct {
	Child  Node
	Parent Node
	Kind   EdgeKind
}

// Direction is which way a lineage walk goes.
type Direction int

// The directions of a lineage walk.
const (
	// Up walks from children to parents: where an artifact came from.
	Up Direction = iota
	// Down walks from parents to children: what was made from it.
	Down
)

// EdgesOf returns the edges that m records: to its subject, and to each
// reference of its annotations.DerivedFrom annotation. A malformed
// annotation records no edges (the façade refuses such pushes; content
// that reached storage another way is indexed without them).
func EdgesOf(m Manifest) []Edge {
	child := Node{Repository: m.Repository, Digest: m.Digest}
	var es []Edge
	if m.Subject != "" {
		es = append(es, Edge{Child: child, Parent: Node{Repository: m.Repository, Digest: m.Subject}, Kind: EdgeSubject})
	}
	if v, ok := m.Annotations[annotations.DerivedFrom]; ok {
		refs, err := annotations.ParseDerivedFrom(v)
		if err == nil {
			for _, r := range refs {
				es = append(es, Edge{Child: child, Parent: Node{Registry: r.Registry, Repository: r.Repository, Digest: r.Digest}, Kind: EdgeDerivedFrom})
			}
		}
	}
	return es
}
