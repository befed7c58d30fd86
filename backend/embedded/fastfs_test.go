package embedded

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	"go.uber.org/zap"

	"github.com/cairn-dev/cairn/backend"
)

// testEngine serves an embedded engine on dataDir over HTTP.
func testEngine(t *testing.T, dataDir string) (*Engine, *httptest.Server) {
	t.Helper()
	e, err := New(context.Background(), zap.NewNop(), Config{DataDir: dataDir})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(e)
	t.Cleanup(func() { srv.Close(); e.Close() })
	return e, srv
}

func do(t *testing.T, method, url string, body []byte) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/octet-stream")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res
}

func want(t *testing.T, res *http.Response, status int) {
	t.Helper()
	if res.StatusCode != status {
		t.Fatalf("%s %s: %d, want %d", res.Request.Method, res.Request.URL.Path, res.StatusCode, status)
	}
}

// startUpload opens an upload session on base and returns its URL.
func startUpload(t *testing.T, base, repo string) string {
	t.Helper()
	res := do(t, http.MethodPost, base+"/v2/"+repo+"/blobs/uploads/", nil)
	want(t, res, http.StatusAccepted)
	return absolute(t, base, res.Header.Get("Location"))
}

func absolute(t *testing.T, base, loc string) string {
	t.Helper()
	if loc == "" {
		t.Fatal("no Location")
	}
	if strings.HasPrefix(loc, "/") {
		return base + loc
	}
	return loc
}

