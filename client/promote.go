package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/cairn-dev/cairn/api"
)

// Promotion is what a promotion answers.
type Promotion = api.Promotion

// Promote moves the artifact ref (repository@digest or repository:tag)
// up to visibility to (private, unlisted or public), as its owner or an
// admin: POST /api/v1/artifacts/{ref}/promote. The server refuses a move
// down with CodeConflict.
func (c *Client) Promote(ctx context.Context, ref, to string) (Promotion, error) {
	if strings.ContainsAny(ref, "?#% ") || ref == "" {
		return Promotion{}, fmt.Errorf("reference %q: give repository@digest or repository:tag", ref)
	}
	u := c.url("/api/v1/artifacts/"+ref+"/promote", url.Values{api.ParamTo: {to}})
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
