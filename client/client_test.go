package client

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
)

func TestNew(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:5000":        "http://127.0.0.1:5000",
		"http://127.0.0.1:5000/":       "http://127.0.0.1:5000",
		"127.0.0.1:5000":               "http://127.0.0.1:5000",
		"https://cairn.example/prefix": "https://cairn.example/prefix",
	} {
		c, err := New(in)
		if err != nil || c.BaseURL() != want {
			t.Errorf("New(%q) = %v, %v; want %s", in, c, err, want)
		}
	}
	for _, in := range []string{"", "ftp://x", "http://", "http://h/?a=b", "http://[::1"} {
		if _, err := New(in); err == nil {
			t.Errorf("New(%q): no error", in)
		}
	}
}

func TestSearchParams(t *testing.T) {
	yes := true
	v := SearchParams{
		Annotations:  []string{"org.example.year>=2024", "org.example.model=qwen3|bge"},
		ArtifactType: "application/vnd.cairn.embeddings.v1",
		Repository:   "datasets/a", RepositoryPrefix: "datasets/", Tag: "v1", Text: "neurips",
		Subject: "sha256:abc", HasSubject: &yes, PushedAfter: time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC),
		Sort: "-size", Limit: 7, PageToken: "tok",
	}.Values()
	want := url.Values{
		"annotation":        {"org.example.year>=2024", "org.example.model=qwen3|bge"},
		"artifact_type":     {"application/vnd.cairn.embeddings.v1"},
		"repository":        {"datasets/a"},
		"repository_prefix": {"datasets/"},
		"tag":               {"v1"},
		"q":                 {"neurips"},
		"subject":           {"sha256:abc"},
		"has_subject":       {"true"},
		"pushed_after":      {"2024-06-01T00:00:00Z"},
		"sort":              {"-size"},
		"limit":             {"7"},
		"page_token":        {"tok"},
	}
	if v.Encode() != want.Encode() {
		t.Errorf("got  %s\nwant %s", v.Encode(), want.Encode())
	}
	if got := (SearchParams{}).Values(); len(got) != 0 {
		t.Errorf("zero params: %v", got)
	}
}

// pagingServer serves n artifacts named by number, in pages of limit=,
// recording each query.
func pagingServer(t *testing.T, n int) (*httptest.Server, *[]url.Values) {
	t.Helper()
	var queries []url.Values
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/artifacts" {
			http.NotFound(w, r)
			return
		}
		q := r.URL.Query()
		queries = append(queries, q)
		limit := 50
		if s := q.Get("limit"); s != "" {
			limit, _ = strconv.Atoi(s)
		}
		start, _ := strconv.Atoi(q.Get("page_token"))
		end := min(start+limit, n)
		page := map[string]any{"artifacts": []map[string]any{}}
		arts := []map[string]any{}
		for i := start; i < end; i++ {
			arts = append(arts, map[string]any{"repository": fmt.Sprintf("r/%d", i), "digest": fmt.Sprintf("sha256:%064x", i), "extra": i})
		}
		page["artifacts"] = arts
		if end < n {
			page["nextPageToken"] = strconv.Itoa(end)
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(page)
	}))
	t.Cleanup(srv.Close)
	return srv, &queries
}

func TestSearchAll(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name       string
		n, limit   int
		total      int
		wantN      int
		wantMore   bool
		wantLimits []string
	}{
		{"all in server-sized pages", 120, 0, 0, 120, false, []string{"", "", ""}},
		{"all in pages of 40", 100, 40, 0, 100, false, []string{"40", "40", "40"}},
		{"capped, one page as large as the cap", 120, 0, 100, 100, true, []string{"100"}},
		{"capped with small pages", 120, 30, 100, 100, true, []string{"30", "30", "30", "10"}},
		{"cap above what matches", 5, 2, 100, 5, false, []string{"2", "2", "2"}},
		{"cap exactly what matches", 4, 2, 4, 4, false, []string{"2", "2"}},
		{"cap beyond the largest page", 1500, 0, 1200, 1200, true, []string{"1000", "200"}},
		{"nothing matches", 0, 0, 100, 0, false, []string{"100"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, queries := pagingServer(t, tt.n)
			c, err := New(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			arts, more, err := c.SearchAll(ctx, SearchParams{Limit: tt.limit, Tag: "x"}, tt.total)
			if err != nil {
				t.Fatal(err)
			}
			if len(arts) != tt.wantN || more != tt.wantMore {
				t.Errorf("got %d artifacts, more=%v; want %d, %v", len(arts), more, tt.wantN, tt.wantMore)
			}
			for i, a := range arts {
				if a.Repository != fmt.Sprintf("r/%d", i) {
					t.Fatalf("artifact %d is %s", i, a.Repository)
				}
			}
			var limits []string
			for _, q := range *queries {
				limits = append(limits, q.Get("limit"))
				if q.Get("tag") != "x" {
					t.Errorf("a page lost the filters: %v", q)
				}
			}
			if !slices.Equal(limits, tt.wantLimits) {
				t.Errorf("page sizes asked %q, want %q", limits, tt.wantLimits)
			}
		})
	}
}

