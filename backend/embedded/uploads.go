package embedded

import (
	"context"
	"errors"
	"net/http"
	"os"
	"strings"

	v2 "github.com/distribution/distribution/v3/registry/api/v2"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/gorilla/mux"

	"github.com/cairn-dev/cairn/errcode"
)

// unknownUpload answers a request on an upload session storage does not
// hold in its repository (expired, finished, cancelled, forged, or issued
// for another repository) with the spec's BLOB_UPLOAD_UNKNOWN, and reports
// whether it did. The library tells such a session apart only by its own
// state token and answers BLOB_UPLOAD_INVALID for most of them; the
// session's existence is what the client needs to know.
func (e *Engine) unknownUpload(w http.ResponseWriter, r *http.Request) bool {
	repo, id, ok := uploadSession(r)
	if !ok || e.uploadExists(r.Context(), repo, id) {
		return false
	}
	errcode.WriteOCI(w, errcode.New(errcode.BlobUploadUnknown,
		"upload session %q is unknown in %s (expired, finished, or issued for another repository); start a new upload with POST /v2/%s/blobs/uploads/", id, repo, repo))
	return true
}

// uploadSession returns the repository and id of the upload session a
// request continues, reads or cancels, as the library's own router reads
// them; ok is false for every other request, the POST that opens a
// session among them.
func uploadSession(r *http.Request) (repo, id string, ok bool) {
	if r.Method == http.MethodPost || !strings.Contains(r.URL.Path, "/blobs/uploads/") {
		return "", "", false
	}
	var m mux.RouteMatch
	if !v2.Router().Match(r, &m) || m.Route == nil || m.Route.GetName() != v2.RouteNameBlobUploadChunk {
		return "", "", false
	}
	repo, id = m.Vars["name"], m.Vars["uuid"]
	// The router's grammar allows neither a path separator nor a dot
	// segment in either; checked again since they become a storage path.
	if repo == "" || id == "" || strings.Contains(repo+"/"+id, "..") {
		return "", "", false
	}
	return repo, id, true
}

// uploadExists reports whether storage holds upload session id of repo;
// true when storage cannot tell, so that the library answers.
func (e *Engine) uploadExists(ctx context.Context, repo, id string) bool {
	p := uploadStartedAtPath(repo, id)
	if e.fsRoot != "" {
		_, err := os.Stat(onDisk(e.fsRoot, p))
		return !errors.Is(err, os.ErrNotExist)
	}
	_, err := e.driver.Stat(ctx, p)
	var notFound storagedriver.PathNotFoundError
	return !errors.As(err, &notFound)
}
