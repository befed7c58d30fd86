package facade

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/cairn-dev/cairn/catalog"
	"github.com/cairn-dev/cairn/errcode"
)

// WithDeleteProtection sets whether deleting an artifact others depend on
// is refused (protect) or allowed, as the registry would allow it.
func WithDeleteProtection(protect bool) Option {
	return func(s *Server) { s.allowDeleteWithDependents = !protect }
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
func (s *Server) planDelete(ctx context.Context, repo string, dgst digest.Digest, cascade bool) (deletePlan, error) {
	var p deletePlan
	seen := map[digest.Digest]bool{dgst: true}
	level := []digest.Digest{dgst}
	var order [][]digest.Digest
	for len(level) > 0 {
		var next []digest.Digest
		for _, d := range level {
			es, err := s.store.Lineage(ctx, catalog.Node{Repository: repo, Digest: d}, catalog.Down, 1)
			if err != nil {
				return p, err
			}
			for _, e := range es {
				ref := nodeRef(e.Child)
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
					m, err := s.store.Manifest(ctx, e.Child.Repository, e.Child.Digest)
					if err != nil && !errors.Is(err, catalog.ErrNotFound) {
						return p, err
					}
					if err == nil && !attachmentTypes[m.ArtifactType] {
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

// deleteCascade deletes the manifests of plan in the engine and the
// catalog, deepest first, and returns their references. It stops at the
// first the engine does not delete.
func (s *Server) deleteCascade(r *http.Request, repo string, ds []digest.Digest) ([]string, error) {
	var deleted []string
	for _, d := range ds {
		req := r.Clone(r.Context())
		req.URL.Path = "/v2/" + repo + "/manifests/" + d.String()
		req.URL.RawPath = ""
		req.URL.RawQuery = ""
		res := s.forward(req)
		if res.status != http.StatusAccepted && res.status != http.StatusNotFound {
			return deleted, errcode.New(errcode.Unknown, "deleting %s@%s, attached to the artifact being deleted, failed (%d); the artifact is kept", repo, d, res.status)
		}
		if err := s.store.DeleteManifest(r.Context(), repo, d); err != nil && !errors.Is(err, catalog.ErrNotFound) {
			s.needsRepair(s.logger(r.Context()), repo)
		}
		deleted = append(deleted, repo+"@"+d.String())
	}
	return deleted, nil
}
