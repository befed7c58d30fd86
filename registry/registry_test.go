package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"go.uber.org/zap"

	"github.com/cairn-dev/cairn/backend"
	"github.com/cairn-dev/cairn/backend/embedded"
	"github.com/cairn-dev/cairn/catalog"
	"github.com/cairn-dev/cairn/catalog/sqlite"
	"github.com/cairn-dev/cairn/signing"
)

// testEngine is the real embedded engine over a temporary directory.
func testEngine(t *testing.T) *embedded.Engine {
	t.Helper()
	eng, err := embedded.New(context.Background(), zap.NewNop(), embedded.Config{DataDir: filepath.Join(t.TempDir(), "data")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = eng.Close() })
	return eng
}

// testStore is a real SQLite catalog over a temporary file.
func testStore(t *testing.T) catalog.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// upload stores content as a blob of repo through the engine's upload
// protocol and returns its digest.
func upload(t *testing.T, engine http.Handler, repo string, content []byte) digest.Digest {
	t.Helper()
	d := digest.FromBytes(content)
	start := httptest.NewRecorder()
	engine.ServeHTTP(start, httptest.NewRequest(http.MethodPost, "/v2/"+repo+"/blobs/uploads/", nil))
	if start.Code != http.StatusAccepted {
		t.Fatalf("starting an upload: %d %s", start.Code, start.Body)
	}
	loc := start.Header().Get("Location")
	sep := "?"
	if strings.Contains(loc, "?") {
		sep = "&"
	}
	put := httptest.NewRequest(http.MethodPut, loc+sep+"digest="+d.String(), bytes.NewReader(content))
	put.Header.Set("Content-Type", "application/octet-stream")
	done := httptest.NewRecorder()
	engine.ServeHTTP(done, put)
	if done.Code != http.StatusCreated {
		t.Fatalf("finishing an upload: %d %s", done.Code, done.Body)
	}
	return d
}

// imageManifest is an OCI image manifest of config and layers, with an
// optional subject and artifactType.
func imageManifest(t *testing.T, artifactType string, config ocispec.Descriptor, subject *ocispec.Descriptor, layers ...ocispec.Descriptor) []byte {
	t.Helper()
	m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, ArtifactType: artifactType, Config: config, Layers: layers, Subject: subject}
	m.SchemaVersion = 2
	if m.Layers == nil {
		m.Layers = []ocispec.Descriptor{}
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// emptyConfig uploads the empty JSON config to repo.
func emptyConfig(t *testing.T, engine http.Handler, repo string) ocispec.Descriptor {
	t.Helper()
	d := upload(t, engine, repo, []byte("{}"))
	return ocispec.Descriptor{MediaType: ocispec.MediaTypeEmptyJSON, Digest: d, Size: 2}
}

func push(t *testing.T, r *Registry, repo, tag string, body []byte) {
	t.Helper()
	p := ManifestPush{Repository: repo, Tag: tag, MediaType: ocispec.MediaTypeImageManifest, Body: body}
	if tag == "" {
		p.Digest = digest.FromBytes(body)
	}
	res, err := r.PushManifest(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != http.StatusCreated {
		t.Fatalf("push %s:%s: %d %s", repo, tag, res.Status, res.Body.String())
	}
}

// countingEngine counts what the engine sends back for blob GETs.
type countingEngine struct {
	backend.Backend
	blobGets  atomic.Int64
	blobBytes atomic.Int64
}

func (c *countingEngine) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/") {
		c.blobGets.Add(1)
		w = &countingWriter{ResponseWriter: w, n: &c.blobBytes}
	}
	c.Backend.ServeHTTP(w, r)
}

type countingWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.n.Add(int64(len(p)))
	return w.ResponseWriter.Write(p)
}

