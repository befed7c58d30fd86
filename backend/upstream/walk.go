package upstream

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/cairn-dev/cairn/backend"
)

var _ backend.Walker = (*Registry)(nil)

// manifestAccept lists every manifest type a walk asks the upstream for.
const manifestAccept = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, " +
	"application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json"

// maxWalkManifest bounds one manifest read by a walk.
const maxWalkManifest = 4 << 20

// get fetches a path of the upstream's API with cairn's credentials.
func (u *Registry) get(ctx context.Context, rawURL, accept string) (*http.Response, error) {
	target, err := u.base.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	if target.Host != u.base.Host {
		return nil, fmt.Errorf("upstream %s pointed to another host (%s); not followed", u.base.Host, target.Host)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target.String(), nil)
	if err != nil {
		return nil, err
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	if u.cfg.Username != "" || u.cfg.Password != "" {
		req.SetBasicAuth(u.cfg.Username, u.cfg.Password)
	}
	res, err := u.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("upstream %s: %w", u.base.Host, err)
	}
	return res, nil
}

// getJSON fetches a listing and decodes it; it returns the next page's URL
// from a Link header, if any.
func (u *Registry) getJSON(ctx context.Context, rawURL string, v any) (next string, status int, err error) {
	res, err := u.get(ctx, rawURL, "application/json")
	if err != nil {
		return "", 0, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return "", res.StatusCode, fmt.Errorf("upstream %s answered %s for %s", u.base.Host, res.Status, rawURL)
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, 64<<20)).Decode(v); err != nil {
		return "", res.StatusCode, fmt.Errorf("upstream %s: %s: %w", u.base.Host, rawURL, err)
	}
	return nextLink(res.Header.Get("Link")), res.StatusCode, nil
}

// nextLink reads `<url>; rel="next"` from a Link header.
func nextLink(h string) string {
	for _, part := range strings.Split(h, ",") {
		if strings.Contains(part, `rel="next"`) {
			if i, j := strings.IndexByte(part, '<'), strings.IndexByte(part, '>'); i >= 0 && j > i {
				return part[i+1 : j]
			}
		}
	}
	return ""
}

// Repositories lists the upstream's repositories (its /v2/_catalog).
func (u *Registry) Repositories(ctx context.Context) ([]string, error) {
	var repos []string
	next := "/v2/_catalog?n=100" // registries cap the page size; Link headers page on
	for next != "" {
		var page struct {
			Repositories []string `json:"repositories"`
		}
		var err error
		if next, _, err = u.getJSON(ctx, next, &page); err != nil {
			return nil, err
		}
		repos = append(repos, page.Repositories...)
	}
	return repos, nil
}

// Walk calls fn for every manifest of repo that the upstream's API can
// reach: the tagged ones, the children of indexes, and the referrers of
// each of them, recursively. A manifest that is neither tagged nor referred
// to cannot be found over the API and is not visited.
func (u *Registry) Walk(ctx context.Context, repo string, fn func(backend.Manifest) error) error {
	tags := map[string][]string{} // digest → tags
	var queue []string            // references to fetch: tags first, then digests
	next := "/v2/" + repo + "/tags/list?n=100"
	for next != "" {
		var page struct {
			Tags []string `json:"tags"`
		}
		var status int
		var err error
		next, status, err = u.getJSON(ctx, next, &page)
		if status == http.StatusNotFound {
			return nil // the repository is gone
		}
		if err != nil {
			return err
		}
		queue = append(queue, page.Tags...)
	}
	seen := map[string]bool{}
	var found []backend.Manifest
	for len(queue) > 0 {
		ref := queue[0]
		queue = queue[1:]
		m, err := u.fetchManifest(ctx, repo, ref)
		if err != nil {
			return err
		}
		if m == nil {
			continue // deleted while walking
		}
		if !strings.Contains(ref, ":") {
			tags[m.Digest] = append(tags[m.Digest], ref)
		}
		if seen[m.Digest] {
			continue
		}
		seen[m.Digest] = true
		found = append(found, *m)
		var body struct {
			Manifests []struct {
				Digest string `json:"digest"`
			} `json:"manifests"`
		}
		_ = json.Unmarshal(m.Payload, &body)
		for _, child := range body.Manifests {
			queue = append(queue, child.Digest)
		}
		var refs struct {
			Manifests []struct {
				Digest string `json:"digest"`
			} `json:"manifests"`
		}
		if _, status, err := u.getJSON(ctx, "/v2/"+repo+"/referrers/"+m.Digest, &refs); err == nil {
			for _, r := range refs.Manifests {
				queue = append(queue, r.Digest)
			}
		} else if status != http.StatusNotFound {
			return err
		}
	}
	for _, m := range found {
		m.Tags = tags[m.Digest]
		if err := fn(m); err != nil {
			return err
		}
	}
	return nil
}

// fetchManifest reads one manifest; nil when the upstream has it no more.
func (u *Registry) fetchManifest(ctx context.Context, repo, ref string) (*backend.Manifest, error) {
	res, err := u.get(ctx, "/v2/"+repo+"/manifests/"+url.PathEscape(ref), manifestAccept)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode == http.StatusNotFound {
		return nil, nil
	}
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("upstream %s answered %s for manifest %s of %s", u.base.Host, res.Status, ref, repo)
	}
	payload, err := io.ReadAll(io.LimitReader(res.Body, maxWalkManifest+1))
	if err != nil {
		return nil, fmt.Errorf("upstream %s: manifest %s of %s: %w", u.base.Host, ref, repo, err)
	}
	if len(payload) > maxWalkManifest {
		return nil, fmt.Errorf("upstream %s: manifest %s of %s is over %d bytes", u.base.Host, ref, repo, maxWalkManifest)
	}
	// The digest is the one asked for, or the one the upstream names, or
	// (lacking both) the sha256 of the bytes.
	d := ref
	if !strings.Contains(d, ":") {
		d = res.Header.Get("Docker-Content-Digest")
	}
	parsed, err := digest.Parse(d)
	if err != nil {
		sum := sha256.Sum256(payload)
		parsed = digest.NewDigestFromBytes(digest.SHA256, sum[:])
	}
	if parsed.Algorithm().Available() && parsed.Algorithm().FromBytes(payload) != parsed {
		return nil, fmt.Errorf("upstream %s served manifest %s of %s with bytes whose digest differs", u.base.Host, ref, repo)
	}
	d = parsed.String()
	mt := res.Header.Get("Content-Type")
	if i := strings.IndexByte(mt, ';'); i >= 0 {
		mt = strings.TrimSpace(mt[:i])
	}
	return &backend.Manifest{Repository: repo, Digest: d, MediaType: mt, Payload: payload}, nil
}
