// Package facade is cairn's HTTP front: it routes the OCI distribution API
// to the engine, indexes every manifest the engine accepts, answers the
// OCI 1.1 features the engine lacks (referrers, OCI-Subject, sha512 where
// the embedded engine mishandles it), and serves the operational endpoints.
package facade

import (
	"context"
	// sha512 digests are accepted on every route; go-digest needs the hash
	// linked in to call them available.
	_ "crypto/sha512"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/cairn-dev/cairn/backend"
	"github.com/cairn-dev/cairn/catalog"
	"github.com/cairn-dev/cairn/signing"
)

// maxManifestSize is the largest manifest accepted, as in the spec's
// recommendation and the distribution library.
const maxManifestSize = 4 << 20

// Server is the façade.
type Server struct {
	log         *zap.Logger
	engine      backend.Backend
	store       catalog.Store
	metrics     *metrics
	versionInfo VersionInfo
	now         func() time.Time
	handler     http.Handler

	// manifestLocks orders manifest writes per repository.
	manifestLocks keyedMutex
	repairs       *repairs
	repairNow     chan struct{}
	journal       string
	reindex       func(ctx context.Context, repos []string) error
	// allowDeleteWithDependents lets deletes leave artifacts that depend on
	// the deleted one pointing at nothing.
	allowDeleteWithDependents bool
	// trust holds the keys signatures are verified with and where they
	// are required; nil trusts no key.
	trust *signing.Trust
	// access is nil when access control is off.
	access *Access
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

// WithClock sets the clock used for push times (tests).
func WithClock(now func() time.Time) Option { return func(s *Server) { s.now = now } }

// WithRepair keeps the set of repositories whose catalog entries may be
// behind the engine in a journal file, and names the function that
// reindexes them (see RunRepairs).
func WithRepair(journal string, reindex func(ctx context.Context, repos []string) error) Option {
	return func(s *Server) { s.journal, s.reindex = journal, reindex }
}

// New returns a façade in front of engine, indexing into store.
func New(log *zap.Logger, engine backend.Backend, store catalog.Store, opts ...Option) (*Server, error) {
	s := &Server{log: log, engine: engine, store: store, now: time.Now, repairNow: make(chan struct{}, 1)}
	for _, o := range opts {
		o(s)
	}
	var err error
	if s.repairs, err = loadRepairs(s.journal); err != nil {
		return nil, err
	}
	s.versionInfo.Engine = engine.Name()
	s.metrics = newMetrics(store)
	s.handler = s.withRequestID(s.routes())
	return s, nil
}

// ServeHTTP serves every route of the façade.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Ready reports whether the engine and the catalog can be reached.
func (s *Server) Ready(ctx context.Context) error {
	if err := s.engine.Ready(ctx); err != nil {
		return err
	}
	return s.store.Ping(ctx)
}
