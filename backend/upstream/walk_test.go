package upstream

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"go.uber.org/zap"

	"github.com/cairn-dev/cairn/backend"
	"github.com/cairn-dev/cairn/backend/embedded"
)

// registry is a real registry for walks: the embedded engine (the
// distribution library) behind a handler that adds what a walk meets in
// the field and the library lacks: a referrers API, answered one
// descriptor per page; catalog and tag pages smaller than a walk asks for;
// and, when token is set, a Bearer challenge with a token endpoint that
// takes basic credentials.
type registry struct {
	t      *testing.T
	engine *embedded.Engine
	srv    *httptest.Server
	token  bool

	mu        sync.Mutex
	referrers map[digest.Digest][]ocispec.Descriptor
	scopes    []string // scopes the token endpoint issued
}

const (
	tokenUser, tokenPass = "cairn", "s3cret"
	issuedToken          = "issued-token"
)

func newTestRegistry(t *testing.T, token bool) *registry {
	t.Helper()
	e, err := embedded.New(context.Background(), zap.NewNop(), embedded.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	g := &registry{t: t, engine: e, token: token, referrers: map[digest.Digest][]ocispec.Descriptor{}}
	g.srv = httptest.NewServer(http.HandlerFunc(g.serve))
	t.Cleanup(func() { g.srv.Close(); e.Close() })
	return g
}

func (g *registry) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/token" {
		user, pass, ok := r.BasicAuth()
		if !ok || user != tokenUser || pass != tokenPass {
			http.Error(w, "bad credentials", http.StatusUnauthorized)
			return
		}
		g.mu.Lock()
		g.scopes = append(g.scopes, r.URL.Query()["scope"]...)
		g.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"token":%q,"expires_in":300}`, issuedToken)
		return
	}
	if g.token && r.Header.Get("Authorization") != "Bearer "+issuedToken {
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="%s/token",service="test"`, g.srv.URL))
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	q := r.URL.Query()
	switch {
	case r.URL.Path == "/v2/_catalog":
		q.Set("n", "2") // fewer than asked: the walk pages on
		r.URL.RawQuery = q.Encode()
	case strings.HasSuffix(r.URL.Path, "/tags/list") && q.Get("n") == "":
		q.Set("n", "1") // the library's Link headers page on
		r.URL.RawQuery = q.Encode()
	case strings.Contains(r.URL.Path, "/referrers/"):
		g.serveReferrers(w, r)
		return
	}
	g.engine.ServeHTTP(w, r)
}

// serveReferrers answers the referrers API one descriptor per page.
func (g *registry) serveReferrers(w http.ResponseWriter, r *http.Request) {
	_, subject, _ := strings.Cut(r.URL.Path, "/referrers/")
	g.mu.Lock()
	all := g.referrers[digest.Digest(subject)]
	g.mu.Unlock()
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	idx := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{}}
	idx.SchemaVersion = 2
	if page < len(all) {
		idx.Manifests = append(idx.Manifests, all[page])
	}
	if page+1 < len(all) {
		w.Header().Set("Link", fmt.Sprintf(`<%s?page=%d>; rel="next"`, r.URL.Path, page+1))
	}
	w.Header().Set("Content-Type", ocispec.MediaTypeImageIndex)
	_ = json.NewEncoder(w).Encode(idx)
}

// put sends a request straight to the engine, as a push that bypasses
// the walk's view.
func (g *registry) put(method, path string, body []byte, contentType string) *http.Response {
	g.t.Helper()
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	rec := httptest.NewRecorder()
	g.engine.ServeHTTP(rec, req)
	return rec.Result()
}

func (g *registry) blob(repo string, b []byte) ocispec.Descriptor {
	g.t.Helper()
	res := g.put(http.MethodPost, "/v2/"+repo+"/blobs/uploads/", nil, "")
	if res.StatusCode != http.StatusAccepted {
		g.t.Fatalf("start upload in %s: %d", repo, res.StatusCode)
	}
	loc, err := url.Parse(res.Header.Get("Location"))
	if err != nil {
		g.t.Fatal(err)
	}
	d := digest.FromBytes(b)
	q := loc.Query()
	q.Set("digest", d.String())
	loc.RawQuery = q.Encode()
	if res := g.put(http.MethodPut, loc.String(), b, "application/octet-stream"); res.StatusCode != http.StatusCreated {
		g.t.Fatalf("upload to %s: %d", repo, res.StatusCode)
	}
	return ocispec.Descriptor{MediaType: "application/octet-stream", Digest: d, Size: int64(len(b))}
}

