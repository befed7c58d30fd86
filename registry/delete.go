package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/opencontainers/go-digest"
	"go.uber.org/zap"

	"github.com/cairn-dev/cairn/auth"
	"github.com/cairn-dev/cairn/backend"
	"github.com/cairn-dev/cairn/catalog"
	"github.com/cairn-dev/cairn/errcode"
)

// ManifestDelete is one delete of a manifest (by Digest) or of a tag.
type ManifestDelete struct {
	Repository string
	Tag        string
	Digest     digest.Digest
	// Cascade deletes what is attached to the manifest by subject too.
	Cascade bool
	By      auth.Principal
}

func (d ManifestDelete) reference() string {
	if d.Tag != "" {
		return d.Tag
	}
	return d.Digest.String()
}

// DeleteManifest deletes a manifest or a tag in the engine, then in the
// catalog. A manifest others depend on is kept unless protection is off;
// with Cascade, what is attached to it by subject goes first, deepest
// first. It returns the engine's answer and, when more than the manifest
// went, the references of everything deleted.
func (r *Registry) DeleteManifest(ctx context.Context, d ManifestDelete) (*backend.Answer, []string, error) {
	log := r.logger(ctx).With(zap.String("repo", d.Repository), zap.String("reference", d.reference()))
	defer r.locks.lock(d.Repository)()
	if r.policy != nil {
		target := d.Digest
		if d.Tag != "" {
			t, err := r.store.ResolveTag(ctx, d.Repository, d.Tag)
			if err != nil && !errors.Is(err, catalog.ErrNotFound) {
				return nil, nil, errcode.Wrap(errcode.Unavailable, err, "the owner of %s:%s cannot be checked: the catalog is unavailable; try again", d.Repository, d.Tag)
			}
			target = t
		}
		if target != "" {
			if err := r.checkOwner(ctx, d.By, d.Repository, target); err != nil {
				return nil, nil, err
			}
		}
	}
	var plan deletePlan
	if d.Tag == "" {
		var err error
		plan, err = r.planDelete(ctx, d.Repository, d.Digest, d.Cascade)
		switch {
		case err != nil:
			// The catalog cannot tell what depends on the artifact: the
			// registry's own rule (delete) holds, as for any repair.
			log.Warn("catalog unavailable; deleting without checking dependents", zap.Error(err))
		case len(plan.dependents) > 0 && r.protect:
			log.Info("delete refused: dependents", zap.Strings("dependents", plan.dependents))
			return nil, nil, refuseDelete(d.Repository, d.Digest, plan.dependents)
		}
	}
	// Deleting a signature changes what its subject's records say.
	var signed []digest.Digest
	if d.Tag == "" {
		if old, err := r.store.Manifest(ctx, d.Repository, d.Digest); err == nil {
			signed = signatureSubjects(old, "")
			for _, t := range old.Tags {
				signed = append(signed, signatureSubjects(catalog.Manifest{}, t)...)
			}
		}
	} else {
		signed = signatureSubjects(catalog.Manifest{}, d.Tag)
	}
	pending, markErr := r.store.MarkPending(ctx, d.Repository)
	if markErr != nil {
		log.Warn("catalog unavailable before delete; reindex will repair", zap.Error(markErr))
	}
	var cascaded []string
	if len(plan.cascade) > 0 {
		var err error
		if cascaded, err = r.deleteCascade(ctx, d.Repository, plan.cascade); err != nil {
			return nil, nil, err
		}
		log.Info("deleted with the artifact", zap.Strings("attached", cascaded))
	}
	res, err := r.engineRequest(ctx, http.MethodDelete, "/v2/"+d.Repository+"/manifests/"+d.reference(), "", nil)
	if err != nil {
		return nil, nil, errcode.Wrap(errcode.Unknown, err, "the delete could not be handed to the engine")
	}
	var deleted []string
	if res.Status == http.StatusAccepted {
		if len(cascaded) > 0 {
			deleted = append(cascaded, d.Repository+"@"+d.reference())
		}
		var err error
		if d.Tag == "" {
			err = r.store.DeleteManifest(ctx, d.Repository, d.Digest)
		} else {
			err = r.store.DeleteTag(ctx, d.Repository, d.Tag)
		}
		switch {
		case markErr == nil && (err == nil || errors.Is(err, catalog.ErrNotFound)):
			log.Info("deleted")
			r.refreshAfterWrite(ctx, d.Repository, signed)
		default:
			log.Error("deleted in the engine but not in the catalog; queued for repair", zap.Error(errors.Join(err, markErr)))
			r.NeedsRepair(ctx, d.Repository)
			pending = 0
		}
	}
	if pending != 0 {
		if err := r.store.ClearPending(ctx, pending); err != nil {
			log.Warn("clearing pending mark", zap.Error(err))
		}
	}
	return res, deleted, nil
}

