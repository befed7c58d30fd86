package facade

import (
	"net/http"

	"github.com/cairn-dev/cairn/errcode"
)

// registryAPI answers the OCI distribution API under /v2/: the front door
// of OCI clients. Its handlers, one file per resource (manifests.go,
// blobs.go, tags.go, referrers.go, repositories.go), parse and authorise
// a request, call the core or pass it to the engine, and render the
// answer in the spec's shape.
type registryAPI struct{ *Server }

// serveV2 parses a /v2/ path, checks its names, and hands it to the
// route's handler.
func (s *registryAPI) serveV2(w http.ResponseWriter, r *http.Request) {
	rt, err := parseV2(r.URL)
	class := "invalid"
	if err == nil {
		class = rt.kind.String()
	}
	s.adapt(class, func(w http.ResponseWriter, r *http.Request) error {
		if err != nil {
			return err
		}
		if s.policy != nil {
			var err error
			if r, err = s.authorizeV2(w, r, rt); err != nil {
				return err
			}
			switch {
			case rt.kind == routeCatalog:
				return s.publicCatalog(w, r)
			case rt.kind == routeTags && readRoute(r, rt):
				return s.tagsList(w, r, rt)
			}
		}
		return s.dispatch(w, r, rt)
	}).ServeHTTP(w, r)
}

// dispatch picks the handler for a parsed route and method.
func (s *registryAPI) dispatch(w http.ResponseWriter, r *http.Request, rt v2Route) error {
	switch rt.kind {
	case routeManifest:
		switch r.Method {
		case http.MethodPut:
			return s.putManifest(w, r, rt)
		case http.MethodDelete:
			return s.deleteManifest(w, r, rt)
		case http.MethodGet, http.MethodHead:
			return s.getManifest(w, r, rt)
		}
	case routeBlob:
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			return s.getBlob(w, r, rt)
		case http.MethodDelete:
			return s.deleteBlob(w, r, rt)
		}
	case routeUploadStart:
		if r.Method == http.MethodPost {
			return s.startUpload(w, r, rt)
		}
	case routeUpload:
		switch r.Method {
		case http.MethodPut:
			return s.finishUpload(w, r, rt)
		case http.MethodGet, http.MethodPatch, http.MethodDelete:
			return s.continueUpload(w, r, rt)
		}
	case routeReferrers:
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			return s.referrers(w, r, rt)
		}
	case routeBase, routeCatalog, routeTags:
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			return s.pass(w, r)
		}
	}
	return errcode.New(errcode.Unsupported, "%s is not allowed on %s", r.Method, r.URL.Path)
}