// manifest pushes m to repo under ref (a tag, or "" for its digest) and
// records it as a referrer of its subject.
func (g *registry) manifest(repo, ref string, m any) backend.Manifest {
	g.t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		g.t.Fatal(err)
	}
	var head struct {
		MediaType    string              `json:"mediaType"`
		ArtifactType string              `json:"artifactType"`
		Subject      *ocispec.Descriptor `json:"subject"`
	}
	_ = json.Unmarshal(b, &head)
	d := digest.FromBytes(b)
	if ref == "" {
		ref = d.String()
	}
	if res := g.put(http.MethodPut, "/v2/"+repo+"/manifests/"+ref, b, head.MediaType); res.StatusCode != http.StatusCreated {
		g.t.Fatalf("push manifest %s to %s: %d", ref, repo, res.StatusCode)
	}
	if head.Subject != nil {
		g.mu.Lock()
		g.referrers[head.Subject.Digest] = append(g.referrers[head.Subject.Digest], ocispec.Descriptor{MediaType: head.MediaType, ArtifactType: head.ArtifactType, Digest: d, Size: int64(len(b))})
		g.mu.Unlock()
	}
	return backend.Manifest{Repository: repo, Digest: d.String(), MediaType: head.MediaType, Payload: b}
}

func image(config, layer ocispec.Descriptor, note string, subject *ocispec.Descriptor) ocispec.Manifest {
	m := ocispec.Manifest{
		MediaType:   ocispec.MediaTypeImageManifest,
		Config:      config,
		Layers:      []ocispec.Descriptor{layer},
		Annotations: map[string]string{"note": note},
		Subject:     subject,
	}
	m.SchemaVersion = 2
	if subject != nil {
		m.ArtifactType = "application/vnd.cairn.note.v1"
	}
	return m
}

func descOf(m backend.Manifest) *ocispec.Descriptor {
	return &ocispec.Descriptor{MediaType: m.MediaType, Digest: digest.Digest(m.Digest), Size: int64(len(m.Payload))}
}

// fill pushes a repository with every kind of manifest a walk must find
// (tagged twice, an index and its untagged child, referrers and a
// referrer's referrer) and one it cannot (untagged, unreferred), plus two
// more repositories; it returns what Walk must report for team/walk.
func (g *registry) fill() []backend.Manifest {
	const repo = "team/walk"
	config := g.blob(repo, []byte("{}"))
	config.MediaType = ocispec.MediaTypeImageConfig
	layer := g.blob(repo, []byte("layer"))

	tagged := g.manifest(repo, "v1", image(config, layer, "tagged", nil))
	g.manifest(repo, "latest", image(config, layer, "tagged", nil))
	tagged.Tags = []string{"latest", "v1"}
	child := g.manifest(repo, "", image(config, layer, "child", nil))
	idx := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{*descOf(child)}}
	idx.SchemaVersion = 2
	index := g.manifest(repo, "multi", idx)
	index.Tags = []string{"multi"}
	note := g.manifest(repo, "", image(config, layer, "note", descOf(tagged)))
	second := g.manifest(repo, "", image(config, layer, "second note", descOf(tagged)))
	noteOfNote := g.manifest(repo, "", image(config, layer, "note of a note", descOf(note)))
	g.manifest(repo, "", image(config, layer, "unreachable", nil))

	for _, other := range []string{"team/other", "team/third"} {
		c := g.blob(other, []byte("{}"))
		c.MediaType = ocispec.MediaTypeImageConfig
		g.manifest(other, "v1", image(c, g.blob(other, []byte("x")), other, nil))
	}
	return []backend.Manifest{tagged, index, child, note, second, noteOfNote}
}