// checkOwner refuses p's delete of repo@dgst unless they own it or are an
// admin of repo; an artifact they cannot see is not there. Content pushed
// while access control was off has no owner: the delete scope decides
// alone.
func (r *Registry) checkOwner(ctx context.Context, p auth.Principal, repo string, dgst digest.Digest) error {
	if r.policy.May(p, repo, auth.Admin) {
		return nil
	}
	owner, vis, err := r.store.Ownership(ctx, repo, dgst)
	log := r.logger(ctx)
	switch {
	case errors.Is(err, catalog.ErrNotFound):
		return nil // the engine answers for what the catalog does not hold
	case err != nil:
		return errcode.Wrap(errcode.Unavailable, err, "the owner of %s@%s cannot be checked: the catalog is unavailable; try again", repo, dgst)
	case !r.policy.Viewer(p, true).Sees(repo, owner, vis):
		log.Info("access denied: not visible", zap.String("user", p.User), zap.String("repo", repo), zap.Stringer("digest", dgst), zap.String("action", "delete"))
		return ErrManifestUnknown(repo, dgst.String())
	case owner != "" && owner != p.User:
		log.Info("access denied: not the owner", zap.String("user", p.User), zap.String("repo", repo), zap.String("owner", owner), zap.String("action", "delete"))
		return errcode.New(errcode.Denied, "%s@%s belongs to %s: only its owner or an admin of the repository may delete it", repo, dgst, owner)
	}
	return nil
}

// ErrManifestUnknown is the registry's answer for a manifest that is not
// there, or that the caller may not see.
func ErrManifestUnknown(repo, ref string) error {
	return errcode.New(errcode.ManifestUnknown, "manifest %s is not in repository %s", ref, repo).WithDetail(map[string]string{"name": repo, "reference": ref})
}

// deletePlan is what deleting one manifest involves: the artifacts
// attached to it by subject that go with it (cascade), deepest first, and
// those that depend on it and would be left pointing at nothing.
type deletePlan struct {
	cascade    []digest.Digest
	dependents []string
}

// planDelete finds what deleting repo@dgst means for the lineage graph.
// Dependents are the artifacts derived from it (by annotation, in any
// repository) and, unless cascade, those attached to it by subject that
// are not signatures, SBOMs or attestations. With cascade, everything
// attached by subject (to any depth) is deleted too, and what is derived
// from any of those is a dependent.
func (r *Registry) planDelete(ctx context.Context, repo string, dgst digest.Digest, cascade bool) (deletePlan, error) {
	var p deletePlan
	seen := map[digest.Digest]bool{dgst: true}
	level := []digest.Digest{dgst}
	var order [][]digest.Digest
	for len(level) > 0 {
		var next []digest.Digest
		for _, d := range level {
			es, err := r.store.Lineage(ctx, catalog.Node{Repository: repo, Digest: d}, catalog.Down, 1)
			if err != nil {
				return p, err
			}
			for _, e := range es {
				ref := NodeRef(e.Child)
				if e.Kind == catalog.EdgeDerivedFrom {
					if e.Child.Repository != repo || !seen[e.Child.Digest] {
						p.dependents = append(p.dependents, ref)
					}
					continue
				}
				if seen[e.Child.Digest] {
					continue
				}
				if !cascade {
					m, err := r.store.Manifest(ctx, e.Child.Repository, e.Child.Digest)
					if err != nil && !errors.Is(err, catalog.ErrNotFound) {
						return p, err
					}
					if err == nil && !IsAttachment(m.ArtifactType) {
						p.dependents = append(p.dependents, ref)
					}
					continue
				}
				seen[e.Child.Digest] = true
				next = append(next, e.Child.Digest)
			}
		}
		if len(next) > 0 {
			order = append(order, next)
		}
		level = next
	}
	for i := len(order) - 1; i >= 0; i-- {
		p.cascade = append(p.cascade, order[i]...)
	}
	return p, nil
}

// refuseDelete is the error of a delete that would leave dependents
// pointing at nothing.
func refuseDelete(repo string, dgst digest.Digest, dependents []string) error {
	const shown = 10
	list := strings.Join(dependents[:min(len(dependents), shown)], ", ")
	if len(dependents) > shown {
		list += fmt.Sprintf(" and %d more", len(dependents)-shown)
	}
	return errcode.New(errcode.Denied,
		"%s@%s has %d dependent artifact(s): %s; delete those first, or pass ?cascade=true to delete what is attached to it by subject too (artifacts derived from it are never deleted with it)",
		repo, dgst, len(dependents), list).
		WithDetail(map[string]any{"dependents": dependents, "count": len(dependents)})
}

// deleteCascade deletes the manifests ds of repo in the engine and the
// catalog, in order, and returns their references. It stops at the first
// the engine does not delete.
func (r *Registry) deleteCascade(ctx context.Context, repo string, ds []digest.Digest) ([]string, error) {
	var deleted []string
	for _, d := range ds {
		res, err := r.engineRequest(ctx, http.MethodDelete, "/v2/"+repo+"/manifests/"+d.String(), "", nil)
		if err != nil {
			return deleted, errcode.Wrap(errcode.Unknown, err, "deleting %s@%s, attached to the artifact being deleted, failed; the artifact is kept", repo, d)
		}
		if res.Status != http.StatusAccepted && res.Status != http.StatusNotFound {
			return deleted, errcode.New(errcode.Unknown, "deleting %s@%s, attached to the artifact being deleted, failed (%d); the artifact is kept", repo, d, res.Status)
		}
		if err := r.store.DeleteManifest(ctx, repo, d); err != nil && !errors.Is(err, catalog.ErrNotFound) {
			r.NeedsRepair(ctx, repo)
		}
		deleted = append(deleted, repo+"@"+d.String())
	}
	return deleted, nil
}
