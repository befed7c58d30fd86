package registry

import (
	"context"
	"errors"
	"slices"

	"github.com/opencontainers/go-digest"

	"github.com/cairn-dev/cairn/api"
	"github.com/cairn-dev/cairn/auth"
	"github.com/cairn-dev/cairn/catalog"
	"github.com/cairn-dev/cairn/errcode"
	"github.com/cairn-dev/cairn/signing"
)

// LineageQuery asks for the lineage of one artifact (by Tag, or by Digest
// when Tag is "").
type LineageQuery struct {
	Repository string
	Tag        string
	Digest     digest.Digest
	// Directions are the walks: catalog.Up (provenance), catalog.Down
	// (impact), or both.
	Directions []catalog.Direction
	// Depth bounds each walk (0: no bound; walks end at nodes seen).
	Depth int
	// IncludeAttachments keeps signatures, SBOMs and attestations as nodes
	// instead of listing them on their subject's node.
	IncludeAttachments bool
	// ArtifactType, when set, keeps only the nodes of that type (and the
	// root).
	ArtifactType string
	By           auth.Principal
}

// Lineage walks the lineage graph from an artifact and returns the nodes
// and edges the caller may see: what they may not see is left out with
// its edges, and walks do not pass through it. The answer is in the
// catalog API's shape, which every front door draws from.
func (r *Registry) Lineage(ctx context.Context, q LineageQuery) (api.Lineage, error) {
	repo, dgst := q.Repository, q.Digest
	if q.Tag != "" {
		var err error
		if dgst, err = r.store.ResolveTag(ctx, repo, q.Tag); err != nil {
			return api.Lineage{}, NotFoundOr(err, "no tag %s in repository %s", q.Tag, repo)
		}
	}
	root := catalog.Node{Repository: repo, Digest: dgst}
	g := &lineageGraph{r: r, ctx: ctx, nodes: map[catalog.Node]*lineageNode{}, viewer: r.policy.Viewer(q.By, false), root: root, rootByDigest: q.Tag == ""}
	rootNode, err := g.node(root)
	if err != nil {
		return api.Lineage{}, err
	}
	if rootNode.hidden {
		return api.Lineage{}, errcode.New(errcode.NotFound, "no artifact %s in repository %s, and nothing refers to it", dgst, repo)
	}
	for _, dir := range q.Directions {
		es, err := r.store.Lineage(ctx, root, dir, q.Depth)
		if err != nil {
			return api.Lineage{}, CatalogUnavailable(err)
		}
		if err := g.prefetch(es); err != nil {
			return api.Lineage{}, err
		}
		if err := g.walk(root, dir, es, q.IncludeAttachments); err != nil {
			return api.Lineage{}, err
		}
	}
	if !rootNode.Present && len(g.edges) == 0 {
		return api.Lineage{}, errcode.New(errcode.NotFound, "no artifact %s in repository %s, and nothing refers to it", dgst, repo)
	}

	var nodes []api.LineageNode
	for _, n := range g.order {
		jn := g.nodes[n]
		if jn.hidden || (n != root && q.ArtifactType != "" && jn.ArtifactType != q.ArtifactType) {
			continue
		}
		nodes = append(nodes, jn.LineageNode)
	}
	kept := map[string]bool{}
	for _, n := range nodes {
		kept[n.Ref] = true
	}
	edges := []api.LineageEdge{}
	for _, e := range g.edges {
		if kept[e.Child] && kept[e.Parent] {
			edges = append(edges, e)
		}
	}
	return api.Lineage{Root: NodeRef(root), Nodes: nodes, Edges: edges}, nil
}

// lineageNode is a node of an answer being built: the API's node, and
// whether the caller may see it.
type lineageNode struct {
	api.LineageNode
	// hidden: the caller may not see it; it and its edges are left out.
	hidden bool
}

// lineageGraph collects the nodes and edges of one answer.
type lineageGraph struct {
	r     *Registry
	ctx   context.Context
	nodes map[catalog.Node]*lineageNode
	order []catalog.Node // first seen first
	edges []api.LineageEdge
	seen  map[api.LineageEdge]bool
	// viewer is who asks; the root is theirs to see by digest when they
	// named it so.
	viewer       *catalog.Viewer
	root         catalog.Node
	rootByDigest bool
	// read holds the manifests of the walks' nodes, read in one batch;
	// a node in it as nil is not in the catalog.
	read map[catalog.Node]*catalog.Manifest
}

// prefetch reads the manifests of every node of es not read yet, in one
// batch: a walk of thousands of nodes would otherwise read them one by
// one.
func (g *lineageGraph) prefetch(es []catalog.Edge) error {
	if g.read == nil {
		g.read = map[catalog.Node]*catalog.Manifest{}
	}
	var want []catalog.Node
	for _, e := range es {
		for _, n := range []catalog.Node{e.Child, e.Parent} {
			if _, ok := g.read[n]; !ok && n.Registry == "" {
				g.read[n] = nil
				want = append(want, n)
			}
		}
	}
	if len(want) == 0 {
		return nil
	}
	ms, err := g.r.store.Manifests(g.ctx, want)
	if err != nil {
		return CatalogUnavailable(err)
	}
	for i := range ms {
		g.read[catalog.Node{Repository: ms[i].Repository, Digest: ms[i].Digest}] = &ms[i]
	}
	return nil
}