func withDigest(loc string, d digest.Digest) string {
	sep := "?"
	if strings.Contains(loc, "?") {
		sep = "&"
	}
	return loc + sep + "digest=" + d.String()
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func storageRoot(dataDir string) string {
	return onDisk(filepath.Join(dataDir, "storage"), layoutRoot)
}

// A small upload (POST, then PUT with the body) writes none of the
// bookkeeping the library would never read, leaves no upload behind, and
// is durable when answered.
func TestSmallUpload(t *testing.T) {
	dir := t.TempDir()
	e, srv := testEngine(t, dir)
	blob := randomBytes(t, 4096)
	d := digest.FromBytes(blob)

	loc := startUpload(t, srv.URL, "team/small")
	uploads := filepath.Join(storageRoot(dir), "repositories", "team", "small", "_uploads")
	entries, err := os.ReadDir(uploads)
	if err != nil || len(entries) != 1 {
		t.Fatalf("uploads after POST: %v %v", entries, err)
	}
	if _, err := os.Stat(filepath.Join(uploads, entries[0].Name(), "hashstates")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the state of an empty hash was written: %v", err)
	}
	want(t, do(t, http.MethodPut, withDigest(loc, d), blob), http.StatusCreated)

	if entries, _ := os.ReadDir(uploads); len(entries) != 0 {
		t.Errorf("upload left behind: %v", entries)
	}
	fd := e.driver.(*fastDriver)
	fd.mu.Lock()
	left := len(fd.completed)
	fd.mu.Unlock()
	if left != 0 {
		t.Errorf("%d completed uploads still remembered", left)
	}
	if deferSyncs {
		s := e.sync
		if s.synced.Load() < s.written.Load() {
			t.Errorf("answered with writes not synced: %d written, %d synced", s.written.Load(), s.synced.Load())
		}
		if s.untracked.Load() != 0 {
			t.Error("a write of the request's was not counted as the request's")
		}
	}
	res, err := http.Get(srv.URL + "/v2/team/small/blobs/" + d.String())
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !bytes.Equal(got, blob) {
		t.Fatalf("blob read back: %d bytes, want the %d pushed", len(got), len(blob))
	}
}

// An upload in chunks resumes its hash from the states stored on disk,
// also when another process (a second replica on the same storage) takes
// the next chunk.
func TestChunkedUploadAcrossEngines(t *testing.T) {
	dir := t.TempDir()
	_, a := testEngine(t, dir)
	_, b := testEngine(t, dir)
	blob := randomBytes(t, 3*64<<10+17)
	d := digest.FromBytes(blob)
	chunks := [][]byte{blob[:64<<10], blob[64<<10 : 2*64<<10], blob[2*64<<10:]}

	loc := startUpload(t, a.URL, "team/chunked")
	offset := 0
	for i, c := range chunks[:2] {
		base := []string{a.URL, b.URL}[i%2]
		url := base + strings.TrimPrefix(loc, a.URL)
		req, _ := http.NewRequest(http.MethodPatch, url, bytes.NewReader(c))
		req.Header.Set("Content-Type", "application/octet-stream")
		req.Header.Set("Content-Range", rangeOf(offset, len(c)))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		want(t, res, http.StatusAccepted)
		loc = absolute(t, a.URL, strings.Replace(res.Header.Get("Location"), b.URL, a.URL, 1))
		offset += len(c)
	}
	want(t, do(t, http.MethodPut, withDigest(loc, d), chunks[2]), http.StatusCreated)
	want(t, do(t, http.MethodHead, b.URL+"/v2/team/chunked/blobs/"+d.String(), nil), http.StatusOK)
}

func rangeOf(offset, n int) string { return fmt.Sprintf("%d-%d", offset, offset+n-1) }

// push uploads blob into repo and returns its digest.
func push(t *testing.T, base, repo string, blob []byte) digest.Digest {
	t.Helper()
	d := digest.FromBytes(blob)
	want(t, do(t, http.MethodPut, withDigest(startUpload(t, base, repo), d), blob), http.StatusCreated)
	return d
}

// A link a crash left empty (renamed into place before its bytes reached
// the disk) reads as absent, and pushing again repairs it.
func TestEmptyLinkReadsAsAbsent(t *testing.T) {
	dir := t.TempDir()
	e, srv := testEngine(t, dir)
	blob := randomBytes(t, 1000)
	d := push(t, srv.URL, "team/crash", blob)
	link := onDisk(filepath.Join(dir, "storage"), blobLinkPath("team/crash", d))
	if err := os.Truncate(link, 0); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{http.MethodHead, http.MethodGet} {
		want(t, do(t, m, srv.URL+"/v2/team/crash/blobs/"+d.String(), nil), http.StatusNotFound)
	}
	if _, ok := e.OpenBlob("team/crash", d); ok {
		t.Error("OpenBlob served a blob through an empty link")
	}
	if !e.LacksBlob("team/other", d) || e.LacksBlob("team/crash", d) {
		t.Error("LacksBlob: an empty link is unsure (the library decides), a missing one certain")
	}
	push(t, srv.URL, "team/crash", blob)
	want(t, do(t, http.MethodHead, srv.URL+"/v2/team/crash/blobs/"+d.String(), nil), http.StatusOK)
}

// A manifest whose revision link a crash left empty is not reported by
// Walk: its push was never answered, and the library does not serve it.
func TestWalkSkipsEmptyRevisionLinks(t *testing.T) {
	dir := t.TempDir()
	e, srv := testEngine(t, dir)
	config := push(t, srv.URL, "team/walk", []byte("{}"))
	layer := push(t, srv.URL, "team/walk", []byte("layer"))
	var digests []digest.Digest
	for _, tag := range []string{"one", "two"} {
		m := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` + config.String() + `","size":2},"layers":[{"mediaType":"application/octet-stream","digest":"` + layer.String() + `","size":5}],"annotations":{"tag":"` + tag + `"}}`
		req, _ := http.NewRequest(http.MethodPut, srv.URL+"/v2/team/walk/manifests/"+tag, strings.NewReader(m))
		req.Header.Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		want(t, res, http.StatusCreated)
		digests = append(digests, digest.FromString(m))
	}
	if deferSyncs && e.sync.untracked.Load() != 0 {
		t.Error("a manifest push's writes were not counted as its request's")
	}
	if err := os.Truncate(onDisk(filepath.Join(dir, "storage"), manifestLinkPath("team/walk", digests[1])), 0); err != nil {
		t.Fatal(err)
	}
	var seen []string
	if err := e.Walk(context.Background(), "team/walk", func(m backend.Manifest) error {
		seen = append(seen, m.Digest)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 1 || seen[0] != digests[0].String() {
		t.Fatalf("Walk reported %v, want only %s", seen, digests[0])
	}
	want(t, do(t, http.MethodGet, srv.URL+"/v2/team/walk/manifests/"+digests[1].String(), nil), http.StatusNotFound)
}

// When the storage fails to sync, the write is answered 500 (never 201),
// and every later write too, until a restart; reads go on.
func TestSyncFailureRefusesWrites(t *testing.T) {
	if !deferSyncs {
		t.Skip("SKIPPED: writes sync file by file on this platform")
	}
	dir := t.TempDir()
	e, srv := testEngine(t, dir)
	kept := push(t, srv.URL, "team/disk", []byte("kept"))
	loc := startUpload(t, srv.URL, "team/disk")
	s := e.sync
	s.syncfs = func(*os.File) error { return errors.New("EIO") }
	d := digest.FromString("lost")
	res := do(t, http.MethodPut, withDigest(loc, d), []byte("lost"))
	want(t, res, http.StatusInternalServerError)
	if res.Header.Get("Location") != "" || res.Header.Get("Docker-Content-Digest") != "" {
		t.Errorf("a refused write still names the blob: %v", res.Header)
	}
	s.syncfs = syncFS // the disk is back; the process does not trust it
	want(t, do(t, http.MethodPost, srv.URL+"/v2/team/disk/blobs/uploads/", nil), http.StatusInternalServerError)
	if err := e.Ready(context.Background()); err == nil || !strings.Contains(err.Error(), "restart") {
		t.Errorf("Ready after a failed sync: %v", err)
	}
	want(t, do(t, http.MethodGet, srv.URL+"/v2/team/disk/blobs/"+kept.String(), nil), http.StatusOK)
}

// Waiters share syncs, and a sync that started before a write never
// counts for it.
func TestSyncerGroupsWaiters(t *testing.T) {
	s := &syncer{}
	s.changed = sync.NewCond(&s.mu)
	var calls atomic.Int32
	release := make(chan struct{})
	started := make(chan struct{}, 10)
	s.syncfs = func(*os.File) error {
		calls.Add(1)
		started <- struct{}{}
		<-release
		return nil
	}
	s.wrote(context.Background())
	first := make(chan error)
	go func() { first <- s.wait() }()
	<-started // a sync is running; it covers the first write only

	s.wrote(context.Background())
	second := make(chan error)
	go func() { second <- s.wait() }()
	const more = 5
	others := make(chan error, more)
	for range more {
		go func() { others <- s.wait() }()
	}
	time.Sleep(20 * time.Millisecond)
	select {
	case <-second:
		t.Fatal("a wait returned on a sync that started before its write")
	default:
	}
	release <- struct{}{}
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	select { // the second sync, for every later waiter at once
	case <-started:
	case <-second:
		t.Fatal("a wait returned on a sync that started before its write")
	case <-time.After(10 * time.Second):
		t.Fatal("no second sync")
	}
	release <- struct{}{}
	if err := <-second; err != nil {
		t.Fatal(err)
	}
	for range more {
		if err := <-others; err != nil {
			t.Fatal(err)
		}
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("%d syncs for two rounds of waiters, want 2", n)
	}
	if err := s.wait(); err != nil || calls.Load() != 2 {
		t.Errorf("a wait with nothing new written synced again (%d syncs, %v)", calls.Load(), err)
	}
}

// A request that wrote nothing durable (an upload's start) is answered
// without waiting for other requests' writes; one that did waits for its
// own.
func TestWaitsOnlyForItsWrites(t *testing.T) {
	if !deferSyncs {
		t.Skip("SKIPPED: writes sync file by file on this platform")
	}
	dir := t.TempDir()
	e, srv := testEngine(t, dir)
	s := e.sync
	var calls atomic.Int32
	s.syncfs = func(f *os.File) error { calls.Add(1); return syncFS(f) }
	other, _ := withWrites(context.Background())
	s.wrote(other) // another request's write, not yet synced

	loc := startUpload(t, srv.URL, "team/waits")
	if n := calls.Load(); n != 0 {
		t.Fatalf("starting an upload ran %d syncs for another request's write", n)
	}
	d := digest.FromString("mine")
	want(t, do(t, http.MethodPut, withDigest(loc, d), []byte("mine")), http.StatusCreated)
	if n := calls.Load(); n == 0 {
		t.Fatal("completing an upload was answered without a sync")
	}
}

func TestSyncBeforeRename(t *testing.T) {
	repo := repositoryPath("team/r")
	d := digest.FromString("x")
	for _, c := range []struct {
		name   string
		path   string
		exists bool
		want   bool
	}{
		{"new blob link", blobLinkPath("team/r", d), false, false},
		{"new revision link", manifestLinkPath("team/r", d), false, false},
		{"new tag", repo + "/_manifests/tags/v1/current/link", false, false},
		{"moved tag", repo + "/_manifests/tags/v1/current/link", true, true},
		{"tag index entry", repo + "/_manifests/tags/v1/index/sha256/" + d.Encoded() + "/link", false, false},
		{"manifest bytes", blobDataPath(d), false, true},
		{"manifest bytes again", blobDataPath(d), true, true},
	} {
		if got := syncBeforeRename(c.path, c.exists); got != c.want {
			t.Errorf("%s (%s, exists %v): sync first %v, want %v", c.name, c.path, c.exists, got, c.want)
		}
	}
}
