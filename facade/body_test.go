package facade

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestBodyLimits: every catalog API body is bounded, whether its size is
// announced or not, and the answer names the limit.
func TestBodyLimits(t *testing.T) {
	s, st := newAccessServer(t)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	admin := "Basic " + base64.StdEncoding.EncodeToString([]byte("root:"+issue(t, st, "root", ":admin", time.Time{})))
	for _, tc := range []struct {
		name, path string
		body       []byte
		chunked    bool
		status     int
	}{
		{"event announced too large", "/api/v1/events", bytes.Repeat([]byte("x"), maxEventSize+1), false, 413},
		{"event streamed too large", "/api/v1/events", bytes.Repeat([]byte("x"), maxEventSize+1), true, 413},
		{"token request announced too large", "/api/v1/tokens", bytes.Repeat([]byte(" "), maxTokenRequest+1), false, 413},
		{"token request streamed too large", "/api/v1/tokens", bytes.Repeat([]byte(" "), maxTokenRequest+1), true, 413},
		{"token request within the limit", "/api/v1/tokens", []byte(`{"user":"bob","scopes":["a/:pull"]}`), true, 201},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := bytes.NewReader(tc.body)
			req, err := http.NewRequest(http.MethodPost, srv.URL+tc.path, body)
			if err != nil {
				t.Fatal(err)
			}
			if tc.chunked {
				req.ContentLength = -1
				req.Body = readCloser{bytes.NewReader(tc.body)}
			}
			req.Header.Set("Authorization", admin)
			req.Header.Set("Content-Type", "application/json")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			var e struct {
				Error struct{ Code, Message string }
			}
			_ = json.NewDecoder(res.Body).Decode(&e)
			if res.StatusCode != tc.status {
				t.Fatalf("status %d (%s: %s), want %d", res.StatusCode, e.Error.Code, e.Error.Message, tc.status)
			}
			if tc.status == 413 && (e.Error.Code != "TOO_LARGE" || !strings.Contains(e.Error.Message, "bytes")) {
				t.Errorf("error %s %q, want TOO_LARGE naming the limit", e.Error.Code, e.Error.Message)
			}
		})
	}
}

// readCloser hides the reader's length, so the request is sent chunked.
type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }
