// Package embedded runs the CNCF distribution registry library in-process as
// cairn's engine: filesystem storage under the data directory by default, or
// any of the library's storage drivers (S3, GCS, Azure) from configuration.
package embedded

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/distribution/distribution/v3"
	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/handlers"
	"github.com/distribution/distribution/v3/registry/storage"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/distribution/distribution/v3/registry/storage/driver/factory"
	"github.com/distribution/reference"
	"go.uber.org/zap"

	"github.com/cairn-dev/cairn/backend"
	"github.com/cairn-dev/cairn/errcode"

	// The storage drivers selectable from the configuration file.
	_ "github.com/distribution/distribution/v3/registry/storage/driver/azure"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/gcs"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/inmemory"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/s3-aws"
)

// Config configures the embedded engine. The zero value with a DataDir is a
// working filesystem engine.
type Config struct {
	// DataDir holds the filesystem storage (DataDir/storage) and the upload
	// secret (DataDir/upload-secret).
	DataDir string
	// Storage, when set, is the distribution library's storage section: one
	// driver name ("filesystem", "s3", "gcs", "azure", "inmemory") with its
	// parameters. Empty means filesystem under DataDir/storage.
	Storage map[string]map[string]any
}

// Engine is the embedded distribution library.
type Engine struct {
	app      *handlers.App
	driver   storagedriver.StorageDriver
	registry distribution.Namespace
	log      *zap.Logger
	// fsRoot is the filesystem driver's root directory, "" for other
	// drivers: blobs there are served straight from their files.
	fsRoot string
	// sync makes the filesystem storage's deferred writes durable; nil
	// where each write syncs itself (see fastDriver).
	sync *syncer
	// memory names the in-memory store, "" for other drivers.
	memory string
}

// The abilities the engine declares (see package backend).
var (
	_ backend.Backend           = (*Engine)(nil)
	_ backend.Walker            = (*Engine)(nil)
	_ backend.RepositoryChecker = (*Engine)(nil)
	_ backend.BlobOpener        = (*Engine)(nil)
	_ backend.BlobLinker        = (*Engine)(nil)
	_ backend.DigestAliaser     = (*Engine)(nil)
	_ backend.FilesystemSyncer  = (*Engine)(nil)
)

// New starts the engine. It creates the data directory and the upload
// secret on first use; the secret is kept so that uploads in progress
// survive a restart.
func New(ctx context.Context, log *zap.Logger, cfg Config) (e *Engine, err error) {
	if cfg.DataDir == "" {
		return nil, errors.New("embedded engine: no data directory")
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("embedded engine: data directory: %w", err)
	}
	secret, err := loadSecret(filepath.Join(cfg.DataDir, "upload-secret"))
	if err != nil {
		return nil, fmt.Errorf("embedded engine: %w", err)
	}
	st := configuration.Storage{}
	for name, params := range cfg.Storage {
		st[name] = configuration.Parameters(params)
	}
	if st.Type() == "" {
		st["filesystem"] = configuration.Parameters{"rootdirectory": filepath.Join(cfg.DataDir, "storage")}
	}
	fsRoot := ""
	if st.Type() == "filesystem" {
		params := st.Parameters()
		if fsRoot, _ = params["rootdirectory"].(string); fsRoot == "" {
			fsRoot = defaultFSRoot
		}
		// The same storage, written by the driver that skips syncing
		// uploads' bookkeeping (see fastDriver).
		delete(st, "filesystem")
		st[fastDriverName] = params
	}
	memory := ""
	if st.Type() == "inmemory" {
		// One store for the library and the engine (see memoryDriverName).
		memory = rand.Text()
		delete(st, "inmemory")
		st[memoryDriverName] = configuration.Parameters{memoryInstance: memory}
	}
	st["delete"] = configuration.Parameters{"enabled": true}
	// The façade serves bytes itself; redirects to a storage URL would hand
	// clients a second host to reach.
	st["redirect"] = configuration.Parameters{"disable": true}

	conf := &configuration.Configuration{Storage: st}
	conf.HTTP.Secret = secret
	// Relative Location headers: never built from the request's Host.
	conf.HTTP.RelativeURLs = true
	conf.Log.AccessLog.Disabled = true
	// The library's default applies only to configurations it parses
	// itself; without it every _catalog page size is refused.
	conf.Catalog.MaxEntries = 1000
	// Non-distributable layers name where they live; any http(s) URL may.
	conf.Validation.Manifests.URLs.Allow = []string{"^https?://"}

	routeLibraryLogs(log)

	// NewApp panics on a configuration it cannot use; turn that into an error.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("embedded engine: storage %q: %v", st.Type(), r)
		}
	}()
	app := handlers.NewApp(ctx, conf)

	driver, err := factory.Create(ctx, st.Type(), st.Parameters())
	if err != nil {
		return nil, fmt.Errorf("embedded engine: storage driver %q: %w", st.Type(), err)
	}
	reg, err := storage.NewRegistry(ctx, driver, storage.EnableDelete)
	if err != nil {
		return nil, fmt.Errorf("embedded engine: registry: %w", err)
	}
	e = &Engine{app: app, driver: driver, registry: reg, log: log, fsRoot: fsRoot, memory: memory}
	if fd, ok := driver.(*fastDriver); ok {
		e.sync = fd.sync
	}
	return e, nil
}