func TestSearchKeepsRaw(t *testing.T) {
	srv, _ := pagingServer(t, 1)
	c, _ := New(srv.URL)
	page, err := c.Search(context.Background(), SearchParams{})
	if err != nil {
		t.Fatal(err)
	}
	a := page.Artifacts[0]
	if a.Digest != digest.Digest(fmt.Sprintf("sha256:%064x", 0)) || !strings.Contains(string(a.Raw), `"extra":0`) {
		t.Errorf("artifact %+v raw %s", a, a.Raw)
	}
}

func TestSearchAllEndlessTokens(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"artifacts":[],"nextPageToken":"same"}`)
	}))
	defer srv.Close()
	c, _ := New(srv.URL)
	if _, _, err := c.SearchAll(context.Background(), SearchParams{}, 0); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("err = %v", err)
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name, ctype, body string
		status            int
		code, msg, param  string
	}{
		{"catalog API shape", "application/json", `{"error":{"code":"INVALID_PARAMETER","message":"annotation=x y: bad","detail":{"parameter":"annotation"}}}`,
			400, CodeInvalidParameter, "annotation=x y: bad", "annotation"},
		{"distribution spec shape", "application/json", `{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry","detail":"sha256:…"}]}`,
			404, CodeBlobUnknown, "blob unknown to registry", ""},
		{"a proxy's text", "text/plain", "upstream connect error\nmore", 502, "", "the server answered 502 Bad Gateway: upstream connect error", ""},
		{"a proxy's HTML", "text/html", "<html><body>oops</body></html>", 503, "", "the server answered 503 Service Unavailable", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tt.ctype)
				w.WriteHeader(tt.status)
				fmt.Fprint(w, tt.body)
			}))
			defer srv.Close()
			c, _ := New(srv.URL)
			_, err := c.Search(context.Background(), SearchParams{})
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %T %v", err, err)
			}
			if e.StatusCode != tt.status || e.Code != tt.code || !strings.HasPrefix(e.Error(), tt.msg) || e.Parameter() != tt.param {
				t.Errorf("got %d %q %q %q", e.StatusCode, e.Code, e.Error(), e.Parameter())
			}
			if tt.code != "" && !HasCode(err, tt.code) {
				t.Errorf("HasCode(%s) is false", tt.code)
			}
			if IsNotFound(err) != (tt.status == 404) {
				t.Errorf("IsNotFound = %v", IsNotFound(err))
			}
		})
	}
}

func TestNotJSON(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, "<html></html>")
	}))
	defer srv.Close()
	c, _ := New(srv.URL)
	if _, err := c.Search(context.Background(), SearchParams{}); err == nil || !strings.Contains(err.Error(), "not JSON") {
		t.Errorf("err = %v", err)
	}
}

func TestUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c, _ := New("http://" + addr)
	_, err = c.Search(context.Background(), SearchParams{})
	var ue *UnreachableError
	if !errors.As(err, &ue) || ue.URL != "http://"+addr || !strings.Contains(err.Error(), "cannot reach the cairn server at http://"+addr) {
		t.Errorf("err = %T %v", err, err)
	}
	// A cancelled request is not the server's fault.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Search(ctx, SearchParams{}); !errors.Is(err, context.Canceled) || errors.As(err, &ue) {
		t.Errorf("cancelled: %T %v", err, err)
	}
}

func TestParseContentID(t *testing.T) {
	hex64 := strings.Repeat("ab", 32)
	for in, want := range map[string]string{
		"hash://sha256/" + hex64:                       "sha256:" + hex64,
		"sha256:" + hex64:                              "sha256:" + hex64,
		"hash://sha512/" + strings.Repeat("cd", 64):    "sha512:" + strings.Repeat("cd", 64),
		"hash://sha384/" + strings.Repeat("ef", 48):    "sha384:" + strings.Repeat("ef", 48),
		"hash://sha256/" + strings.ToUpper(hex64):      "",
		"hash://sha256/abc":                            "",
		"hash://md5/" + strings.Repeat("0", 32):        "",
		"hash://sha256":                                "",
		"https://example.com/sha256:" + hex64:          "",
		hex64:                                          "",
		"hash://sha256/" + hex64[:63] + "g":            "",
		"hash://sha256/" + hex64 + "/../../etc/passwd": "",
	} {
		d, err := ParseContentID(in)
		if (err == nil) != (want != "") || string(d) != want {
			t.Errorf("ParseContentID(%q) = %q, %v; want %q", in, d, err, want)
		}
	}
	if id := ContentID(digest.Digest("sha256:" + hex64)); id != "hash://sha256/"+hex64 {
		t.Errorf("ContentID = %s", id)
	}
}

