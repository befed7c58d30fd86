package facade

import (
	"errors"
	"net/http"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/cairn-dev/cairn/api"
	"github.com/cairn-dev/cairn/catalog"
	"github.com/cairn-dev/cairn/errcode"
	"github.com/cairn-dev/cairn/registry"
)

// toArtifact renders a catalog manifest as the API's artifact.
func toArtifact(m catalog.Manifest) api.Artifact {
	a := api.Artifact{
		Repository:   m.Repository,
		Digest:       m.Digest,
		MediaType:    m.MediaType,
		ArtifactType: m.ArtifactType,
		Size:         m.TotalSize,
		ManifestSize: m.Size,
		Tags:         m.Tags,
		Annotations:  m.Annotations,
		Subject:      m.Subject,
		Layers:       []api.Layer{},
		Signatures:   make([]api.Signature, 0, len(m.Signatures)),
		PushedAt:     m.PushedAt,
	}
	if a.Tags == nil {
		a.Tags = []string{}
	}
	for _, sg := range m.Signatures {
		a.Signatures = append(a.Signatures, toSignature(sg))
		a.Signed = a.Signed || sg.Verified
	}
	if a.Annotations == nil {
		a.Annotations = map[string]string{}
	}
	for _, l := range m.Layers {
		lj := api.Layer{MediaType: l.MediaType, Digest: l.Digest, Size: l.Size, ArtifactType: l.ArtifactType, Title: l.Title, Annotations: l.Annotations}
		switch l.Kind {
		case "config":
			a.Config = &lj
		case "manifest":
			a.Manifests = append(a.Manifests, lj)
		default:
			a.Layers = append(a.Layers, lj)
		}
	}
	return a
}

// toSignature renders a signature record: the catalog's type is its own
// to change, the API's is not.
func toSignature(sg catalog.Signature) api.Signature {
	return api.Signature{Manifest: sg.Manifest, Position: sg.Position, Form: sg.Form, KeyID: sg.KeyID, Verified: sg.Verified, SignedAt: sg.SignedAt, Error: sg.Error}
}

// listArtifacts answers GET /api/v1/artifacts.
func (s *catalogAPI) listArtifacts(w http.ResponseWriter, r *http.Request) error {
	p, err := newParams(r.URL, append([]string{api.ParamSort, api.ParamLimit, api.ParamPageToken}, api.ArtifactFilters...)...)
	if err != nil {
		return err
	}
	q, err := p.query()
	if err != nil {
		return err
	}
	q.Viewer = s.viewerOf(r, false)
	sort, err := p.sort()
	if err != nil {
		return err
	}
	limit, err := p.limit()
	if err != nil {
		return err
	}
	var after *catalog.Cursor
	var cur catalog.Cursor
	switch err := p.position("artifacts", &cur); {
	case err == nil:
		after = &cur
	case !errors.Is(err, errNoToken):
		return err
	}
	page, err := s.store.Artifacts(r.Context(), q, sort, limit, after)
	if err != nil {
		return registry.CatalogUnavailable(err)
	}
	ans := api.ArtifactPage{Artifacts: make([]api.Artifact, 0, len(page.Artifacts))}
	for _, m := range page.Artifacts {
		ans.Artifacts = append(ans.Artifacts, toArtifact(m))
	}
	if page.Next != nil {
		if ans.NextPageToken, err = encodePageToken(p.fingerprint("artifacts"), page.Next); err != nil {
			return err
		}
	}
	return writeJSON(w, http.StatusOK, ans)
}

// getArtifact answers GET /api/v1/artifacts/{repository}@{digest} and
// /api/v1/artifacts/{repository}:{tag}: one artifact with its referrers.
func (s *catalogAPI) getArtifact(w http.ResponseWriter, r *http.Request) error {
	if _, err := newParams(r.URL); err != nil {
		return err
	}
	ref := strings.TrimPrefix(r.URL.EscapedPath(), "/api/v1/artifacts/")
	repo, dgst, tag, err := parseArtifactRef(ref)
	if err != nil {
		return err
	}
	found, err := s.core.Artifact(r.Context(), principalFrom(r), repo, tag, dgst)
	if err != nil {
		return err
	}
	a := toArtifact(found.Manifest)
	if s.policy != nil {
		a.Visibility = string(found.Visibility)
	}
	for _, ref := range found.Referrers {
		a.Referrers = append(a.Referrers, toArtifact(ref))
	}
	return writeJSON(w, http.StatusOK, a)
}

// parseArtifactRef splits repository@digest or repository:tag.
func parseArtifactRef(ref string) (repo string, dgst digest.Digest, tag string, err error) {
	if strings.Contains(ref, "%") {
		return "", "", "", invalidParam("reference", "reference %q has escaped characters; use repository@digest or repository:tag", ref)
	}
	if i := strings.LastIndexByte(ref, '@'); i >= 0 {
		repo = ref[:i]
		if dgst, err = parseDigest(ref[i+1:]); err != nil {
			return "", "", "", invalidParam("reference", "%s", errcode.As(err).Message)
		}
	} else {
		slash := strings.LastIndexByte(ref, '/')
		colon := strings.LastIndexByte(ref, ':')
		if colon < 0 || colon < slash {
			return "", "", "", invalidParam("reference", "reference %q names no digest or tag; use repository@digest or repository:tag", ref)
		}
		repo, tag = ref[:colon], ref[colon+1:]
		if !tagRE.MatchString(tag) {
			return "", "", "", invalidParam("reference", "tag %q is not a valid tag", tag)
		}
	}
	if err := checkName(repo); err != nil {
		return "", "", "", invalidParam("reference", "%s", errcode.As(err).Message)
	}
	return repo, dgst, tag, nil
}