func walkAll(t *testing.T, u *Registry, repo string) ([]backend.Manifest, error) {
	t.Helper()
	var got []backend.Manifest
	err := u.Walk(context.Background(), repo, func(m backend.Manifest) error {
		got = append(got, m)
		return nil
	})
	return got, err
}

func byDigest(ms []backend.Manifest) map[string]backend.Manifest {
	out := map[string]backend.Manifest{}
	for _, m := range ms {
		out[m.Digest] = m
	}
	return out
}

// TestWalk walks a real registry, with and without a token exchange in
// front of it: every manifest the API reaches is reported once with its
// tags, bytes and media type, through paged catalogs, tag lists and
// referrers.
func TestWalk(t *testing.T) {
	for _, token := range []bool{false, true} {
		t.Run(map[bool]string{false: "basic", true: "bearer token"}[token], func(t *testing.T) {
			g := newTestRegistry(t, token)
			want := g.fill()
			u, err := New(zap.NewNop(), Config{URL: g.srv.URL, Username: tokenUser, Password: tokenPass})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { u.Close() })

			repos, err := u.Repositories(context.Background())
			if err != nil {
				t.Fatalf("Repositories: %v", err)
			}
			if wantRepos := []string{"team/other", "team/third", "team/walk"}; !slices.Equal(repos, wantRepos) {
				t.Errorf("Repositories = %v, want %v", repos, wantRepos)
			}

			got, err := walkAll(t, u, "team/walk")
			if err != nil {
				t.Fatalf("Walk: %v", err)
			}
			if len(got) != len(want) {
				t.Errorf("Walk reported %d manifests, want %d", len(got), len(want))
			}
			gotBy := byDigest(got)
			for _, w := range want {
				m, ok := gotBy[w.Digest]
				switch {
				case !ok:
					t.Errorf("Walk did not report %s (%s)", w.Digest, w.Payload)
				case m.Repository != w.Repository || m.MediaType != w.MediaType || !bytes.Equal(m.Payload, w.Payload) || !slices.Equal(m.Tags, w.Tags) || !m.ModTime.IsZero():
					t.Errorf("Walk reported %s as %+v (payload %s), want repository %s, media type %s, tags %v, no time", w.Digest, m, m.Payload, w.Repository, w.MediaType, w.Tags)
				}
			}

			if gone, err := walkAll(t, u, "team/never-pushed"); err != nil || len(gone) != 0 {
				t.Errorf("Walk of a repository the upstream lacks = %v, %v; want nothing, no error", gone, err)
			}

			g.mu.Lock()
			scopes := slices.Clone(g.scopes)
			g.mu.Unlock()
			if token && !slices.Contains(scopes, "repository:team/walk:pull") {
				t.Errorf("the token endpoint issued %v, want a pull token for team/walk", scopes)
			}
			if !token && len(scopes) != 0 {
				t.Errorf("the token endpoint was asked %v without a challenge", scopes)
			}
		})
	}
}

// TestWalkFailsClearly: an upstream that is down, or that refuses cairn's
// credentials at the token endpoint, ends the walk soon with an error
// naming the upstream.
func TestWalkFailsClearly(t *testing.T) {
	down := httptest.NewServer(http.NotFoundHandler())
	downURL := down.URL
	down.Close()
	g := newTestRegistry(t, true)
	g.fill()
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"upstream down", Config{URL: downURL}},
		{"token refused", Config{URL: g.srv.URL, Username: tokenUser, Password: "wrong"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, err := New(zap.NewNop(), tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer u.Close()
			host := hostOf(t, tc.cfg.URL)
			for name, call := range map[string]func() error{
				"Repositories": func() error { _, err := u.Repositories(context.Background()); return err },
				"Walk":         func() error { _, err := walkAll(t, u, "team/walk"); return err },
			} {
				start := time.Now()
				err := call()
				took := time.Since(start)
				if err == nil {
					t.Fatalf("%s succeeded", name)
				}
				if !strings.Contains(err.Error(), host) {
					t.Errorf("%s error %q does not name the upstream %s", name, err, host)
				}
				if took > 10*time.Second {
					t.Errorf("%s took %v to fail", name, took)
				}
				t.Logf("%s: %v (after %v)", name, err, took.Round(time.Millisecond))
			}
		})
	}
}
