package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/cairn-dev/cairn/api"
)

// SearchParams are the filters of GET /api/v1/artifacts; all combine, and
// zero values are left out.
type SearchParams struct {
	// Annotations are filter expressions, each sent as annotation=EXPR:
	// key=value, key=v1|v2, key!=value, key^=prefix, key, !key, key>=v,
	// key<=v, key>v, key<v.
	Annotations      []string
	ArtifactType     string
	MediaType        string
	Repository       string
	RepositoryPrefix string
	Tag              string
	// Text is q=: a substring of annotation values, repository names and
	// tags, in any case.
	Text       string
	Subject    string // a manifest digest: its referrers
	HasSubject *bool
	// Signed keeps artifacts with (true) or without (false) a signature
	// verified with a key the server trusts.
	Signed       *bool
	PushedAfter  time.Time
	PushedBefore time.Time
	// Sort is pushed, -pushed (the server's default), repository, size,
	// -size, annotation:KEY or -annotation:KEY.
	Sort string
	// Limit is the page size, 1 to 1000 (0: the server's default, 50).
	Limit int
	// PageToken is the previous page's NextPageToken.
	PageToken string
}

// Values returns the parameters as a query string's values.
func (p SearchParams) Values() url.Values {
	v := url.Values{}
	set := func(name, value string) {
		if value != "" {
			v.Set(name, value)
		}
	}
	for _, a := range p.Annotations {
		v.Add(api.ParamAnnotation, a)
	}
	set(api.ParamArtifactType, p.ArtifactType)
	set(api.ParamMediaType, p.MediaType)
	set(api.ParamRepository, p.Repository)
	set(api.ParamRepositoryPrefix, p.RepositoryPrefix)
	set(api.ParamTag, p.Tag)
	set(api.ParamText, p.Text)
	set(api.ParamSubject, p.Subject)
	if p.HasSubject != nil {
		v.Set(api.ParamHasSubject, strconv.FormatBool(*p.HasSubject))
	}
	if p.Signed != nil {
		v.Set(api.ParamSigned, strconv.FormatBool(*p.Signed))
	}
	if !p.PushedAfter.IsZero() {
		v.Set(api.ParamPushedAfter, p.PushedAfter.Format(time.RFC3339Nano))
	}
	if !p.PushedBefore.IsZero() {
		v.Set(api.ParamPushedBefore, p.PushedBefore.Format(time.RFC3339Nano))
	}
	set(api.ParamSort, p.Sort)
	if p.Limit != 0 {
		v.Set(api.ParamLimit, strconv.Itoa(p.Limit))
	}
	set(api.ParamPageToken, p.PageToken)
	return v
}

// Page is one page of GET /api/v1/artifacts: api.ArtifactPage, with each
// artifact's raw JSON kept.
type Page struct {
	Artifacts []Artifact `json:"artifacts"`
	// NextPageToken continues the search; empty on the last page.
	NextPageToken string `json:"nextPageToken,omitempty"`
}

// Artifact is a manifest as the catalog API answers it, with the JSON it
// arrived as.
type Artifact struct {
	api.Artifact

	// Raw is the artifact object exactly as the server answered it,
	// including fields this package does not know (a newer server's).
	Raw json.RawMessage `json:"-"`
}

// Signature is the server's record of one signature of an artifact.
type Signature = api.Signature

// Descriptor is a config, layer or child manifest of an artifact.
type Descriptor = api.Layer

// UnmarshalJSON decodes an artifact and keeps its raw JSON in Raw.
func (a *Artifact) UnmarshalJSON(b []byte) error {
	var wire api.Artifact
	if err := json.Unmarshal(b, &wire); err != nil {
		return err
	}
	*a = Artifact{Artifact: wire, Raw: append(json.RawMessage(nil), b...)}
	return nil
}

// Type returns the artifact type, or the manifest's media type when the
// artifact has none (as for container images).
func (a Artifact) Type() string {
	if a.ArtifactType != "" {
		return a.ArtifactType
	}
	return a.MediaType
}

// Search asks for one page of artifacts.
func (c *Client) Search(ctx context.Context, p SearchParams) (Page, error) {
	var page Page
	if err := c.getJSON(ctx, c.url("/api/v1/artifacts", p.Values()), &page); err != nil {
		return Page{}, err
	}
	return page, nil
}

// SearchAll follows the page tokens from p.PageToken on and returns up to
// total artifacts (all of them when total is 0), and whether more match. A page
// is p.Limit artifacts, or when that is 0 as many as are still wanted.
func (c *Client) SearchAll(ctx context.Context, p SearchParams, total int) (arts []Artifact, more bool, err error) {
	if total < 0 {
		return nil, false, fmt.Errorf("total %d is negative", total)
	}
	const maxLimit = 1000 // the API's largest page
	pageSize := p.Limit
	seen := map[string]bool{}
	for {
		p.Limit = pageSize
		if total > 0 {
			if want := total - len(arts); p.Limit == 0 || want < p.Limit {
				p.Limit = min(want, maxLimit)
			}
		}
		page, err := c.Search(ctx, p)
		if err != nil {
			return arts, false, err
		}
		arts = append(arts, page.Artifacts...)
		if total > 0 && len(arts) >= total {
			more = len(arts) > total || page.NextPageToken != ""
			return arts[:total], more, nil
		}
		if page.NextPageToken == "" {
			return arts, false, nil
		}
		if seen[page.NextPageToken] {
			return arts, false, fmt.Errorf("the server answered page token %q twice; paging would not end", page.NextPageToken)
		}
		seen[page.NextPageToken] = true
		p.PageToken = page.NextPageToken
	}
}