// loadSecret reads the upload secret, creating it on first use.
func loadSecret(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		s := strings.TrimSpace(string(b))
		if len(s) < 32 {
			return "", fmt.Errorf("upload secret %s is shorter than 32 characters; delete it to have a new one made", path)
		}
		return s, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("upload secret: %w", err)
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", fmt.Errorf("upload secret: %w", err)
	}
	s := hex.EncodeToString(raw[:])
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return loadSecret(path) // made by a racing start
		}
		return "", fmt.Errorf("upload secret: %w", err)
	}
	if _, err := f.WriteString(s + "\n"); err != nil {
		f.Close()
		return "", fmt.Errorf("upload secret: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return "", fmt.Errorf("upload secret: %w", err)
	}
	return s, f.Close()
}

// ServeHTTP answers a /v2/ request with the library's handlers, but for a
// request on an upload session storage does not hold (see unknownUpload).
// A request that may write is answered only once what it wrote is durable
// (see fastDriver): the answer waits at its first header. Its writes are
// told apart from other requests' through its context, so that a request
// that wrote nothing (an upload's start or chunk) does not wait for
// others'.
func (e *Engine) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if e.unknownUpload(w, r) {
		return
	}
	s := e.sync
	if s == nil || r.Method == http.MethodGet || r.Method == http.MethodHead {
		e.app.ServeHTTP(w, r)
		return
	}
	ctx, wrote := withWrites(r.Context())
	dw := &durableWriter{ResponseWriter: w, sync: s, wrote: wrote, log: e.log}
	e.app.ServeHTTP(dw, r.WithContext(ctx))
	if !dw.answered {
		dw.WriteHeader(http.StatusOK)
	}
}

// durable returns once every write made to the filesystem storage is
// durable; for the façade's own writes through the engine (links).
func (e *Engine) durable() error {
	if e.sync != nil {
		return e.sync.wait()
	}
	return nil
}

// SyncCovers reports whether the engine's sync before each write's answer
// also makes durable what another program wrote under dir before that
// write: it syncs the whole filesystem its storage is on (Linux), and dir
// is on it too.
func (e *Engine) SyncCovers(dir string) bool {
	return e.sync != nil && sameFilesystem(e.fsRoot, dir)
}

// durableWriter holds a write request's answer until the storage is synced;
// when the sync fails the answer becomes a 500 and the library's is dropped.
type durableWriter struct {
	http.ResponseWriter
	sync     *syncer
	wrote    *writes
	log      *zap.Logger
	answered bool
	failed   bool
}

