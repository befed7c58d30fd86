package facade

import (
	"net/http"
	"regexp"
	"strings"

	"github.com/distribution/reference"
	"github.com/gorilla/mux"
	"github.com/opencontainers/go-digest"

	"github.com/cairn-dev/cairn/annotations"
	"github.com/cairn-dev/cairn/auth"
	"github.com/cairn-dev/cairn/errcode"
)

// routeKind is what a /v2/ path names.
type routeKind int

const (
	routeBase routeKind = iota
	routeCatalog
	routeManifest
	routeBlob
	routeUploadStart
	routeUpload
	routeTags
	routeReferrers
)

// String names the route class, for metrics and logs.
func (k routeKind) String() string {
	return [...]string{"base", "catalog", "manifest", "blob", "upload", "upload", "tags", "referrers"}[k]
}

// v2Route is a parsed /v2/ path.
type v2Route struct {
	kind routeKind
	name string
	// ref is the tag or digest of a manifest, the digest of a blob or of a
	// referrers subject, or the upload session id.
	ref string
}

// maxNameLength bounds a repository name, as the distribution spec does.
const maxNameLength = reference.RepositoryNameTotalLengthMax

// tagRE is the distribution spec's tag grammar, as the reference package
// spells it, matched whole.
var tagRE = regexp.MustCompile(`^(?:` + reference.TagRegexp.String() + `)$`)

// routes builds the router: the only place paths are spelled.
func (s *Server) routes() http.Handler {
	// Paths are not cleaned: "/v2/a/../b" must be refused, not redirected.
	r := mux.NewRouter().SkipClean(true)
	r.Handle("/healthz", s.adapt("health", s.healthz)).Methods(http.MethodGet, http.MethodHead)
	r.Handle("/readyz", s.adapt("health", s.readyz)).Methods(http.MethodGet, http.MethodHead)
	r.Handle("/version", s.adapt("version", s.serveVersion)).Methods(http.MethodGet, http.MethodHead)
	r.Handle("/metrics", s.metrics.handler()).Methods(http.MethodGet)
	r.PathPrefix("/v2").Handler(http.HandlerFunc((&registryAPI{s}).serveV2))

	// The catalog API. Paths of references, keys and content ids hold
	// slashes of their own, so those routes are prefixes.
	c := &catalogAPI{s}
	get := []string{http.MethodGet, http.MethodHead}
	r.Handle("/auth/token", s.adaptAPI("token", c.issueToken)).Methods(get...)
	r.Handle("/api/v1/openapi.json", s.adaptAPI("api", c.openAPI)).Methods(get...)
	r.Handle("/api/v1/artifacts", s.adaptAPI("api", c.viewing(c.listArtifacts))).Methods(get...)
	r.PathPrefix("/api/v1/artifacts/").Handler(s.adaptAPI("api", c.viewing(c.getArtifact))).Methods(get...)
	r.PathPrefix("/api/v1/artifacts/").Handler(s.adaptAPI("promote", c.promote)).Methods(http.MethodPost)
	r.Handle("/api/v1/repositories", s.adaptAPI("api", c.viewing(c.listRepositories))).Methods(get...)
	r.Handle("/api/v1/annotations", s.adaptAPI("api", c.viewing(c.annotationFacets))).Methods(get...)
	r.PathPrefix("/api/v1/annotations/").Handler(s.adaptAPI("api", c.viewing(c.annotationFacets))).Methods(get...)
	r.PathPrefix("/api/v1/blobs/").Handler(s.adaptAPI("api", c.viewing(c.blobUses))).Methods(get...)
	r.PathPrefix("/api/v1/lineage/").Handler(s.adaptAPI("api", c.viewing(c.lineage))).Methods(get...)
	r.Handle("/api/v1/trust", s.adaptAPI("api", c.apiTrust)).Methods(get...)
	r.Handle("/api/v1/tokens", s.adaptAPI("tokens", c.tokens)).Methods(http.MethodGet, http.MethodHead, http.MethodPost)
	r.PathPrefix("/api/v1/tokens/").Handler(s.adaptAPI("tokens", c.revokeToken)).Methods(http.MethodDelete)
	r.Handle("/api/v1/events", s.adaptAPI("events", c.gated(auth.Admin, c.postEvent))).Methods(http.MethodPost)
	r.Handle("/api/v1/resolve", s.adaptAPI("resolve", c.viewing(c.resolveQuery))).Methods(get...)
	r.PathPrefix("/resolve/").Handler(s.adaptAPI("resolve", c.viewing(c.resolvePath))).Methods(get...)

	r.NotFoundHandler = http.HandlerFunc(s.unknownEndpoint)
	r.MethodNotAllowedHandler = http.HandlerFunc(s.unknownEndpoint)
	return r
}

