package facade

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/cairn-dev/cairn/api"
	"github.com/cairn-dev/cairn/catalog"
	"github.com/cairn-dev/cairn/errcode"
	"github.com/cairn-dev/cairn/registry"
	"github.com/cairn-dev/cairn/signing"
)

// lineageNode is a node of an answer being built: the API's node, and
// whether the caller may see it.
type lineageNode struct {
	api.LineageNode
	// hidden: the caller may not see it; it and its edges are left out.
	hidden bool
}

// maxLineageDepth bounds depth= (0 means no bound: walks end at nodes
// already seen).
const maxLineageDepth = 10000

// lineage answers GET /api/v1/lineage/{reference} and
// /api/v1/lineage/{reference}/impact.
func (s *Server) lineage(w http.ResponseWriter, r *http.Request) error {
	path := strings.TrimPrefix(r.URL.EscapedPath(), "/api/v1/lineage/")
	path, impact := strings.CutSuffix(path, "/impact")
	allowed := []string{api.ParamDepth, api.ParamArtifactType, api.ParamInclude}
	if !impact {
		allowed = append(allowed, api.ParamDirection, api.ParamFormat)
	}
	p, err := newParams(r.URL, allowed...)
	if err != nil {
		return err
	}
	repo, dgst, tag, err := parseArtifactRef(path)
	if err != nil {
		return err
	}
	dirs := []catalog.Direction{catalog.Up, catalog.Down}
	switch v := p.get(api.ParamDirection); v {
	case "", api.DirectionBoth:
	case api.DirectionUp:
		dirs = dirs[:1]
	case api.DirectionDown:
		dirs = dirs[1:]
	default:
		return invalidParam(api.ParamDirection, "direction %q is not up, down or both", v)
	}
	if impact {
		dirs = []catalog.Direction{catalog.Down}
	}
	depth := 0
	if v := p.get(api.ParamDepth); v != "" {
		if depth, err = strconv.Atoi(v); err != nil || depth < 0 || depth > maxLineageDepth {
			return invalidParam(api.ParamDepth, "depth %q is not a number from 0 (no bound) to %d", v, maxLineageDepth)
		}
	}
	includeAttachments := false
	switch v := p.get(api.ParamInclude); v {
	case "":
	case api.IncludeAttachments:
		includeAttachments = true
	default:
		return invalidParam(api.ParamInclude, "include %q is not attachments", v)
	}
	format := p.get(api.ParamFormat)
	switch format {
	case "", api.FormatJSON, api.FormatDot, api.FormatMermaid:
	default:
		return invalidParam(api.ParamFormat, "format %q is not json, dot or mermaid", format)
	}
	onlyType := p.get(api.ParamArtifactType)

	ctx := r.Context()
	if tag != "" {
		if dgst, err = s.store.ResolveTag(ctx, repo, tag); err != nil {
			return registry.NotFoundOr(err, "no tag %s in repository %s", tag, repo)
		}
	}
	root := catalog.Node{Repository: repo, Digest: dgst}
	g := &lineageGraph{s: s, r: r, nodes: map[catalog.Node]*lineageNode{}, viewer: s.viewerOf(r, false), root: root, rootByDigest: tag == ""}
	rootNode, err := g.node(root)
	if err != nil {
		return err
	}
	if rootNode.hidden {
		return errcode.New(errcode.NotFound, "no artifact %s in repository %s, and nothing refers to it", dgst, repo)
	}
	for _, dir := range dirs {
		es, err := s.store.Lineage(ctx, root, dir, depth)
		if err != nil {
			return registry.CatalogUnavailable(err)
		}
		if err := g.prefetch(es); err != nil {
			return err
		}
		if err := g.walk(root, dir, es, includeAttachments); err != nil {
			return err
		}
	}
	if !rootNode.Present && len(g.edges) == 0 {
		return errcode.New(errcode.NotFound, "no artifact %s in repository %s, and nothing refers to it", dgst, repo)
	}

	var nodes []api.LineageNode
	for _, n := range g.order {
		jn := g.nodes[n]
		if jn.hidden || (n != root && onlyType != "" && jn.ArtifactType != onlyType) {
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
	if impact {
		return writeJSON(w, http.StatusOK, impactOf(registry.NodeRef(root), nodes))
	}
	ans := api.Lineage{Root: registry.NodeRef(root), Nodes: nodes, Edges: edges}
	switch format {
	case api.FormatDot:
		w.Header().Set("Content-Type", "text/vnd.graphviz; charset=utf-8")
		_, err = w.Write([]byte(lineageDot(ans)))
		return err
	case api.FormatMermaid:
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, err = w.Write([]byte(lineageMermaid(ans)))
		return err
	}
	return writeJSON(w, http.StatusOK, ans)
}

// lineageGraph collects the nodes and edges of one answer.
type lineageGraph struct {
	s     *Server
	r     *http.Request
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
	ms, err := g.s.store.Manifests(g.r.Context(), want)
	if err != nil {
		return registry.CatalogUnavailable(err)
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
	return g.s.store.Manifest(g.r.Context(), n.Repository, n.Digest)
}

// node returns the answer's node n, reading it from the catalog the first
// time.
func (g *lineageGraph) node(n catalog.Node) (*lineageNode, error) {
	if jn, ok := g.nodes[n]; ok {
		return jn, nil
	}
	jn := &lineageNode{LineageNode: api.LineageNode{Ref: registry.NodeRef(n), Registry: n.Registry, Repository: n.Repository, Digest: n.Digest, Tags: []string{}, Annotations: map[string]string{}}}
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
			return nil, registry.CatalogUnavailable(err)
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
				if e.Kind == catalog.EdgeSubject && registry.IsAttachment(child.ArtifactType) && !includeAttachments {
					if dir == catalog.Down && !slices.ContainsFunc(parent.Attachments, func(a api.Attachment) bool { return a.Digest == child.Digest }) {
						parent.Attachments = append(parent.Attachments, api.Attachment{Digest: child.Digest, ArtifactType: child.ArtifactType})
					}
					if to == e.Child {
						g.forget(e.Child, root)
						continue // nothing below an attachment is lineage
					}
				}
				je := api.LineageEdge{Child: registry.NodeRef(e.Child), Parent: registry.NodeRef(e.Parent), Kind: string(e.Kind)}
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

// impactOf groups the nodes below the root by depth.
func impactOf(root string, nodes []api.LineageNode) api.Impact {
	ans := api.Impact{Root: root, Levels: []api.ImpactLevel{}}
	for _, n := range nodes {
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

// nodeLabel is a node's name in pictures: its repository, first tag or
// short digest, and artifact type.
func nodeLabel(n api.LineageNode) string {
	name := n.Digest.Encoded()
	if len(name) > 12 {
		name = name[:12]
	}
	if len(n.Tags) > 0 {
		name = n.Tags[0]
	}
	s := n.Repository + ":" + name
	if n.Registry != "" {
		s = n.Registry + "/" + s
	}
	if n.ArtifactType != "" {
		s += "\n" + n.ArtifactType
	}
	if !n.Present {
		s += "\n(not in this registry)"
	}
	return s
}

// lineageDot draws the graph in Graphviz's language, parents above
// children.
func lineageDot(g api.Lineage) string {
	var b strings.Builder
	b.WriteString("digraph lineage {\n  rankdir=BT;\n  node [shape=box];\n")
	ids := map[string]string{}
	for i, n := range g.Nodes {
		ids[n.Ref] = fmt.Sprintf("n%d", i)
		style := ""
		if n.Ref == g.Root {
			style = ", style=bold"
		}
		fmt.Fprintf(&b, "  n%d [label=%q%s];\n", i, nodeLabel(n), style)
	}
	for _, e := range g.Edges {
		fmt.Fprintf(&b, "  %s -> %s [label=%q];\n", ids[e.Child], ids[e.Parent], e.Kind)
	}
	b.WriteString("}\n")
	return b.String()
}

// lineageMermaid draws the graph as a Mermaid flowchart, parents above
// children.
func lineageMermaid(g api.Lineage) string {
	var b strings.Builder
	b.WriteString("flowchart BT\n")
	ids := map[string]string{}
	for i, n := range g.Nodes {
		ids[n.Ref] = fmt.Sprintf("n%d", i)
		label := strings.NewReplacer(`"`, "#quot;", "\n", "<br/>").Replace(nodeLabel(n))
		fmt.Fprintf(&b, "  n%d[\"%s\"]\n", i, label)
	}
	for _, e := range g.Edges {
		fmt.Fprintf(&b, "  %s -->|%s| %s\n", ids[e.Child], e.Kind, ids[e.Parent])
	}
	return b.String()
}
