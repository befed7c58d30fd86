package e2e

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// TestBlobReads checks what a client sees of a blob served from its file:
// headers, ranges, conditional requests, HEAD, and that a blob is served
// only from repositories that hold it, and not after its deletion.
func TestBlobReads(t *testing.T) {
	c := startCairn(t)
	base := c.url("")
	content := []byte(strings.Repeat("0123456789", 500))
	d := pushBlob(t, base, "data/a", content)
	u := c.url("/v2/data/a/blobs/" + d.String())

	code, h, body := do(t, http.MethodGet, u, nil, nil)
	mustf(t, code == http.StatusOK && string(body) == string(content), "GET: %d, %d bytes", code, len(body))
	mustf(t, h.Get("Docker-Content-Digest") == d.String() && h.Get("Content-Length") == strconv.Itoa(len(content)) &&
		h.Get("Content-Type") == "application/octet-stream" && h.Get("Etag") == `"`+d.String()+`"` && h.Get("Accept-Ranges") == "bytes", "GET headers: %v", h)

	code, h, body = do(t, http.MethodHead, u, nil, nil)
	mustf(t, code == http.StatusOK && len(body) == 0 && h.Get("Content-Length") == strconv.Itoa(len(content)) && h.Get("Docker-Content-Digest") == d.String(), "HEAD: %d %v", code, h)

	code, h, body = do(t, http.MethodGet, u, nil, map[string]string{"Range": "bytes=10-19"})
	mustf(t, code == http.StatusPartialContent && string(body) == "0123456789" && h.Get("Content-Range") == "bytes 10-19/"+strconv.Itoa(len(content)), "range: %d %q %v", code, body, h)
	code, _, _ = do(t, http.MethodGet, u, nil, map[string]string{"Range": "bytes=999999-"})
	mustf(t, code == http.StatusRequestedRangeNotSatisfiable, "range past the end: %d", code)
	code, _, body = do(t, http.MethodGet, u, nil, map[string]string{"If-None-Match": `"` + d.String() + `"`})
	mustf(t, code == http.StatusNotModified && len(body) == 0, "If-None-Match: %d", code)

	// Another repository does not serve it until it holds it.
	pushBlob(t, base, "data/b", []byte("other"))
	code, _, body = do(t, http.MethodGet, c.url("/v2/data/b/blobs/"+d.String()), nil, nil)
	mustf(t, code == http.StatusNotFound && strings.Contains(string(body), "BLOB_UNKNOWN"), "GET from a repository without the blob: %d %s", code, body)

	// A blob some manifest uses is found by a HEAD in any repository,
	// which then holds it (no bytes move); one no manifest uses is not.
	m := imageManifest(t, base, "data/a", content, nil, nil)
	code, err := putManifest(base, "data/a", "v1", m)
	mustf(t, err == nil && code == http.StatusCreated, "manifest: %d %v", code, err)
	code, h, _ = do(t, http.MethodHead, c.url("/v2/data/c/blobs/"+d.String()), nil, nil)
	mustf(t, code == http.StatusOK && h.Get("Content-Length") == strconv.Itoa(len(content)), "HEAD of a blob held by another repository: %d", code)
	code, _, body = do(t, http.MethodGet, c.url("/v2/data/c/blobs/"+d.String()), nil, nil)
	mustf(t, code == http.StatusOK && string(body) == string(content), "GET after the dedupe: %d", code)
	loose := pushBlob(t, base, "data/a", []byte("no manifest uses this"))
	code, _, _ = do(t, http.MethodHead, c.url("/v2/data/d/blobs/"+loose.String()), nil, nil)
	mustf(t, code == http.StatusNotFound, "HEAD of a blob no manifest uses, in another repository: %d", code)

	// Deleted: gone from the repository.
	code, _, body = do(t, http.MethodDelete, u, nil, nil)
	mustf(t, code == http.StatusAccepted, "DELETE: %d %s", code, body)
	code, _, body = do(t, http.MethodGet, u, nil, nil)
	mustf(t, code == http.StatusNotFound && strings.Contains(string(body), "BLOB_UNKNOWN"), "GET after delete: %d %s", code, body)
}
