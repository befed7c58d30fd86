package facade

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/cairn-dev/cairn/api"
	"github.com/cairn-dev/cairn/catalog"
	"github.com/cairn-dev/cairn/registry"
)

// maxLineageDepth bounds depth= (0 means no bound: walks end at nodes
// already seen).
const maxLineageDepth = 10000

// lineage answers GET /api/v1/lineage/{reference} and
// /api/v1/lineage/{reference}/impact.
func (s *catalogAPI) lineage(w http.ResponseWriter, r *http.Request) error {
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

	ans, err := s.core.Lineage(r.Context(), registry.LineageQuery{Repository: repo, Tag: tag, Digest: dgst, Directions: dirs,
		Depth: depth, IncludeAttachments: includeAttachments, ArtifactType: onlyType, By: principalFrom(r)})
	if err != nil {
		return err
	}
	if impact {
		return writeJSON(w, http.StatusOK, registry.ImpactOf(ans))
	}
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
