package registry

import (
	"context"
	"errors"
	"slices"

	"github.com/opencontainers/go-digest"
	"go.uber.org/zap"

	"github.com/cairn-dev/cairn/auth"
	"github.com/cairn-dev/cairn/catalog"
	"github.com/cairn-dev/cairn/errcode"
)

// Promotion asks to move an artifact (by Tag, or by Digest when Tag is "")
// up the visibility ladder to To.
type Promotion struct {
	Repository string
	Tag        string
	Digest     digest.Digest
	To         catalog.Visibility
	By         auth.Principal
}

// Promoted is what a promotion did.
type Promoted struct {
	Repository string
	Digest     digest.Digest
	Visibility catalog.Visibility
	// Changed lists every artifact whose visibility moved: the one named,
	// the manifests of an index, and its signatures and attachments.
	Changed []string
}

// Promote moves an artifact, the manifests of an index and what is
// attached to it (signatures in both forms, SBOMs, attestations) up to
// p.To; what is already there or higher stays. Only the artifact's owner
// or an admin of its repository may, and visibility never moves down.
// Access control must be on.
func (r *Registry) Promote(ctx context.Context, p Promotion) (Promoted, error) {
	repo, dgst := p.Repository, p.Digest
	log := r.logger(ctx).With(zap.String("user", p.By.User), zap.String("repo", repo), zap.String("action", "promote"))
	defer r.locks.lock(repo)()
	if p.Tag != "" {
		var err error
		if dgst, err = r.store.ResolveTag(ctx, repo, p.Tag); err != nil {
			return Promoted{}, NotFoundOr(err, "no tag %s in repository %s", p.Tag, repo)
		}
	}
	m, err := r.store.Manifest(ctx, repo, dgst)
	if err != nil {
		return Promoted{}, NotFoundOr(err, "no artifact %s in repository %s", dgst, repo)
	}
	if !r.policy.Viewer(p.By, p.Tag == "").Sees(repo, m.Owner, m.Visibility) {
		log.Info("access denied: not visible", zap.Stringer("digest", dgst))
		return Promoted{}, errcode.New(errcode.NotFound, "no artifact %s in repository %s", dgst, repo)
	}
	if !r.policy.May(p.By, repo, auth.Admin) && (m.Owner == "" || m.Owner != p.By.User) {
		log.Info("access denied: not the owner", zap.Stringer("digest", dgst), zap.String("owner", m.Owner))
		owner := m.Owner
		if owner == "" {
			owner = "nobody (pushed while access control was off)"
		}
		return Promoted{}, errcode.New(errcode.Denied, "%s@%s belongs to %s: only its owner or an admin of the repository may promote it", repo, dgst, owner)
	}
	cur := r.policy.Effective(repo, m.Visibility)
	switch {
	case p.To.Rank() < cur.Rank():
		return Promoted{}, errcode.New(errcode.Conflict, "%s@%s is %s and visibility only moves up (staged, private, unlisted, public): it cannot go back to %s; delete it and push it again to start over", repo, dgst, cur, p.To).WithDetail(map[string]string{"visibility": string(cur)})
	case p.To.Rank() == cur.Rank():
		return Promoted{Repository: repo, Digest: dgst, Visibility: cur, Changed: []string{}}, nil
	}
	if rule, ok := r.trust.For(repo); ok && rule.RequireSignature && p.To == catalog.Public && !slices.ContainsFunc(m.Signatures, func(sg catalog.Signature) bool { return sg.Verified }) {
		return Promoted{}, errcode.New(errcode.Conflict, "%s@%s has no valid signature, and repositories under %q require one to be public; sign it with a trusted key (cairn sign, cosign sign) and promote again", repo, dgst, rule.Prefix)
	}
	changed, err := r.raise(ctx, repo, m, p.To)
	if err != nil {
		return Promoted{}, err
	}
	log.Info("promoted", zap.Stringer("digest", dgst), zap.String("from", string(cur)), zap.String("to", string(p.To)), zap.Strings("changed", changed))
	return Promoted{Repository: repo, Digest: dgst, Visibility: p.To, Changed: changed}, nil
}

// raise moves m and what goes with it up to vis.
func (r *Registry) raise(ctx context.Context, repo string, m catalog.Manifest, vis catalog.Visibility) ([]string, error) {
	targets := []digest.Digest{m.Digest}
	for _, l := range m.Layers {
		if l.Kind == "manifest" {
			targets = append(targets, l.Digest)
		}
	}
	for _, sg := range m.Signatures {
		targets = append(targets, sg.Manifest)
	}
	refs, err := r.store.Referrers(ctx, repo, m.Digest, "")
	if err != nil {
		return nil, CatalogUnavailable(err)
	}
	for _, ref := range refs {
		if IsAttachment(ref.ArtifactType) {
			targets = append(targets, ref.Digest)
		}
	}
	changed := []string{}
	var raise []digest.Digest
	seen := map[digest.Digest]bool{}
	for _, d := range targets {
		if seen[d] {
			continue
		}
		seen[d] = true
		_, own, err := r.store.Ownership(ctx, repo, d)
		switch {
		case errors.Is(err, catalog.ErrNotFound):
			continue // an index's child the catalog does not hold
		case err != nil:
			return changed, CatalogUnavailable(err)
		}
		if r.policy.Effective(repo, own).Rank() >= vis.Rank() {
			continue
		}
		raise = append(raise, d)
		changed = append(changed, repo+"@"+d.String())
	}
	if len(raise) == 0 {
		return changed, nil
	}
	// One transaction: the artifact never goes public without its
	// signatures and attachments, nor they without it.
	if err := r.store.SetVisibility(ctx, repo, raise, vis); err != nil {
		return nil, CatalogUnavailable(err)
	}
	return changed, nil
}

// NotFoundOr maps the catalog's ErrNotFound to the catalog API's 404 with
// the message given, and other errors as CatalogUnavailable does.
func NotFoundOr(err error, format string, args ...any) error {
	if errors.Is(err, catalog.ErrNotFound) {
		return errcode.New(errcode.NotFound, format, args...)
	}
	return CatalogUnavailable(err)
}

// CatalogUnavailable maps a catalog error: a query the store refuses is
// the client's (400), anything else is the store's (503).
func CatalogUnavailable(err error) error {
	if errors.Is(err, catalog.ErrInvalidQuery) {
		return errcode.Wrap(errcode.InvalidParameter, err, "%v", err)
	}
	return errcode.Wrap(errcode.Unavailable, err, "the catalog cannot answer right now; try again")
}