// blobServer answers /api/v1/resolve like cairn, redirecting to
// /v2/r/blobs/{digest}, where it serves what serve returns for the digest.
func blobServer(t *testing.T, known digest.Digest, serve func(w http.ResponseWriter)) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/resolve", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("id") != ContentID(known) {
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprintf(w, `{"error":{"code":"BLOB_UNKNOWN","message":"no repository holds %s","detail":{"digest":"x"}}}`, r.URL.Query().Get("id"))
			return
		}
		w.Header().Set("Location", "/v2/r/blobs/"+known.String())
		w.WriteHeader(http.StatusTemporaryRedirect)
	})
	mux.HandleFunc("GET /v2/r/blobs/{digest}", func(w http.ResponseWriter, r *http.Request) { serve(w) })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func sha(b []byte) digest.Digest {
	s := sha256.Sum256(b)
	return digest.Digest("sha256:" + hex.EncodeToString(s[:]))
}

func TestResolve(t *testing.T) {
	content := []byte(strings.Repeat("the bytes of a blob ", 10000))
	d := sha(content)
	ctx := context.Background()

	t.Run("verified", func(t *testing.T) {
		srv := blobServer(t, d, func(w http.ResponseWriter) { _, _ = w.Write(content) })
		c, _ := New(srv.URL)
		body, got, err := c.Resolve(ctx, ContentID(d))
		if err != nil || got != d {
			t.Fatalf("%v %s", err, got)
		}
		defer body.Close()
		b, err := io.ReadAll(body)
		if err != nil || string(b) != string(content) {
			t.Fatalf("%v, %d bytes", err, len(b))
		}
	})
	t.Run("the server serves other bytes", func(t *testing.T) {
		srv := blobServer(t, d, func(w http.ResponseWriter) { _, _ = w.Write(append([]byte("X"), content[1:]...)) })
		c, _ := New(srv.URL)
		body, _, err := c.Resolve(ctx, ContentID(d))
		if err != nil {
			t.Fatal(err)
		}
		defer body.Close()
		_, err = io.Copy(io.Discard, body)
		if !errors.Is(err, ErrDigestMismatch) || !strings.Contains(err.Error(), ContentID(d)) {
			t.Fatalf("err = %v", err)
		}
		// The error sticks.
		if _, err2 := body.Read(make([]byte, 1)); !errors.Is(err2, ErrDigestMismatch) {
			t.Errorf("second read: %v", err2)
		}
	})
	t.Run("the server says it serves another digest", func(t *testing.T) {
		srv := blobServer(t, d, func(w http.ResponseWriter) {
			w.Header().Set("Docker-Content-Digest", sha([]byte("other")).String())
			_, _ = w.Write(content)
		})
		c, _ := New(srv.URL)
		if _, _, err := c.Resolve(ctx, ContentID(d)); !errors.Is(err, ErrDigestMismatch) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("truncated", func(t *testing.T) {
		srv := blobServer(t, d, func(w http.ResponseWriter) {
			w.Header().Set("Content-Length", strconv.Itoa(len(content)))
			_, _ = w.Write(content[:100])
		})
		c, _ := New(srv.URL)
		body, _, err := c.Resolve(ctx, ContentID(d))
		if err != nil {
			t.Fatal(err)
		}
		defer body.Close()
		if _, err := io.Copy(io.Discard, body); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("unknown", func(t *testing.T) {
		srv := blobServer(t, d, nil)
		c, _ := New(srv.URL)
		other := sha([]byte("nobody has this"))
		_, _, err := c.Resolve(ctx, ContentID(other))
		if !HasCode(err, CodeBlobUnknown) || !IsNotFound(err) || err.Error() != "no repository holds "+ContentID(other) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("the blob is gone from the registry", func(t *testing.T) {
		srv := blobServer(t, d, func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry"}]}`)
		})
		c, _ := New(srv.URL)
		if _, _, err := c.Resolve(ctx, ContentID(d)); !HasCode(err, CodeBlobUnknown) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("not a content id", func(t *testing.T) {
		c, _ := New("http://127.0.0.1:1")
		if _, _, err := c.Resolve(ctx, "hash://sha256/abc"); err == nil || errors.As(err, new(*UnreachableError)) {
			t.Fatalf("err = %v", err)
		}
	})
}
