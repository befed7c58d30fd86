package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/opencontainers/go-digest"
)

// Promotion is what a promotion answers.
type Promotion struct {
	Repository string        `json:"repository"`
	Digest     digest.Digest `json:"digest"`
	// Visibility is the artifact's now: private, unlisted or public.
	Visibility string `json:"visibility"`
	// Changed lists repository@digest of every artifact that moved: the
	// one named, an index's manifests, signatures and attachments.
	Changed []string `json:"changed"`
}

// Promote moves the artifact ref (repository@digest or repository:tag)
// up to visibility to (private, unlisted or public), as its owner or an
// admin: POST /api/v1/artifacts/{ref}/promote. The server refuses a move
// down with CodeConflict.
func (c *Client) Promote(ctx context.Context, ref, to string) (Promotion, error) {
	if strings.ContainsAny(ref, "?#% ") || ref == "" {
		return Promotion{}, fmt.Errorf("reference %q: give repository@digest or repository:tag", ref)
	}
	u := c.url("/api/v1/artifacts/"+ref+"/promote", url.Values{"to": {to}})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, nil)
	if err != nil {
		return Promotion{}, fmt.Errorf("POST %s: %w", u, err)
	}
	req.Header.Set("Accept", "application/json")
	res, err := c.do(ctx, req)
	if err != nil {
		return Promotion{}, err
	}
	defer res.Body.Close()
	var p Promotion
	if err := json.NewDecoder(res.Body).Decode(&p); err != nil {
		return Promotion{}, fmt.Errorf("POST %s: decoding the answer: %w", u, err)
	}
	return p, nil
}
