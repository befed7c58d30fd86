package client

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strconv"

	"github.com/cairn-dev/cairn/api"
)

// LineageParams are the options of a lineage walk (GET /api/v1/lineage/…).
type LineageParams struct {
	// Direction is "up" (where the artifact came from), "down" (what was
	// made from it) or "" / "both".
	Direction string
	// Depth bounds the walk in edges; 0 is no bound.
	Depth int
	// ArtifactType keeps only nodes of that type (and the root).
	ArtifactType string
	// IncludeAttachments makes signatures, SBOMs and attestations nodes of
	// the walk instead of listing them on the node they are attached to.
	IncludeAttachments bool
}

func (p LineageParams) values() url.Values {
	q := url.Values{}
	if p.Direction != "" {
		q.Set(api.ParamDirection, p.Direction)
	}
	if p.Depth != 0 {
		q.Set(api.ParamDepth, strconv.Itoa(p.Depth))
	}
	if p.ArtifactType != "" {
		q.Set(api.ParamArtifactType, p.ArtifactType)
	}
	if p.IncludeAttachments {
		q.Set(api.ParamInclude, api.IncludeAttachments)
	}
	return q
}

// Lineage is the graph around an artifact.
type Lineage = api.Lineage

// LineageNode is an artifact of the graph; Present is false for one the
// server does not hold (a reference to it is recorded all the same).
type LineageNode = api.LineageNode

// Attachment is a signature, SBOM or attestation attached to a node.
type Attachment = api.Attachment

// LineageEdge links a child to its parent; Kind is "subject" or
// "derived-from".
type LineageEdge = api.LineageEdge

// Lineage walks the graph around ref (repository@digest or
// repository:tag).
func (c *Client) Lineage(ctx context.Context, ref string, p LineageParams) (Lineage, error) {
	var l Lineage
	err := c.getJSON(ctx, c.url("/api/v1/lineage/"+ref, p.values()), &l)
	return l, err
}

// LineageText returns the graph around ref drawn as format: "dot"
// (Graphviz) or "mermaid".
func (c *Client) LineageText(ctx context.Context, ref string, p LineageParams, format string) (string, error) {
	q := p.values()
	q.Set(api.ParamFormat, format)
	u := c.url("/api/v1/lineage/"+ref, q)
	res, err := c.get(ctx, u, "text/*")
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	if err != nil {
		return "", fmt.Errorf("GET %s: %w", u, err)
	}
	return string(b), nil
}
