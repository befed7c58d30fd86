package registry

import (
	"context"
	"errors"

	"github.com/opencontainers/go-digest"

	"github.com/cairn-dev/cairn/auth"
	"github.com/cairn-dev/cairn/catalog"
	"github.com/cairn-dev/cairn/errcode"
)

// Viewer is what p sees in the catalog (see AccessPolicy.Viewer); nil with
// access control off.
func (r *Registry) Viewer(p auth.Principal, byDigest bool) *catalog.Viewer {
	return r.policy.Viewer(p, byDigest)
}

// ManifestVisibility is the visibility of the manifest of repo a read names
// (by tag, or by dgst when tag is ""), and whether p may see it. A manifest
// the catalog does not hold (not yet indexed, or named by a digest the
// catalog does not key it by) goes by AccessPolicy.Unindexed. Access control
// must be on.
func (r *Registry) ManifestVisibility(ctx context.Context, p auth.Principal, repo, tag string, dgst digest.Digest) (vis catalog.Visibility, ok bool, err error) {
	byRule := func() (catalog.Visibility, bool, error) {
		vis, ok := r.policy.Unindexed(p, repo)
		return vis, ok, nil
	}
	if tag != "" {
		d, err := r.store.ResolveTag(ctx, repo, tag)
		switch {
		case errors.Is(err, catalog.ErrNotFound):
			return byRule()
		case err != nil:
			return "", false, errcode.Wrap(errcode.Unavailable, err, "who may read %s:%s cannot be checked: the catalog is unavailable; try again", repo, tag)
		}
		dgst = d
	}
	owner, own, err := r.store.Ownership(ctx, repo, dgst)
	switch {
	case errors.Is(err, catalog.ErrNotFound):
		return byRule()
	case err != nil:
		return "", false, errcode.Wrap(errcode.Unavailable, err, "who may read %s@%s cannot be checked: the catalog is unavailable; try again", repo, dgst)
	}
	return r.policy.Effective(repo, own), r.policy.Viewer(p, tag == "").Sees(repo, owner, own), nil
}

// BlobVisibility is the visibility of blob d in repo to p: the highest of
// the artifacts there that use it and that p may see. A blob no artifact
// uses yet (an upload whose manifest is still to come) is for those who
// may push to the repository. Access control must be on.
func (r *Registry) BlobVisibility(ctx context.Context, p auth.Principal, repo string, d digest.Digest) (catalog.Visibility, bool, error) {
	uses, err := r.store.BlobUses(ctx, d, repo, r.policy.Viewer(p, true), 100)
	if err != nil {
		return "", false, errcode.Wrap(errcode.Unavailable, err, "who may read blob %s cannot be checked: the catalog is unavailable; try again", d)
	}
	if len(uses) > 0 {
		best := catalog.Staged
		for _, u := range uses {
			if v := r.policy.Effective(repo, u.Visibility); v.Rank() > best.Rank() {
				best = v
			}
		}
		return best, true, nil
	}
	used, err := r.store.BlobUses(ctx, d, repo, nil, 1)
	if err != nil {
		return "", false, errcode.Wrap(errcode.Unavailable, err, "who may read blob %s cannot be checked: the catalog is unavailable; try again", d)
	}
	if len(used) > 0 {
		return "", false, nil
	}
	return catalog.Staged, r.policy.May(p, repo, auth.Push), nil
}

// pushVisibility is the state a manifest pushed by p starts in: an
// attachment (a signature, an SBOM) pushed by its subject's owner or an
// admin takes its subject's, so that it is seen with it; anything else
// starts staged where the repository's rule says so.
func (r *Registry) pushVisibility(ctx context.Context, p auth.Principal, m catalog.Manifest, tag string) catalog.Visibility {
	subjects := signatureSubjects(m, tag)
	if m.Subject != "" && IsAttachment(m.ArtifactType) {
		subjects = append(subjects, m.Subject)
	}
	for _, subj := range subjects {
		owner, vis, err := r.store.Ownership(ctx, m.Repository, subj)
		if err == nil && ((owner != "" && owner == p.User) || r.policy.May(p, m.Repository, auth.Admin)) {
			return vis
		}
	}
	if r.policy.Rule(m.Repository).Staging {
		return catalog.Staged
	}
	return catalog.Inherit
}
