package facade

import (
	"net/http"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/cairn-dev/cairn/errcode"
)

// referrers answers the OCI 1.1 referrers API. An engine with its own
// answers; otherwise the catalog does: every manifest in the repository
// whose subject is the digest, optionally of one artifactType.
func (s *Server) referrers(w http.ResponseWriter, r *http.Request, rt v2Route) error {
	if s.engine.NativeReferrers() {
		res := s.forward(r)
		// An upstream without the API (404 with no OCI body) falls back.
		if res.status != http.StatusNotFound {
			return res.copyTo(w)
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
	ms, err := s.store.Referrers(r.Context(), rt.name, subject, artifactType)
	if err != nil {
		return errcode.Wrap(errcode.Unavailable, err, "the catalog cannot answer referrers right now; try again")
	}
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
