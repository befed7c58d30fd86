package embedded

import (
	"bytes"
	"context"
	"crypto/sha512"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/cairn-dev/cairn/backend"
)

// libraryModule is the distribution library whose private storage layout
// layout.go spells.
const libraryModule = "github.com/distribution/distribution/v3"

// libraryVersion is the version of the library this test is built with:
// from the binary's build information, or (test binaries carry none of
// their dependencies) from the module's go.mod.
func libraryVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			if m.Path == libraryModule {
				return m.Version
			}
		}
	}
	mod, err := os.ReadFile(filepath.Join("..", "..", "go.mod"))
	if err != nil {
		return "(version unknown: " + err.Error() + ")"
	}
	for _, line := range strings.Split(string(mod), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == libraryModule {
			return f[1]
		}
	}
	return "(version unknown: not in go.mod)"
}

// TestLayoutMatchesLibrary pushes through the real engine a blob, a blob
// by a sha512 digest, a tagged manifest and a chunk of an upload in
// progress, then checks that every path layout.go builds names what the
// library wrote, and that every file the library wrote is one layout.go
// recognises. It fails when the pinned library version moves its files.
func TestLayoutMatchesLibrary(t *testing.T) {
	const repo = "team/layout"
	dir := t.TempDir()
	e, srv := testEngine(t, dir)
	root := filepath.Join(dir, "storage")
	fail := func(format string, args ...any) {
		t.Helper()
		t.Errorf("storage layout of %s %s: "+format+"; update backend/embedded/layout.go to the library's registry/storage/paths.go",
			append([]any{libraryModule, libraryVersion()}, args...)...)
	}

	config := push(t, srv.URL, repo, []byte("{}"))
	layerBytes := []byte("layer bytes")
	layer := push(t, srv.URL, repo, layerBytes)
	long := []byte("a blob named by its sha512 digest")
	long512 := digest.NewDigestFromBytes(digest.SHA512, sha512Sum(long))
	want(t, do(t, http.MethodPut, withDigest(startUpload(t, srv.URL, repo), long512), long), http.StatusCreated)
	manifest := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` + config.String() + `","size":2},"layers":[{"mediaType":"application/octet-stream","digest":"` + layer.String() + `","size":11}]}`)
	req, err := http.NewRequest(http.MethodPut, srv.URL+"/v2/"+repo+"/manifests/v1", bytes.NewReader(manifest))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	want(t, res, http.StatusCreated)
	m := digest.FromBytes(manifest)

	// An upload left in progress after one chunk.
	loc := startUpload(t, srv.URL, repo)
	chunk := []byte("half of a blob")
	res = do(t, http.MethodPatch, loc, chunk)
	want(t, res, http.StatusAccepted)
	uploadID := res.Header.Get("Docker-Upload-Uuid")
	if uploadID == "" {
		t.Fatal("the engine named no upload session")
	}

	// Each path layout.go builds, and what the library keeps there.
	for _, c := range []struct {
		name, path string
		dir        bool
		content    []byte // nil: any
	}{
		{"repositoryPath", repositoryPath(repo), true, nil},
		{"manifestRevisionsPath", manifestRevisionsPath(repo, digest.SHA256), true, nil},
		{"manifestLinkPath", manifestLinkPath(repo, m), false, []byte(m.String())},
		{"blobLinkPath", blobLinkPath(repo, layer), false, []byte(layer.String())},
		{"blobLinkPath of a sha512 upload", blobLinkPath(repo, long512), false, []byte(digest.FromBytes(long).String())},
		{"blobDataPath of a blob", blobDataPath(layer), false, layerBytes},
		{"blobDataPath of a manifest", blobDataPath(m), false, manifest},
		{"uploadStartedAtPath", uploadStartedAtPath(repo, uploadID), false, nil},
	} {
		fi, err := os.Stat(onDisk(root, c.path))
		switch {
		case err != nil:
			fail("%s: %v", c.name, err)
		case fi.IsDir() != c.dir:
			fail("%s: %s is a directory: %v, want %v", c.name, c.path, fi.IsDir(), c.dir)
		case c.content != nil:
			got, err := os.ReadFile(onDisk(root, c.path))
			if err != nil || !bytes.Equal(got, c.content) {
				fail("%s: %s holds %q (%v), want %q", c.name, c.path, got, err, c.content)
			}
		}
	}

	// Every file the library wrote is one layout.go knows: a link, a
	// blob's bytes, or part of the upload in progress.
	uploadDir := strings.TrimSuffix(uploadStartedAtPath(repo, uploadID), "/startedat")
	sawData := false
	err = filepath.WalkDir(root, func(full string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		p := "/" + filepath.ToSlash(strings.TrimPrefix(full, root+string(filepath.Separator)))
		content, err := os.ReadFile(full)
		if err != nil {
			return err
		}
		switch {
		case isUpload(p):
			if !strings.HasPrefix(p, uploadDir+"/") {
				fail("%s belongs to no upload in progress (that of %s is %s)", p, uploadID, uploadDir)
			}
			if uploadData(p) {
				sawData = true
				if uploadOfData(p) != uploadDir || !bytes.Equal(content, chunk) {
					fail("upload data %s (upload %s) holds %q, want the chunk sent to %s", p, uploadOfData(p), content, uploadDir)
				}
			} else if !uploadState(p) {
				fail("%s is an upload's file but neither its data nor its state", p)
			}
			if up, offset, ok := hashState(p); ok && (up != uploadDir || offset != strconv.Itoa(len(chunk))) {
				fail("hash state %s: upload %s at offset %s, want %s at %d", p, up, offset, uploadDir, len(chunk))
			}
		case isLink(p):
			if _, err := digest.Parse(string(content)); err != nil {
				fail("link %s holds %q, not a digest", p, content)
			}
		default:
			d := digest.FromBytes(content)
			if p != blobDataPath(d) {
				fail("%s is neither a link, an upload's file, nor blob data (the data of its bytes would be at %s)", p, blobDataPath(d))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !sawData {
		fail("no file of the upload in progress is its data (uploadData)")
	}

	// Walk reads manifest links for the push time.
	var walked []backend.Manifest
	if err := e.Walk(context.Background(), repo, func(bm backend.Manifest) error {
		walked = append(walked, bm)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(walked) != 1 || walked[0].Digest != m.String() || walked[0].ModTime.IsZero() || len(walked[0].Tags) != 1 || walked[0].Tags[0] != "v1" {
		fail("Walk reported %+v, want %s tagged v1 with the time of its link", walked, m)
	}
}

func sha512Sum(b []byte) []byte {
	s := sha512.Sum512(b)
	return s[:]
}
