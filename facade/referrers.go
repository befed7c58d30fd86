package facade

import (
	"net/http"
	"slices"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/cairn-dev/cairn/auth"
	"github.com/cairn-dev/cairn/catalog"
	"github.com/cairn-dev/cairn/errcode"
)

// referrers answers the OCI 1.1 referrers API. An engine with its own
// answers; otherwise the catalog does: every manifest in the repository
// whose subject is the digest, optionally of one artifactType.
func (s *registryAPI) referrers(w http.ResponseWriter, r *http.Request, rt v2Route) error {
	// With access control on, the catalog answers: it knows who may see
	// each referrer, the engine does not.
	v := s.viewerOf(r, true)
	if s.engine.NativeReferrers() && v == nil {
		res := s.forward(r)
		// An upstream without the API (404 with no OCI body) falls back.
		if res.Status != http.StatusNotFound {
			return res.CopyTo(w)
		}
	}
	subject, err := parseDigest(rt.ref)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	artifactType := q.Get("artifactType")
	if _, bad := q["artifactType"]; bad && artifactType == "" {
		return errcode.New(errcode.Unsupported, "artifactType filter is empty; give a media type or leave it out")
	}
	var ms []catalog.Manifest
	ok := true
	if s.policy != nil {
		// The subject is named by digest, as a manifest read would name it.
		if _, ok, err = s.manifestVisibility(r, rt.name, subject.String()); err != nil {
			return err
		}
	}
	switch {
	case !ok && !s.policy.May(principalFrom(r), rt.name, auth.Pull):
		return s.hidden(w, r, rt)
	case ok:
		// A subject the caller may not see has no referrers they may
		// see, as one that is not there has none.
		if ms, err = s.store.Referrers(r.Context(), rt.name, subject, artifactType); err != nil {
			return errcode.Wrap(errcode.Unavailable, err, "the catalog cannot answer referrers right now; try again")
		}
	}
	ms = slices.DeleteFunc(ms, func(m catalog.Manifest) bool { return !v.Sees(rt.name, m.Owner, m.Visibility) })
	idx := ocispec.Index{
		MediaType: ocispec.MediaTypeImageIndex,
		Manifests: make([]ocispec.Descriptor, 0, len(ms)),
	}
	idx.SchemaVersion = 2
	for _, m := range ms {
		idx.Manifests = append(idx.Manifests, ocispec.Descriptor{
			MediaType:    m.MediaType,
			Digest:       m.Digest,
			Size:         m.Size,
			ArtifactType: m.ArtifactType,
			Annotations:  m.Annotations,
		})
	}
	w.Header().Set("Content-Type", ocispec.MediaTypeImageIndex)
	if artifactType != "" {
		w.Header().Set("OCI-Filters-Applied", "artifactType")
	}
	return writeJSONAs(w, r, idx)
}