func (w *durableWriter) WriteHeader(code int) {
	if w.answered {
		return
	}
	w.answered = true
	if err := w.sync.waitFor(w.wrote); err != nil {
		w.failed = true
		w.log.Error("storage sync failed; the write is not answered as stored", zap.Error(err))
		h := w.ResponseWriter.Header()
		for _, k := range []string{"Location", "Docker-Content-Digest", "Docker-Upload-Uuid", "Range", "Content-Length", "Oci-Subject"} {
			h.Del(k)
		}
		errcode.WriteOCI(w.ResponseWriter, errcode.Wrap(errcode.Unknown, err, "the write may not have been stored; retry it once the storage is healthy"))
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *durableWriter) Write(p []byte) (int, error) {
	if !w.answered {
		w.WriteHeader(http.StatusOK)
	}
	if w.failed {
		return len(p), nil
	}
	return w.ResponseWriter.Write(p)
}

func (w *durableWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Name is "embedded".
func (e *Engine) Name() string { return "embedded" }

// NativeReferrers is false: the library has no referrers API.
func (e *Engine) NativeReferrers() bool { return false }

// MonolithicUploads is false: the library opens a session for a POST and
// ignores its body.
func (e *Engine) MonolithicUploads() bool { return false }

// Reconciled is false: only cairn writes to the engine's storage, and its
// pending marks say what a crash may have left unindexed.
func (e *Engine) Reconciled() bool { return false }

// Ready checks that storage answers.
func (e *Engine) Ready(ctx context.Context) error {
	_, err := e.driver.List(ctx, "/")
	var notFound storagedriver.PathNotFoundError
	if err != nil && !errors.As(err, &notFound) {
		return fmt.Errorf("embedded engine: storage: %w", err)
	}
	if e.sync != nil {
		if err := e.sync.err(); err != nil {
			return fmt.Errorf("embedded engine: %w", err)
		}
	}
	return nil
}

// Close stops the library's background work.
func (e *Engine) Close() error {
	if e.memory != "" {
		defer forgetMemory(e.memory)
	}
	return e.app.Shutdown()
}

// Repositories lists every repository in storage.
func (e *Engine) Repositories(ctx context.Context) ([]string, error) {
	en, ok := e.registry.(distribution.RepositoryEnumerator)
	if !ok {
		return nil, errors.New("embedded engine: storage cannot list repositories")
	}
	var repos []string
	err := en.Enumerate(ctx, func(name string) error {
		repos = append(repos, name)
		return nil
	})
	var notFound storagedriver.PathNotFoundError
	if errors.As(err, &notFound) {
		return nil, nil // nothing pushed yet
	}
	if err != nil {
		return nil, fmt.Errorf("embedded engine: list repositories: %w", err)
	}
	return repos, nil
}

// Walk calls fn for every manifest stored in repo, with its tags.
func (e *Engine) Walk(ctx context.Context, repo string, fn func(backend.Manifest) error) error {
	named, err := reference.WithName(repo)
	if err != nil {
		return fmt.Errorf("embedded engine: walk %q: %w", repo, err)
	}
	r, err := e.registry.Repository(ctx, named)
	if err != nil {
		return fmt.Errorf("embedded engine: walk %s: %w", repo, err)
	}
	tagsByDigest := map[string][]string{}
	tags, err := r.Tags(ctx).All(ctx)
	var unknownRepo distribution.ErrRepositoryUnknown
	if err != nil && !errors.As(err, &unknownRepo) {
		return fmt.Errorf("embedded engine: tags of %s: %w", repo, err)
	}
	for _, tag := range tags {
		desc, err := r.Tags(ctx).Get(ctx, tag)
		if err != nil {
			continue // deleted while walking
		}
		tagsByDigest[desc.Digest.String()] = append(tagsByDigest[desc.Digest.String()], tag)
	}
	aliases, err := e.manifestAliases(ctx, repo)
	if err != nil {
		return fmt.Errorf("embedded engine: manifests of %s: %w", repo, err)
	}
	ms, err := r.Manifests(ctx)
	if err != nil {
		return fmt.Errorf("embedded engine: manifests of %s: %w", repo, err)
	}
	en, ok := ms.(distribution.ManifestEnumerator)
	if !ok {
		return errors.New("embedded engine: storage cannot list manifests")
	}
	err = en.Enumerate(ctx, func(dgst digestType) error {
		// Manifests are linked apart from layers; read the bytes directly.
		payload, err := e.driver.GetContent(ctx, blobDataPath(dgst))
		if err != nil {
			e.log.Warn("reindex: manifest unreadable, skipped", zap.String("repo", repo), zap.Stringer("digest", dgst), zap.Error(err))
			return nil
		}
		m := backend.Manifest{
			Repository: repo,
			Digest:     dgst.String(),
			MediaType:  sniffMediaType(payload),
			Payload:    payload,
			Tags:       tagsByDigest[dgst.String()],
		}
		if fi, err := e.driver.Stat(ctx, manifestLinkPath(repo, dgst)); err == nil {
			m.ModTime = fi.ModTime()
		}
		// A manifest pushed by another digest is reported by that one, as
		// it was indexed when pushed (and as its owner and visibility are
		// kept); tags name the stored digest.
		for _, alias := range aliases[dgst] {
			a := m
			a.Digest = alias.String()
			if err := fn(a); err != nil {
				return err
			}
		}
		if len(aliases[dgst]) > 0 {
			return nil
		}
		return fn(m)
	})
	var notFound storagedriver.PathNotFoundError
	if errors.As(err, &notFound) {
		return nil
	}
	return err
}
