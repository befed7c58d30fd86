package embedded

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	"go.uber.org/zap"
)

// ociAnswer is a response's status and its first OCI error, if any.
type ociAnswer struct {
	status        int
	code, message string
}

func answer(t *testing.T, method, rawURL string, body []byte) ociAnswer {
	t.Helper()
	req, err := http.NewRequest(method, rawURL, strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	a := ociAnswer{status: res.StatusCode}
	var e struct {
		Errors []struct{ Code, Message string } `json:"errors"`
	}
	if json.Unmarshal(b, &e) == nil && len(e.Errors) > 0 {
		a.code, a.message = e.Errors[0].Code, e.Errors[0].Message
	}
	return a
}

// A request on an upload session storage does not hold in the named
// repository is answered BLOB_UPLOAD_UNKNOWN by the engine, with what to
// do next; sessions storage holds are left to the library. On the
// filesystem storage and on another driver (the existence check differs).
func TestUnknownUploadSession(t *testing.T) {
	for _, storage := range []map[string]map[string]any{
		nil,
		{"inmemory": {}},
	} {
		name := "filesystem"
		if storage != nil {
			name = "inmemory"
		}
		t.Run(name, func(t *testing.T) {
			e, err := New(context.Background(), zap.NewNop(), Config{DataDir: t.TempDir(), Storage: storage})
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(e)
			t.Cleanup(func() { srv.Close(); e.Close() })
			const repo = "team/uploads"
			blob := []byte("a finished blob")

			live := startUpload(t, srv.URL, repo)
			finished := startUpload(t, srv.URL, repo)
			want(t, do(t, http.MethodPut, withDigest(finished, digest.FromBytes(blob)), blob), http.StatusCreated)
			cancelled := startUpload(t, srv.URL, repo)
			want(t, do(t, http.MethodDelete, cancelled, nil), http.StatusNoContent)
			elsewhere := strings.Replace(live, "/v2/"+repo+"/", "/v2/team/other/", 1)
			forged := srv.URL + "/v2/" + repo + "/blobs/uploads/00000000-0000-0000-0000-000000000000"
			liveNoState, err := url.Parse(live)
			if err != nil {
				t.Fatal(err)
			}
			liveNoState.RawQuery = ""

			for _, tc := range []struct {
				name, method, url string
				body              []byte
				status            int
				code              string // "" when the library's own answer is wanted
			}{
				{"forged id, chunk", http.MethodPatch, forged, []byte("x"), http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN"},
				{"forged id, status", http.MethodGet, forged, nil, http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN"},
				{"forged id, cancel", http.MethodDelete, forged, nil, http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN"},
				{"finished, completed again", http.MethodPut, withDigest(finished, digest.FromBytes(blob)), blob, http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN"},
				{"cancelled, chunk", http.MethodPatch, cancelled, []byte("x"), http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN"},
				{"issued for another repository", http.MethodPatch, elsewhere, []byte("x"), http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN"},
				// Storage holds the session: what is wrong is the request,
				// and the library says so.
				{"live session without its state", http.MethodPatch, liveNoState.String(), []byte("x"), http.StatusNotFound, "BLOB_UPLOAD_INVALID"},
				{"live session, chunk", http.MethodPatch, live, []byte("x"), http.StatusAccepted, ""},
			} {
				t.Run(tc.name, func(t *testing.T) {
					got := answer(t, tc.method, tc.url, tc.body)
					if got.status != tc.status || got.code != tc.code {
						t.Fatalf("%s %s: %d %s %q, want %d %s", tc.method, tc.url, got.status, got.code, got.message, tc.status, tc.code)
					}
					if tc.code == "BLOB_UPLOAD_UNKNOWN" && !strings.Contains(got.message, "POST /v2/"+repoOf(tc.url)+"/blobs/uploads/") {
						t.Errorf("message %q does not say to start a new upload in %s", got.message, repoOf(tc.url))
					}
				})
			}
		})
	}
}

// repoOf is the repository of an upload session URL.
func repoOf(rawURL string) string {
	u, _ := url.Parse(rawURL)
	repo, _, _ := strings.Cut(strings.TrimPrefix(u.Path, "/v2/"), "/blobs/uploads/")
	return repo
}