// unknownEndpoint answers paths and methods no route takes, in the shape
// of the API the path is under.
func (s *Server) unknownEndpoint(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/api/") || strings.HasPrefix(r.URL.Path, "/resolve/") {
		s.adaptAPI("unknown", func(w http.ResponseWriter, r *http.Request) error {
			return errcode.New(errcode.NotFound, "no endpoint %s %s; /api/v1/openapi.json lists the catalog API", r.Method, r.URL.Path)
		}).ServeHTTP(w, r)
		return
	}
	s.adapt("unknown", func(w http.ResponseWriter, r *http.Request) error {
		return errcode.New(errcode.Unsupported, "no endpoint %s %s; the registry API is under /v2/, the catalog API under /api/v1/", r.Method, r.URL.Path)
	}).ServeHTTP(w, r)
}

// parseV2 splits a /v2/ path into its route and checks the repository name,
// tag and digest grammar. Escaped slashes and other encodings are refused:
// names are plain ASCII by the spec.
func parseV2(u interface {
	EscapedPath() string
}) (v2Route, error) {
	p := u.EscapedPath()
	if p == "/v2" || p == "/v2/" {
		return v2Route{kind: routeBase}, nil
	}
	rest, ok := strings.CutPrefix(p, "/v2/")
	if !ok {
		return v2Route{}, errcode.New(errcode.NameInvalid, "path %q is not under /v2/", p)
	}
	if rest == "_catalog" {
		return v2Route{kind: routeCatalog}, nil
	}
	if strings.Contains(rest, "%") {
		return v2Route{}, errcode.New(errcode.NameInvalid, "path %q has escaped characters; repository names, tags and digests are plain lower-case ASCII", p)
	}
	var rt v2Route
	switch {
	case strings.HasSuffix(rest, "/tags/list"):
		rt = v2Route{kind: routeTags, name: strings.TrimSuffix(rest, "/tags/list")}
	case strings.HasSuffix(rest, "/blobs/uploads/"):
		rt = v2Route{kind: routeUploadStart, name: strings.TrimSuffix(rest, "/blobs/uploads/")}
	default:
		i := strings.LastIndexByte(rest, '/')
		if i < 0 {
			return v2Route{}, errcode.New(errcode.NameInvalid, "path %q names no resource; expected /v2/<name>/manifests/<reference>, /blobs/<digest>, /tags/list or /referrers/<digest>", p)
		}
		head, last := rest[:i], rest[i+1:]
		j := strings.LastIndexByte(head, '/')
		if j < 0 {
			return v2Route{}, errcode.New(errcode.NameInvalid, "path %q names no repository", p)
		}
		name, what := head[:j], head[j+1:]
		switch {
		case what == "manifests":
			rt = v2Route{kind: routeManifest, name: name, ref: last}
		case what == "blobs":
			rt = v2Route{kind: routeBlob, name: name, ref: last}
		case what == "referrers":
			rt = v2Route{kind: routeReferrers, name: name, ref: last}
		case what == "uploads" && strings.HasSuffix(name, "/blobs"):
			rt = v2Route{kind: routeUpload, name: strings.TrimSuffix(name, "/blobs"), ref: last}
		default:
			return v2Route{}, errcode.New(errcode.NameInvalid, "path %q names no resource; expected /v2/<name>/manifests/<reference>, /blobs/<digest>, /tags/list or /referrers/<digest>", p)
		}
	}
	if err := checkName(rt.name); err != nil {
		return v2Route{}, err
	}
	switch rt.kind {
	case routeManifest:
		if err := checkReference(rt.ref); err != nil {
			return v2Route{}, err
		}
	case routeBlob, routeReferrers:
		if _, err := parseDigest(rt.ref); err != nil {
			return v2Route{}, err
		}
	case routeUpload:
		if rt.ref == "" {
			return v2Route{}, errcode.New(errcode.BlobUploadUnknown, "empty upload session id")
		}
	}
	return rt, nil
}

// checkName checks a repository name against the spec's grammar.
func checkName(name string) error {
	if len(name) > maxNameLength {
		return errcode.New(errcode.NameInvalid, "repository name is %d characters; at most %d are allowed", len(name), maxNameLength)
	}
	if !annotations.ValidRepository(name) {
		return errcode.New(errcode.NameInvalid, "invalid repository name %q: use lower-case letters, digits and separators (. _ __ -), components joined by /", name)
	}
	return nil
}

// checkReference checks a manifest reference: a tag or a digest.
func checkReference(ref string) error {
	if strings.Contains(ref, ":") {
		_, err := parseDigest(ref)
		return err
	}
	if !tagRE.MatchString(ref) {
		return errcode.New(errcode.ManifestInvalid, "invalid tag %q: up to 128 of letters, digits, _ . -, not starting with . or -", ref).WithDetail(map[string]string{"tag": ref})
	}
	return nil
}

// parseDigest parses and validates a digest, refusing algorithms this
// server cannot verify.
func parseDigest(s string) (digest.Digest, error) {
	d, err := digest.Parse(s)
	if err != nil {
		return "", errcode.New(errcode.DigestInvalid, "invalid digest %q: %v; expected <algorithm>:<lower-case hex>, sha256 or sha512", s, err)
	}
	return d, nil
}

// isDigest reports whether a manifest reference is a digest (not a tag).
func isDigest(ref string) bool { return strings.Contains(ref, ":") }
