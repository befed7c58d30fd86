package registry

import (
	"bytes"
	"context"
	// sha512 digests are accepted everywhere; go-digest needs the hash
	// linked in to call them available.
	_ "crypto/sha512"
	"io"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/cairn-dev/cairn/backend"
	"github.com/cairn-dev/cairn/catalog"
	"github.com/cairn-dev/cairn/signing"
)

// Registry is cairn's application core: the operations every front door
// calls, over one engine and one catalog.
type Registry struct {
	log    *zap.Logger
	engine backend.Backend
	store  catalog.Store
	now    func() time.Time

	// locks orders manifest writes, promotions and repairs per repository.
	locks   keyedMutex
	repairs *repairs
	// repairNow wakes the repair loop.
	repairNow chan struct{}
	journal   string
	// protect refuses deletes that would leave dependents pointing at
	// nothing.
	protect bool
	// trust holds the keys signatures are verified with and where they
	// are required; nil trusts no key.
	trust *signing.Trust
	// policy is nil when access control is off.
	policy *AccessPolicy
}

// Option configures a Registry.
type Option func(*Registry)

// WithClock sets the clock of push times and token checks (tests).
func WithClock(now func() time.Time) Option { return func(r *Registry) { r.now = now } }

// WithTrust sets the keys signatures are verified with and the
// repositories that require them.
func WithTrust(t *signing.Trust) Option { return func(r *Registry) { r.trust = t } }

// WithPolicy turns access control on.
func WithPolicy(p *AccessPolicy) Option { return func(r *Registry) { r.policy = p } }

// WithDeleteProtection sets whether deleting an artifact others depend on
// is refused (protect) or allowed, as the registry would allow it. It is
// on by default.
func WithDeleteProtection(protect bool) Option { return func(r *Registry) { r.protect = protect } }

// WithRepairJournal keeps the set of repositories whose catalog entries
// may be behind the engine in a journal file, so that a restart does not
// forget them (see RunRepairs); without it the set is kept in memory.
func WithRepairJournal(path string) Option { return func(r *Registry) { r.journal = path } }

// New returns the registry's operations over engine and store.
func New(log *zap.Logger, engine backend.Backend, store catalog.Store, opts ...Option) (*Registry, error) {
	r := &Registry{log: log, engine: engine, store: store, now: time.Now, protect: true, repairNow: make(chan struct{}, 1)}
	for _, o := range opts {
		o(r)
	}
	var err error
	if r.repairs, err = loadRepairs(r.journal); err != nil {
		return nil, err
	}
	return r, nil
}

// AccessPolicy returns the access policy; nil when access control is off.
func (r *Registry) AccessPolicy() *AccessPolicy { return r.policy }

// Trust returns the trust policy signatures are verified with.
func (r *Registry) Trust() *signing.Trust { return r.trust }

// Now is the registry's clock.
func (r *Registry) Now() time.Time { return r.now() }

// Ready reports whether the engine and the catalog can be reached.
func (r *Registry) Ready(ctx context.Context) error {
	if err := r.engine.Ready(ctx); err != nil {
		return err
	}
	return r.store.Ping(ctx)
}

// engineRequest sends one of the registry's own requests to the engine
// and holds its answer. The registry's writes go through the engine's
// /v2/ handlers rather than a Go API because those handlers hold what a
// client must get alike whether it talks to the engine or through cairn:
// the spec's checks (the blobs a manifest lists exist), its error answers,
// and the embedded engine's durability (an answer waits for the storage
// sync); an upstream engine has no other way in.
func (r *Registry) engineRequest(ctx context.Context, method, path, contentType string, body []byte) (*backend.Answer, error) {
	var rd io.Reader = http.NoBody
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, path, rd)
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return backend.Call(r.engine, req), nil
}
