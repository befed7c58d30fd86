// Package facade is cairn's HTTP front: it routes the OCI distribution API,
// the catalog API and the operational endpoints, parses and checks what
// requests name, authenticates and authorises callers, calls the
// registry's operations (package registry) or the catalog's queries, and
// renders the answers in the OCI or the catalog API's shape. Business
// rules (what a push, delete or promotion does, who may see what, when a
// signature counts) live in package registry, not here.
package facade

import (
	"context"
	"errors"
	"net/http"

	"go.uber.org/zap"

	"github.com/cairn-dev/cairn/backend"
	"github.com/cairn-dev/cairn/catalog"
	"github.com/cairn-dev/cairn/registry"
)

// maxManifestSize is the largest manifest accepted, as in the spec's
// recommendation and the distribution library.
const maxManifestSize = 4 << 20

// Server is the façade.
type Server struct {
	log  *zap.Logger
	core *registry.Registry
	// engine answers the /v2/ requests the façade passes through.
	engine backend.Backend
	store  catalog.Store
	// policy is the core's access policy, nil with access control off;
	// authn reads callers' credentials when it is on.
	policy      *registry.AccessPolicy
	authn       *Authenticator
	metrics     *metrics
	versionInfo VersionInfo
	handler     http.Handler
}

// VersionInfo is what /version answers.
type VersionInfo struct {
	Version  string `json:"version"`
	Revision string `json:"revision,omitempty"`
	Engine   string `json:"engine"`
	Catalog  string `json:"catalog"`
}

// Option configures a Server.
type Option func(*Server)

// WithVersion sets what /version reports.
func WithVersion(v VersionInfo) Option { return func(s *Server) { s.versionInfo = v } }

// WithAuthenticator sets how callers prove who they are; required when the
// core has an access policy.
func WithAuthenticator(a *Authenticator) Option { return func(s *Server) { s.authn = a } }

// New returns a façade over core, passing the requests it does not
// answer itself to engine and reading the catalog's queries from store
// (the core's engine and store).
func New(log *zap.Logger, core *registry.Registry, engine backend.Backend, store catalog.Store, opts ...Option) (*Server, error) {
	s := &Server{log: log, core: core, engine: engine, store: store, policy: core.AccessPolicy()}
	for _, o := range opts {
		o(s)
	}
	if s.policy != nil && s.authn == nil {
		return nil, errors.New("facade: access control is on but no authenticator was given")
	}
	s.versionInfo.Engine = engine.Name()
	s.metrics = newMetrics(store)
	s.handler = s.withRequestID(s.routes())
	return s, nil
}

// ServeHTTP serves every route of the façade.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Ready reports whether the engine and the catalog can be reached.
func (s *Server) Ready(ctx context.Context) error { return s.core.Ready(ctx) }