// manifest returns node n's manifest: from the batch read, or read now.
func (g *lineageGraph) manifest(n catalog.Node) (catalog.Manifest, error) {
	if m, ok := g.read[n]; ok {
		if m == nil {
			return catalog.Manifest{}, catalog.ErrNotFound
		}
		return *m, nil
	}
	return g.r.store.Manifest(g.ctx, n.Repository, n.Digest)
}

// node returns the answer's node n, reading it from the catalog the first
// time.
func (g *lineageGraph) node(n catalog.Node) (*lineageNode, error) {
	if jn, ok := g.nodes[n]; ok {
		return jn, nil
	}
	jn := &lineageNode{LineageNode: api.LineageNode{Ref: NodeRef(n), Registry: n.Registry, Repository: n.Repository, Digest: n.Digest, Tags: []string{}, Annotations: map[string]string{}}}
	if n.Registry == "" {
		m, err := g.manifest(n)
		switch {
		case err == nil && !g.sees(n, m):
			jn.hidden = true
		case err == nil:
			jn.Present, jn.ArtifactType = true, m.ArtifactType
			if m.Tags != nil {
				jn.Tags = m.Tags
			}
			if m.Annotations != nil {
				jn.Annotations = m.Annotations
			}
			for _, sg := range m.Signatures {
				jn.Signed = jn.Signed || sg.Verified
				// Signatures under cosign's legacy tag have no edge to
				// find them by.
				if sg.Form == string(signing.FormTag) && !slices.ContainsFunc(jn.Attachments, func(a api.Attachment) bool { return a.Digest == sg.Manifest }) {
					jn.Attachments = append(jn.Attachments, api.Attachment{Digest: sg.Manifest, ArtifactType: signing.ArtifactType})
				}
			}
		case !errors.Is(err, catalog.ErrNotFound):
			return nil, CatalogUnavailable(err)
		}
	}
	g.nodes[n] = jn
	g.order = append(g.order, n)
	return jn, nil
}

// sees reports whether the caller may see node n, held as m.
func (g *lineageGraph) sees(n catalog.Node, m catalog.Manifest) bool {
	if g.viewer == nil {
		return true
	}
	v := *g.viewer
	v.ByDigest = n == g.root && g.rootByDigest
	return v.Sees(n.Repository, m.Owner, m.Visibility)
}

// walk adds the nodes and edges of one walk from root, breadth first, so
// that each node's depth is its shortest distance. Attachments (by
// artifact type, linked by subject) go on their parent's node instead,
// with what hangs below them, unless includeAttachments.
func (g *lineageGraph) walk(root catalog.Node, dir catalog.Direction, es []catalog.Edge, includeAttachments bool) error {
	if g.seen == nil {
		g.seen = map[api.LineageEdge]bool{}
	}
	next := map[catalog.Node][]catalog.Edge{}
	for _, e := range es {
		from := e.Child
		if dir == catalog.Down {
			from = e.Parent
		}
		next[from] = append(next[from], e)
	}
	sign := -1
	if dir == catalog.Down {
		sign = 1
	}
	visited := map[catalog.Node]bool{root: true}
	frontier := []catalog.Node{root}
	for d := 1; len(frontier) > 0; d++ {
		var following []catalog.Node
		for _, from := range frontier {
			for _, e := range next[from] {
				to := e.Parent
				if dir == catalog.Down {
					to = e.Child
				}
				child, err := g.node(e.Child)
				if err != nil {
					return err
				}
				parent, err := g.node(e.Parent)
				if err != nil {
					return err
				}
				if child.hidden || parent.hidden {
					continue // the walk does not go through what the caller may not see
				}
				if e.Kind == catalog.EdgeSubject && IsAttachment(child.ArtifactType) && !includeAttachments {
					if dir == catalog.Down && !slices.ContainsFunc(parent.Attachments, func(a api.Attachment) bool { return a.Digest == child.Digest }) {
						parent.Attachments = append(parent.Attachments, api.Attachment{Digest: child.Digest, ArtifactType: child.ArtifactType})
					}
					if to == e.Child {
						g.forget(e.Child, root)
						continue // nothing below an attachment is lineage
					}
				}
				je := api.LineageEdge{Child: NodeRef(e.Child), Parent: NodeRef(e.Parent), Kind: string(e.Kind)}
				if !g.seen[je] {
					g.seen[je] = true
					g.edges = append(g.edges, je)
				}
				if visited[to] {
					continue
				}
				visited[to] = true
				jn, err := g.node(to)
				if err != nil {
					return err
				}
				jn.Depth = sign * d
				following = append(following, to)
			}
		}
		frontier = following
	}
	return nil
}

// forget drops n from the answer's nodes unless it is the root (an
// attachment read to learn its type).
func (g *lineageGraph) forget(n, root catalog.Node) {
	if n == root {
		return
	}
	if i := slices.Index(g.order, n); i >= 0 {
		g.order = slices.Delete(g.order, i, i+1)
		delete(g.nodes, n)
	}
}

// ImpactOf groups the nodes below the root of a downward walk by depth.
func ImpactOf(l api.Lineage) api.Impact {
	ans := api.Impact{Root: l.Root, Levels: []api.ImpactLevel{}}
	for _, n := range l.Nodes {
		if n.Depth <= 0 {
			continue
		}
		for len(ans.Levels) < n.Depth {
			ans.Levels = append(ans.Levels, api.ImpactLevel{Depth: len(ans.Levels) + 1, Artifacts: []api.LineageNode{}})
		}
		ans.Levels[n.Depth-1].Artifacts = append(ans.Levels[n.Depth-1].Artifacts, n)
		ans.Total++
	}
	return ans
}
