package facade

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/cairn-dev/cairn/catalog"
	"github.com/cairn-dev/cairn/errcode"
)

// artifactJSON is an artifact as the catalog API answers it.
type artifactJSON struct {
	Repository   string        `json:"repository"`
	Digest       digest.Digest `json:"digest"`
	MediaType    string        `json:"mediaType"`
	ArtifactType string        `json:"artifactType,omitempty"`
	// Size is what a full pull moves: the manifest and every blob it lists.
	Size         int64             `json:"size"`
	ManifestSize int64             `json:"manifestSize"`
	Tags         []string          `json:"tags"`
	Annotations  map[string]string `json:"annotations"`
	Subject      *digest.Digest    `json:"subject,omitempty"`
	Config       *layerJSON        `json:"config,omitempty"`
	Layers       []layerJSON       `json:"layers"`
	Manifests    []layerJSON       `json:"manifests,omitempty"`
	PushedAt     time.Time         `json:"pushedAt"`
	// Signed: at least one signature verified with a trusted key.
	Signed     bool                `json:"signed"`
	Signatures []catalog.Signature `json:"signatures"`
	// Visibility is answered for one artifact, with access control on.
	Visibility string `json:"visibility,omitempty"`
	// Referrers is answered for one artifact, not in lists.
	Referrers []artifactJSON `json:"referrers,omitempty"`
}

type layerJSON struct {
	MediaType    string            `json:"mediaType"`
	Digest       digest.Digest     `json:"digest"`
	Size         int64             `json:"size"`
	ArtifactType string            `json:"artifactType,omitempty"`
	Title        string            `json:"title,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
}

func toArtifactJSON(m catalog.Manifest) artifactJSON {
	a := artifactJSON{
		Repository:   m.Repository,
		Digest:       m.Digest,
		MediaType:    m.MediaType,
		ArtifactType: m.ArtifactType,
		Size:         m.TotalSize,
		ManifestSize: m.Size,
		Tags:         m.Tags,
		Annotations:  m.Annotations,
		Layers:       []layerJSON{},
		PushedAt:     m.PushedAt,
	}
	if a.Tags == nil {
		a.Tags = []string{}
	}
	a.Signatures = m.Signatures
	if a.Signatures == nil {
		a.Signatures = []catalog.Signature{}
	}
	for _, sg := range m.Signatures {
		a.Signed = a.Signed || sg.Verified
	}
	if a.Annotations == nil {
		a.Annotations = map[string]string{}
	}
	if m.Subject != "" {
		s := m.Subject
		a.Subject = &s
	}
	for _, l := range m.Layers {
		lj := layerJSON{MediaType: l.MediaType, Digest: l.Digest, Size: l.Size, ArtifactType: l.ArtifactType, Title: l.Title, Annotations: l.Annotations}
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

type artifactsAnswer struct {
	Artifacts     []artifactJSON `json:"artifacts"`
	NextPageToken string         `json:"nextPageToken,omitempty"`
}

// listArtifacts answers GET /api/v1/artifacts.
func (s *Server) listArtifacts(w http.ResponseWriter, r *http.Request) error {
	p, err := newParams(r.URL, append([]string{"sort", "limit", "page_token"}, artifactParams...)...)
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
		return catalogUnavailable(err)
	}
	ans := artifactsAnswer{Artifacts: make([]artifactJSON, 0, len(page.Artifacts))}
	for _, m := range page.Artifacts {
		ans.Artifacts = append(ans.Artifacts, toArtifactJSON(m))
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
func (s *Server) getArtifact(w http.ResponseWriter, r *http.Request) error {
	if _, err := newParams(r.URL); err != nil {
		return err
	}
	ref := strings.TrimPrefix(r.URL.EscapedPath(), "/api/v1/artifacts/")
	repo, dgst, tag, err := parseArtifactRef(ref)
	if err != nil {
		return err
	}
	ctx := r.Context()
	if tag != "" {
		if dgst, err = s.store.ResolveTag(ctx, repo, tag); err != nil {
			return notFoundOr(err, "no tag %s in repository %s", tag, repo)
		}
	}
	m, err := s.store.Manifest(ctx, repo, dgst)
	if err == nil && !s.viewerOf(r, tag == "").Sees(repo, m.Owner, m.Visibility) {
		err = catalog.ErrNotFound // not there, as far as the caller can tell
	}
	if err != nil {
		return notFoundOr(err, "no artifact %s in repository %s", dgst, repo)
	}
	refs, err := s.store.Referrers(ctx, repo, dgst, "")
	if err != nil {
		return catalogUnavailable(err)
	}
	a := toArtifactJSON(m)
	if s.policy != nil {
		a.Visibility = string(s.policy.Effective(repo, m.Visibility))
	}
	// Referrers are found through their subject's digest, as on /v2/.
	v := s.viewerOf(r, true)
	for _, ref := range refs {
		if v.Sees(repo, ref.Owner, ref.Visibility) {
			a.Referrers = append(a.Referrers, toArtifactJSON(ref))
		}
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

// notFoundOr maps the store's ErrNotFound to a 404 with msg, and other
// errors to 503.
func notFoundOr(err error, format string, args ...any) error {
	if errors.Is(err, catalog.ErrNotFound) {
		return errcode.New(errcode.NotFound, format, args...)
	}
	return catalogUnavailable(err)
}

// catalogUnavailable maps a store error: a query the store refuses is the
// client's (400), anything else is the store's (503).
func catalogUnavailable(err error) error {
	if errors.Is(err, catalog.ErrInvalidQuery) {
		return errcode.Wrap(errcode.InvalidParameter, err, "%v", err)
	}
	return errcode.Wrap(errcode.Unavailable, err, "the catalog cannot answer right now; try again")
}