// TestSignaturePayloadSizeLimit: a layer that claims to be a cosign payload
// but is large is never read whole: refused from its descriptor before
// anything is fetched, and cut off at the limit when the descriptor lies.
func TestSignaturePayloadSizeLimit(t *testing.T) {
	ctx := context.Background()
	eng := &countingEngine{Backend: testEngine(t)}
	r, err := New(zap.NewNop(), eng, testStore(t))
	if err != nil {
		t.Fatal(err)
	}
	const repo = "models/big"
	cfg := emptyConfig(t, eng, repo)
	push(t, r, repo, "v1", imageManifest(t, "application/vnd.example.model", cfg, nil))
	subject := digest.FromBytes(imageManifest(t, "application/vnd.example.model", cfg, nil))

	big := bytes.Repeat([]byte("x"), 4<<20)
	bigDigest := upload(t, eng, repo, big)
	payload := ocispec.Descriptor{MediaType: signing.PayloadMediaType, Digest: bigDigest, Size: int64(len(big)),
		Annotations: map[string]string{signing.SignatureAnnotation: "c2ln"}}
	sig := imageManifest(t, signing.ArtifactType, cfg, &ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: subject, Size: 1}, payload)
	gets := eng.blobGets.Load()
	push(t, r, repo, "", sig)

	if n := eng.blobGets.Load() - gets; n != 0 {
		t.Errorf("the engine was asked for %d blobs to verify a payload whose descriptor says %d bytes; want none", n, len(big))
	}
	m, err := r.store.Manifest(ctx, repo, subject)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Signatures) != 1 || m.Signatures[0].Verified || !strings.Contains(m.Signatures[0].Error, "at most") {
		t.Fatalf("signature records = %+v, want one unverified record saying the payload is over the limit", m.Signatures)
	}

	// A descriptor that understates the size: the read stops at the limit.
	before := eng.blobBytes.Load()
	_, err = r.readPayload(ctx, repo, catalog.Layer{Kind: "layer", MediaType: signing.PayloadMediaType, Digest: bigDigest, Size: 300})
	if err == nil || !strings.Contains(err.Error(), "over") {
		t.Fatalf("reading a 4 MiB payload described as 300 bytes: err = %v, want a size error", err)
	}
	if n := eng.blobBytes.Load() - before; n > 4*maxPayloadSize {
		t.Errorf("the engine sent %d bytes of a payload before the read stopped; want at most about %d", n, maxPayloadSize)
	}
}

// faultyStore is a real catalog whose index writes can be made to fail
// and whose repository replacement (a reindex) can be held mid-way.
type faultyStore struct {
	catalog.Store
	failIndex atomic.Bool

	mu      sync.Mutex
	entered chan struct{} // closed when a held ReplaceRepository starts
	release chan struct{} // closed to let it go on
}

func (f *faultyStore) IndexPush(ctx context.Context, m catalog.Manifest, tag string, pending int64) error {
	if f.failIndex.Load() {
		return errors.New("injected index failure")
	}
	return f.Store.IndexPush(ctx, m, tag, pending)
}

func (f *faultyStore) ReplaceRepository(ctx context.Context, repo string, ms []catalog.Manifest, tags map[string]digest.Digest) error {
	f.mu.Lock()
	entered, release := f.entered, f.release
	f.entered, f.release = nil, nil // hold only once
	f.mu.Unlock()
	if entered != nil {
		close(entered)
		<-release
	}
	return f.Store.ReplaceRepository(ctx, repo, ms, tags)
}

// TestRepairRaceWithPush: a push whose index write fails while its
// repository is being reindexed waits for the reindex, stays queued for
// repair after it, and is in the catalog after the next repair.
func TestRepairRaceWithPush(t *testing.T) {
	ctx := context.Background()
	eng := testEngine(t)
	st := &faultyStore{Store: testStore(t)}
	r, err := New(zap.NewNop(), eng, st)
	if err != nil {
		t.Fatal(err)
	}
	const repo = "datasets/race"
	cfg := emptyConfig(t, eng, repo)
	push(t, r, repo, "v1", imageManifest(t, "application/vnd.example.one", cfg, nil))
	r.NeedsRepair(ctx, repo)

	st.mu.Lock()
	st.entered, st.release = make(chan struct{}), make(chan struct{})
	entered, release := st.entered, st.release
	st.mu.Unlock()
	repaired := make(chan struct{})
	go func() { defer close(repaired); r.repair(ctx, r.PendingRepairs()) }()
	<-entered // the reindex has walked the engine and is writing the catalog

	st.failIndex.Store(true)
	pushed := make(chan struct{})
	go func() {
		defer close(pushed)
		push(t, r, repo, "v2", imageManifest(t, "application/vnd.example.two", cfg, nil))
	}()
	// Give the push every chance to run; it must wait for the reindex.
	time.Sleep(200 * time.Millisecond)
	select {
	case <-pushed:
		t.Error("a push finished while its repository was being reindexed; pushes and reindexes of one repository must not interleave")
	default:
	}
	close(release)
	<-repaired
	<-pushed

	if got := r.PendingRepairs(); len(got) != 1 || got[0] != repo {
		t.Fatalf("after a push whose index failed during a reindex, pending repairs = %v, want [%s]", got, repo)
	}
	st.failIndex.Store(false)
	r.repair(ctx, r.PendingRepairs())
	if got := r.PendingRepairs(); len(got) != 0 {
		t.Fatalf("pending repairs after a successful repair = %v, want none", got)
	}
	if _, err := st.ResolveTag(ctx, repo, "v2"); err != nil {
		t.Fatalf("the push whose index write failed is not in the catalog after the repair: %v", err)
	}
}
