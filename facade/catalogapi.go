package facade

import (
	"errors"
	"net/http"
	"strings"

	"github.com/cairn-dev/cairn/annotations"
	"github.com/cairn-dev/cairn/api"
	"github.com/cairn-dev/cairn/catalog"
	"github.com/cairn-dev/cairn/errcode"
	"github.com/cairn-dev/cairn/registry"
)

// listRepositories answers GET /api/v1/repositories.
func (s *catalogAPI) listRepositories(w http.ResponseWriter, r *http.Request) error {
	p, err := newParams(r.URL, api.ParamPrefix, api.ParamLimit, api.ParamPageToken)
	if err != nil {
		return err
	}
	limit, err := p.limit()
	if err != nil {
		return err
	}
	var after string
	if err := p.position("repositories", &after); err != nil && !errors.Is(err, errNoToken) {
		return err
	}
	rs, err := s.store.RepositorySummaries(r.Context(), p.get(api.ParamPrefix), after, s.viewerOf(r, false), limit+1)
	if err != nil {
		return registry.CatalogUnavailable(err)
	}
	ans := api.RepositoryPage{Repositories: []api.Repository{}}
	more := len(rs) > limit
	if more {
		rs = rs[:limit]
	}
	for _, rep := range rs {
		ans.Repositories = append(ans.Repositories, api.Repository(rep))
	}
	if more {
		if ans.NextPageToken, err = encodePageToken(p.fingerprint("repositories"), rs[len(rs)-1].Name); err != nil {
			return err
		}
	}
	return writeJSON(w, http.StatusOK, ans)
}

// annotationFacets answers GET /api/v1/annotations (keys) and
// GET /api/v1/annotations/{key}/values, over the artifacts the filters
// select.
func (s *catalogAPI) annotationFacets(w http.ResponseWriter, r *http.Request) error {
	p, err := newParams(r.URL, append([]string{api.ParamLimit}, api.ArtifactFilters...)...)
	if err != nil {
		return err
	}
	q, err := p.query()
	if err != nil {
		return err
	}
	q.Viewer = s.viewerOf(r, false)
	limit, err := p.limit()
	if err != nil {
		return err
	}
	rest := strings.TrimPrefix(strings.TrimPrefix(r.URL.EscapedPath(), "/api/v1/annotations"), "/")
	var counts []catalog.Count
	var key string
	if rest == "" {
		counts, err = s.store.AnnotationKeys(r.Context(), q, limit)
	} else {
		var ok bool
		if key, ok = strings.CutSuffix(rest, "/values"); !ok {
			return errcode.New(errcode.NotFound, "no such endpoint; use /api/v1/annotations or /api/v1/annotations/{key}/values")
		}
		if f, perr := annotations.ParseFilter(key); perr != nil || f.Op != annotations.Exists {
			return invalidParam("key", "%q is not an annotation key", key)
		}
		counts, err = s.store.AnnotationValues(r.Context(), key, q, limit)
	}
	if err != nil {
		return registry.CatalogUnavailable(err)
	}
	out := make([]api.Count, 0, len(counts))
	for _, c := range counts {
		out = append(out, api.Count(c))
	}
	if key == "" {
		return writeJSON(w, http.StatusOK, api.AnnotationKeys{Keys: out})
	}
	return writeJSON(w, http.StatusOK, api.AnnotationValues{Key: key, Values: out})
}

// maxBlobUses bounds the answer for one blob.
const maxBlobUses = 1000

// blobUses answers GET /api/v1/blobs/{digest}: every place a blob is used.
func (s *catalogAPI) blobUses(w http.ResponseWriter, r *http.Request) error {
	if _, err := newParams(r.URL); err != nil {
		return err
	}
	raw := strings.TrimPrefix(r.URL.EscapedPath(), "/api/v1/blobs/")
	d, err := parseDigest(raw)
	if err != nil {
		return invalidParam("digest", "%s", errcode.As(err).Message)
	}
	// A list of manifests: unlisted ones are not in it.
	uses, err := s.store.BlobUses(r.Context(), d, "", s.viewerOf(r, false), maxBlobUses)
	if err != nil {
		return registry.CatalogUnavailable(err)
	}
	if len(uses) == 0 {
		return errcode.New(errcode.BlobUnknown, "blob %s is not used by any artifact in the catalog", d).WithDetail(map[string]string{"digest": d.String()})
	}
	out := make([]api.BlobUse, 0, len(uses))
	for _, u := range uses {
		out = append(out, api.BlobUse{Repository: u.Repository, Manifest: u.Manifest, Kind: u.Kind, MediaType: u.MediaType, Size: u.Size, Title: u.Title})
	}
	return writeJSON(w, http.StatusOK, api.BlobUses{Digest: d, Uses: out})
}

// resolvePath answers GET /resolve/hash://{alg}/{hex}.
func (s *catalogAPI) resolvePath(w http.ResponseWriter, r *http.Request) error {
	if _, err := newParams(r.URL); err != nil {
		return err
	}
	return s.resolve(w, r, strings.TrimPrefix(r.URL.EscapedPath(), "/resolve/"))
}

// resolveQuery answers GET /api/v1/resolve?id=hash://{alg}/{hex}.
func (s *catalogAPI) resolveQuery(w http.ResponseWriter, r *http.Request) error {
	p, err := newParams(r.URL, api.ParamID)
	if err != nil {
		return err
	}
	if p.get(api.ParamID) == "" {
		return invalidParam(api.ParamID, "id is required: a content id such as hash://sha256/<hex>")
	}
	return s.resolve(w, r, p.get(api.ParamID))
}

// resolve redirects a content id to the blob (or manifest) in one
// repository that holds it.
func (s *catalogAPI) resolve(w http.ResponseWriter, r *http.Request, id string) error {
	d, err := registry.ParseContentID(id)
	if err != nil {
		return invalidParam(api.ParamID, "%v", err)
	}
	c, err := s.core.Resolve(r.Context(), principalFrom(r), d)
	if err != nil {
		return err
	}
	w.Header().Set("Location", c.Path())
	w.Header().Set("Docker-Content-Digest", d.String())
	w.WriteHeader(http.StatusTemporaryRedirect)
	return nil
}
