package upstream

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/regclient/regclient"
	"github.com/regclient/regclient/config"
	"github.com/regclient/regclient/scheme"
	"github.com/regclient/regclient/scheme/reg"
	"github.com/regclient/regclient/types/errs"
	"github.com/regclient/regclient/types/manifest"
	"github.com/regclient/regclient/types/ref"

	"github.com/cairn-dev/cairn/backend"
)

var _ backend.Walker = (*Registry)(nil)

// maxWalkManifest bounds one manifest read by a walk.
const maxWalkManifest = 4 << 20

// catalogPage is how many repositories a walk asks for at once; registries
// may answer fewer.
const catalogPage = 100

// Retries of one walk request: a few quick ones for a blip; an upstream
// that is down fails the walk within seconds, and the next reconcile
// tries again.
const (
	walkRetries    = 2
	walkRetryDelay = 200 * time.Millisecond
	walkRetryMax   = 2 * time.Second
)

// walkClient returns a registry client for one walk over the upstream,
// with cairn's credentials and the pass-through's connections and TLS
// settings. regclient does the paging, the Accept lists, digest checks and
// the token exchange of upstreams that answer with a Bearer challenge. A
// new client per walk: regclient remembers per repository whether the
// referrers API answered, and one failure must not outlive the walk.
func (u *Registry) walkClient() *regclient.RegClient {
	host := config.HostNewName(u.base.Host)
	host.Hostname = u.base.Host
	host.User, host.Pass = u.cfg.Username, u.cfg.Password
	// The pass-through's transport already holds the CA file, the client
	// certificate and the verification setting (see tlsConfig); regclient
	// is told only whether to speak TLS.
	host.TLS = config.TLSEnabled
	if u.base.Scheme == "http" {
		host.TLS = config.TLSDisabled
	}
	return regclient.New(
		regclient.WithConfigHost(*host),
		regclient.WithUserAgent("cairn"),
		regclient.WithRegOpts(
			reg.WithRetryLimit(walkRetries),
			reg.WithDelay(walkRetryDelay, walkRetryMax),
			reg.WithHTTPClient(u.client),
			reg.WithManifestMax(maxWalkManifest, maxWalkManifest),
		),
	)
}

// repoRef is repo on the upstream.
func (u *Registry) repoRef(repo string) (ref.Ref, error) {
	r, err := ref.New(u.base.Host + "/" + repo)
	if err != nil {
		return ref.Ref{}, fmt.Errorf("upstream %s: repository %q: %w", u.base.Host, repo, err)
	}
	return r, nil
}

// Repositories lists the upstream's repositories (its /v2/_catalog), page
// by page with the spec's last parameter.
func (u *Registry) Repositories(ctx context.Context) ([]string, error) {
	rc := u.walkClient()
	var repos []string
	last := ""
	for {
		page, err := rc.RepoList(ctx, u.base.Host, scheme.WithRepoLimit(catalogPage), scheme.WithRepoLast(last))
		if err != nil {
			return nil, fmt.Errorf("upstream %s: list repositories: %w", u.base.Host, err)
		}
		names := page.Repositories
		// A page that does not move past last ends the listing, also
		// from a registry that ignores last.
		if len(names) == 0 || names[len(names)-1] <= last {
			return repos, nil
		}
		for _, name := range names {
			if name > last {
				repos = append(repos, name)
			}
		}
		last = names[len(names)-1]
	}
}

// Walk calls fn for every manifest of repo that the upstream's API can
// reach: the tagged ones, the children of indexes, and the referrers of
// each of them, recursively. A manifest that is neither tagged nor referred
// to cannot be found over the API and is not visited. ModTime stays zero:
// the API does not say when a manifest was pushed.
func (u *Registry) Walk(ctx context.Context, repo string, fn func(backend.Manifest) error) error {
	r, err := u.repoRef(repo)
	if err != nil {
		return err
	}
	rc := u.walkClient()
	tl, err := rc.TagList(ctx, r)
	if errors.Is(err, errs.ErrNotFound) {
		return nil // the repository is gone
	}
	if err != nil {
		return fmt.Errorf("upstream %s: tags of %s: %w", u.base.Host, repo, err)
	}
	queue := append([]string(nil), tl.Tags...) // references to fetch: tags first, then digests
	tags := map[string][]string{}              // digest → tags
	seen := map[string]bool{}
	var found []backend.Manifest
	for len(queue) > 0 {
		next := queue[0]
		queue = queue[1:]
		target := r.SetTag(next)
		isDigest := isDigestRef(next)
		if isDigest {
			target = r.SetDigest(next)
		}
		m, err := rc.ManifestGet(ctx, target)
		if errors.Is(err, errs.ErrNotFound) {
			continue // deleted while walking
		}
		if err != nil {
			return fmt.Errorf("upstream %s: manifest %s of %s: %w", u.base.Host, next, repo, err)
		}
		payload, err := m.RawBody()
		if err != nil {
			return fmt.Errorf("upstream %s: manifest %s of %s: %w", u.base.Host, next, repo, err)
		}
		desc := m.GetDescriptor()
		d := desc.Digest.String()
		if !isDigest {
			tags[d] = append(tags[d], next)
		}
		if seen[d] {
			continue
		}
		seen[d] = true
		found = append(found, backend.Manifest{Repository: repo, Digest: d, MediaType: desc.MediaType, Payload: payload})
		if idx, ok := m.(manifest.Indexer); ok {
			children, err := idx.GetManifestList()
			if err != nil {
				return fmt.Errorf("upstream %s: index %s of %s: %w", u.base.Host, d, repo, err)
			}
			for _, child := range children {
				queue = append(queue, child.Digest.String())
			}
		}
		rl, err := rc.ReferrerList(ctx, r.SetDigest(d))
		if err != nil && !errors.Is(err, errs.ErrNotFound) {
			return fmt.Errorf("upstream %s: referrers of %s in %s: %w", u.base.Host, d, repo, err)
		}
		for _, referrer := range rl.Descriptors {
			queue = append(queue, referrer.Digest.String())
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

// isDigestRef reports whether a reference the walk queued is a digest
// (children and referrers) rather than a tag; tags hold no colon.
func isDigestRef(s string) bool { return strings.Contains(s, ":") }
