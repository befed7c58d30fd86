package facade

import (
	"fmt"
	"net/http"

	"github.com/opencontainers/go-digest"
	"go.uber.org/zap"

	"github.com/cairn-dev/cairn/auth"
	"github.com/cairn-dev/cairn/catalog"
	"github.com/cairn-dev/cairn/errcode"
	"github.com/cairn-dev/cairn/registry"
)

// VisibilityHeader carries the visibility of what a read answered with,
// when access control is on.
const VisibilityHeader = "Cairn-Visibility"

// readRoute reports whether a /v2/ request reads artifacts: those are
// checked per artifact, by its owner and visibility.
func readRoute(r *http.Request, rt v2Route) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	switch rt.kind {
	case routeManifest, routeBlob, routeTags, routeReferrers:
		return true
	}
	return false
}

// viewerOf is what the request's caller sees in the catalog: nil with
// access control off.
func (s *Server) viewerOf(r *http.Request, byDigest bool) *catalog.Viewer {
	return s.policy.Viewer(principalFrom(r), byDigest)
}

// hidden answers a read of something the caller may not see as the
// registry answers for what is not there. Callers with no name are asked
// to log in first: clients send the credentials they hold only when
// challenged, so a 404 would hide content from its own owner's pulls.
func (s *registryAPI) hidden(w http.ResponseWriter, r *http.Request, rt v2Route) error {
	p := principalFrom(r)
	s.logger(r.Context()).Info("access denied: not visible", zap.String("user", p.User), zap.String("repo", rt.name), zap.String("reference", rt.ref), zap.String("action", "pull"))
	mayPull := s.policy.May(p, rt.name, auth.Pull)
	switch {
	case p.Unnamed():
		return s.challenge(w, "repository:"+rt.name+":pull", "", fmt.Sprintf("authentication required to pull %s: log in (oras login, docker login, regctl registry login) with a cairn token that may", rt.name))
	case !mayPull:
		return errNameUnknown(rt.name)
	case rt.kind == routeManifest:
		return registry.ErrManifestUnknown(rt.name, rt.ref)
	case rt.kind == routeBlob:
		return errcode.New(errcode.BlobUnknown, "blob %s is not in repository %s", rt.ref, rt.name).WithDetail(map[string]string{"digest": rt.ref})
	}
	return errNameUnknown(rt.name)
}

// admitRead lets a read of a manifest or blob through, with its
// visibility in VisibilityHeader, or answers as hidden() does.
func (s *registryAPI) admitRead(w http.ResponseWriter, r *http.Request, rt v2Route) error {
	var vis catalog.Visibility
	var ok bool
	var err error
	if rt.kind == routeBlob {
		vis, ok, err = s.core.BlobVisibility(r.Context(), principalFrom(r), rt.name, digest.Digest(rt.ref))
	} else {
		vis, ok, err = s.manifestVisibility(r, rt.name, rt.ref)
	}
	switch {
	case err != nil:
		return err
	case !ok:
		return s.hidden(w, r, rt)
	}
	w.Header().Set(VisibilityHeader, string(vis))
	return nil
}

// manifestVisibility asks the core about the manifest repo/ref names.
func (s *registryAPI) manifestVisibility(r *http.Request, repo, ref string) (catalog.Visibility, bool, error) {
	if isDigest(ref) {
		return s.core.ManifestVisibility(r.Context(), principalFrom(r), repo, "", digest.Digest(ref))
	}
	return s.core.ManifestVisibility(r.Context(), principalFrom(r), repo, ref, "")
}

// mayMount reports whether the caller may mount blob mount from repo
// from: whether they could read it there.
func (s *registryAPI) mayMount(r *http.Request, from, mount string) bool {
	d, err := digest.Parse(mount)
	if err != nil || checkName(from) != nil {
		return false
	}
	_, ok, err := s.core.BlobVisibility(r.Context(), principalFrom(r), from, d)
	return err == nil && ok
}
