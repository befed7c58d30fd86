package registry

import (
	"context"

	"github.com/opencontainers/go-digest"

	"github.com/cairn-dev/cairn/auth"
	"github.com/cairn-dev/cairn/catalog"
)

// Found is one artifact as a caller may see it.
type Found struct {
	catalog.Manifest
	// Visibility is its effective visibility (with access control on).
	Visibility catalog.Visibility
	// Referrers are the manifests whose subject it is that the caller may
	// see, oldest push first.
	Referrers []catalog.Manifest
}

// Artifact returns the artifact of repo named by tag (or by dgst when tag
// is "") with its referrers, as p may see them: an artifact p may not see
// is not there.
func (r *Registry) Artifact(ctx context.Context, p auth.Principal, repo, tag string, dgst digest.Digest) (Found, error) {
	if tag != "" {
		var err error
		if dgst, err = r.store.ResolveTag(ctx, repo, tag); err != nil {
			return Found{}, NotFoundOr(err, "no tag %s in repository %s", tag, repo)
		}
	}
	m, err := r.store.Manifest(ctx, repo, dgst)
	if err == nil && !r.policy.Viewer(p, tag == "").Sees(repo, m.Owner, m.Visibility) {
		err = catalog.ErrNotFound // not there, as far as the caller can tell
	}
	if err != nil {
		return Found{}, NotFoundOr(err, "no artifact %s in repository %s", dgst, repo)
	}
	refs, err := r.store.Referrers(ctx, repo, dgst, "")
	if err != nil {
		return Found{}, CatalogUnavailable(err)
	}
	f := Found{Manifest: m}
	if r.policy != nil {
		f.Visibility = r.policy.Effective(repo, m.Visibility)
	}
	// Referrers are found through their subject's digest, as on /v2/.
	v := r.policy.Viewer(p, true)
	for _, ref := range refs {
		if v.Sees(repo, ref.Owner, ref.Visibility) {
			f.Referrers = append(f.Referrers, ref)
		}
	}
	return f, nil
}
