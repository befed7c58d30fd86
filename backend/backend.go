// Package backend defines the registry engine behind the façade: the
// embedded distribution library (backend/embedded) or an upstream OCI
// registry reached over HTTP (backend/upstream). Both serve the /v2/ API as
// an http.Handler; the façade adds what they lack.
package backend

import (
	"context"
	"net/http"
	"time"
)

// Backend is a registry engine.
type Backend interface {
	// ServeHTTP answers a /v2/ request. The façade has validated the path.
	http.Handler
	// Ready reports whether the engine can serve requests.
	Ready(ctx context.Context) error
	// Name says which engine this is, for logs and /version.
	Name() string
	// NativeReferrers reports whether the engine answers the referrers API
	// itself. When it does not, the façade answers from its catalog.
	NativeReferrers() bool
	// Close releases what the engine holds.
	Close() error
}

// Manifest is one manifest read from an engine's storage by a walk.
type Manifest struct {
	Repository string
	Digest     string
	MediaType  string
	Payload    []byte
	// Tags are the tags pointing at this manifest.
	Tags []string
	// ModTime is when storage last wrote the manifest's link, the best
	// stand-in for its push time.
	ModTime time.Time
}

// Walker is implemented by engines whose storage cairn can read directly,
// so the catalog can be rebuilt from it.
type Walker interface {
	// Repositories lists every repository in storage.
	Repositories(ctx context.Context) ([]string, error)
	// Walk calls fn for every manifest of repo.
	Walk(ctx context.Context, repo string, fn func(Manifest) error) error
}
