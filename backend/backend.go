// Package backend defines the registry engine behind the façade: the
// embedded distribution library (backend/embedded) or an upstream OCI
// registry reached over HTTP (backend/upstream). Both serve the /v2/ API as
// an http.Handler; the façade adds what they lack.
//
// Backend is what every engine offers, with the facts about it that change
// what the façade does around it. The other interfaces here are optional
// abilities, each declared once with what an engine offering it promises;
// callers check for them at run time and never infer from one ability
// which engine they hold.
package backend

import (
	"context"
	"net/http"
	"os"
	"time"

	"github.com/opencontainers/go-digest"
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
	// MonolithicUploads reports whether the engine takes a blob's bytes in
	// the POST that opens its upload (the spec's single-request upload,
	// POST …/blobs/uploads/?digest= with a body). When it does not, the
	// façade opens a session and completes it with the body.
	MonolithicUploads() bool
	// Reconciled reports whether others write to the engine without
	// passing through cairn (an upstream registry pushed to directly), so
	// that the catalog is kept in step by walking the engine (it is then a
	// Walker) at start and every reconcile interval. The walk at start
	// stands in for the repair of a crash's pending marks.
	Reconciled() bool
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
	// stand-in for its push time; zero when the engine cannot tell.
	ModTime time.Time
}

// Walker is offered by an engine whose content cairn can enumerate, so
// that the catalog can be rebuilt from it.
type Walker interface {
	// Repositories lists every repository the engine holds.
	Repositories(ctx context.Context) ([]string, error)
	// Walk calls fn for every manifest of repo it can reach.
	Walk(ctx context.Context, repo string, fn func(Manifest) error) error
}

// RepositoryChecker is offered by an engine that can tell an unknown
// repository from an unknown manifest or blob, which its own 404s do not.
type RepositoryChecker interface {
	// RepositoryExists reports whether storage holds anything of repo.
	RepositoryExists(ctx context.Context, repo string) (bool, error)
}

// BlobOpener is offered by an engine whose blobs can be read as files, so
// that the façade serves them (ranges, conditional requests, sendfile)
// without the engine's handlers. Each answer follows the repository's own
// links as the engine does: a blob not linked in a repository is not
// served from it.
type BlobOpener interface {
	// OpenBlob opens the bytes of blob d of repo. ok is false when the
	// engine must answer instead (no link, no data, storage that is not a
	// local filesystem).
	OpenBlob(repo string, d digest.Digest) (f *os.File, ok bool)
	// LacksBlob reports whether repo certainly does not hold d; false
	// when unsure.
	LacksBlob(repo string, d digest.Digest) bool
	// StoresBlob reports whether storage holds the bytes of the sha256
	// blob d in any repository.
	StoresBlob(ctx context.Context, d digest.Digest) bool
}

// BlobLinker is offered by an engine that can make a repository hold a
// blob its storage already has, as a cross-repository mount does, without
// moving its bytes.
type BlobLinker interface {
	// LinkBlob links the sha256 blob d into repo; an error when storage
	// lacks its bytes. Durable when it returns.
	LinkBlob(ctx context.Context, repo string, d digest.Digest) error
}

// DigestAliaser is offered by an engine that stores content under its
// sha256 digest only: a blob or manifest pushed by another algorithm's
// digest (sha512) is stored, and answered (Docker-Content-Digest,
// Location), under its sha256 one. The engine keeps links from the other
// digest to the sha256 one, so the façade pushes manifests to it by
// sha256, links the client's digest, and names the client's digest in its
// answers.
type DigestAliaser interface {
	// LinkManifestAlias makes alias name the manifest of repo stored as
	// canonical. Durable when it returns.
	LinkManifestAlias(ctx context.Context, repo string, alias, canonical digest.Digest) error
	// LinkBlobAlias makes alias name the blob stored as canonical in repo.
	// Durable when it returns.
	LinkBlobAlias(ctx context.Context, repo string, alias, canonical digest.Digest) error
	// BlobAlias returns the canonical digest alias names in repo.
	BlobAlias(ctx context.Context, repo string, alias digest.Digest) (digest.Digest, error)
}

// FilesystemSyncer is offered by an engine that makes its writes durable
// by syncing the whole filesystem its storage is on before each write is
// answered, so that the sync also covers what another program wrote to
// that filesystem before the write.
type FilesystemSyncer interface {
	// SyncCovers reports whether the engine's sync covers files under dir:
	// the engine syncs that way at all, and dir is on its filesystem.
	SyncCovers(dir string) bool
}
