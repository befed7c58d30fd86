package e2e

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

type apiArtifact struct {
	Repository   string            `json:"repository"`
	Digest       string            `json:"digest"`
	ArtifactType string            `json:"artifactType"`
	Size         int64             `json:"size"`
	Tags         []string          `json:"tags"`
	Annotations  map[string]string `json:"annotations"`
	Subject      string            `json:"subject"`
	Layers       []struct {
		Digest string `json:"digest"`
		Title  string `json:"title"`
	} `json:"layers"`
	Referrers  []apiArtifact `json:"referrers"`
	Signed     bool          `json:"signed"`
	Signatures []struct {
		Manifest string `json:"manifest"`
		Form     string `json:"form"`
		KeyID    string `json:"keyId"`
		Verified bool   `json:"verified"`
		Error    string `json:"error"`
	} `json:"signatures"`
}

type apiError struct {
	Error struct {
		Code    string            `json:"code"`
		Message string            `json:"message"`
		Detail  map[string]string `json:"detail"`
	} `json:"error"`
}

// apiGet GETs a catalog API path and decodes the answer into v (on 200) or
// returns the error body.
func apiGet(t *testing.T, c *cairn, path string, v any) (int, apiError) {
	t.Helper()
	code, _, body := do(t, http.MethodGet, c.url(path), nil, nil)
	var e apiError
	if code == http.StatusOK {
		if err := json.Unmarshal(body, v); err != nil {
			t.Fatalf("GET %s: %v\n%s", path, err, body)
		}
	} else if err := json.Unmarshal(body, &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
		t.Fatalf("GET %s: %d with a body not in the API's error shape: %s", path, code, body)
	}
	return code, e
}

type seeded struct {
	digests map[string]string // name → digest
}

// seedCatalog pushes datasets of three conferences and years with
// embeddings made by two models.
func seedCatalog(t *testing.T, c *cairn) seeded {
	t.Helper()
	s := seeded{digests: map[string]string{}}
	for _, ds := range []struct{ conf, year, model string }{
		{"neurips", "2023", "bge"}, {"neurips", "2024", "qwen3"}, {"icml", "2024", "qwen3"}, {"iclr", "2025", "bge"},
	} {
		name := ds.conf + "-" + ds.year
		writeFile(t, c.workDir, name+".db", []byte("papers of "+name))
		out := c.run("oras", "push", "--plain-http", "--format", "json", c.addr+"/datasets/"+ds.conf+":"+ds.year, name+".db",
			"--artifact-type", datasetType, "-a", "org.example.conference="+ds.conf, "-a", "org.example.year="+ds.year)
		s.digests[name] = parsePushed(t, out).Digest
		writeFile(t, c.workDir, name+".emb", []byte("vectors of "+name+" by "+ds.model))
		out = c.run("oras", "attach", "--plain-http", "--format", "json", c.addr+"/datasets/"+ds.conf+":"+ds.year, name+".emb",
			"--artifact-type", embeddingsType, "-a", "org.example.model="+ds.model, "-a", "org.example.year="+ds.year,
			"-a", "org.example.conference="+ds.conf)
		s.digests[name+"/emb"] = parsePushed(t, out).Digest
	}
	return s
}

func digestsOf(as []apiArtifact) []string {
	out := make([]string, 0, len(as))
	for _, a := range as {
		out = append(out, a.Digest)
	}
	return out
}

// TestCatalogAPI asks the questions the catalog exists for, with the real
// server after real pushes.
func TestCatalogAPI(t *testing.T) {
	c := startCairn(t)
	s := seedCatalog(t, c)
	d := s.digests

	type list struct {
		Artifacts     []apiArtifact `json:"artifacts"`
		NextPageToken string        `json:"nextPageToken"`
	}
	query := func(params ...string) []string {
		t.Helper()
		v := url.Values{}
		for i := 0; i < len(params); i += 2 {
			v.Add(params[i], params[i+1])
		}
		var l list
		code, e := apiGet(t, c, "/api/v1/artifacts?"+v.Encode(), &l)
		mustf(t, code == http.StatusOK, "artifacts?%s: %d %+v", v.Encode(), code, e)
		return digestsOf(l.Artifacts)
	}
	cases := []struct {
		name   string
		params []string
		want   []string
	}{
		{"embeddings of 2024 or later by qwen3, newest first",
			[]string{"artifact_type", embeddingsType, "annotation", "org.example.year>=2024", "annotation", "org.example.model=qwen3", "sort", "-pushed"},
			[]string{d["icml-2024/emb"], d["neurips-2024/emb"]}},
		{"either model, by year then repository", []string{"artifact_type", embeddingsType, "annotation", "org.example.model=qwen3|bge", "sort", "annotation:org.example.year"},
			[]string{d["neurips-2023/emb"], d["icml-2024/emb"], d["neurips-2024/emb"], d["iclr-2025/emb"]}},
		{"year below 2024", []string{"annotation", "org.example.year<2024", "sort", "pushed"}, []string{d["neurips-2023"], d["neurips-2023/emb"]}},
		{"model absent means datasets", []string{"annotation", "!org.example.model", "repository_prefix", "datasets/ne", "sort", "pushed"}, []string{d["neurips-2023"], d["neurips-2024"]}},
		{"prefix of a value", []string{"annotation", "org.example.model^=qw", "sort", "pushed"}, []string{d["neurips-2024/emb"], d["icml-2024/emb"]}},
		{"full text", []string{"q", "ICLR", "sort", "pushed"}, []string{d["iclr-2025"], d["iclr-2025/emb"]}},
		{"by tag", []string{"tag", "2025"}, []string{d["iclr-2025"]}},
		{"referrers of one dataset", []string{"subject", d["neurips-2024"]}, []string{d["neurips-2024/emb"]}},
		{"no subject, in one repository", []string{"has_subject", "false", "repository", "datasets/icml"}, []string{d["icml-2024"]}},
		{"injection is data", []string{"annotation", "org.example.year='; DROP TABLE manifests; --"}, []string{}},
		{"wildcards are data", []string{"q", "%", "repository_prefix", "_"}, []string{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := query(tc.params...)
			mustf(t, slices.Equal(got, tc.want), "got %v\nwant %v", got, tc.want)
		})
	}

	// Paging with limit=3 reaches every artifact once, in the same order.
	all := query("sort", "repository")
	mustf(t, len(all) == 8, "want 8 artifacts, got %d", len(all))
	var paged []string
	token := ""
	for pages := 0; ; pages++ {
		mustf(t, pages < 10, "paging does not end")
		path := "/api/v1/artifacts?sort=repository&limit=3"
		if token != "" {
			path += "&page_token=" + url.QueryEscape(token)
		}
		var l list
		code, e := apiGet(t, c, path, &l)
		mustf(t, code == 200, "page: %d %+v", code, e)
		paged = append(paged, digestsOf(l.Artifacts)...)
		if token = l.NextPageToken; token == "" {
			break
		}
	}
	mustf(t, slices.Equal(paged, all), "paged %v\nwhole %v", paged, all)

	// One artifact, by tag and by digest, with its referrers and layers.
	var a apiArtifact
	code, e := apiGet(t, c, "/api/v1/artifacts/datasets/neurips:2024", &a)
	mustf(t, code == 200 && a.Digest == d["neurips-2024"], "by tag: %d %+v %+v", code, a, e)
	mustf(t, len(a.Referrers) == 1 && a.Referrers[0].Digest == d["neurips-2024/emb"], "referrers: %+v", a.Referrers)
	mustf(t, len(a.Layers) == 1 && a.Layers[0].Title == "neurips-2024.db" && a.Size > int64(len("papers of neurips-2024")), "layers %+v size %d", a.Layers, a.Size)
	code, _ = apiGet(t, c, "/api/v1/artifacts/datasets/neurips@"+d["neurips-2024/emb"], &a)
	mustf(t, code == 200 && a.Subject == d["neurips-2024"] && a.Annotations["org.example.model"] == "qwen3", "by digest: %+v", a)

	// Repositories and facets.
	var repos struct {
		Repositories []struct {
			Name      string `json:"name"`
			Artifacts int64  `json:"artifacts"`
			Tags      int64  `json:"tags"`
		} `json:"repositories"`
	}
	code, _ = apiGet(t, c, "/api/v1/repositories?prefix=datasets/n", &repos)
	mustf(t, code == 200 && len(repos.Repositories) == 1 && repos.Repositories[0].Artifacts == 4 && repos.Repositories[0].Tags == 2, "repositories: %+v", repos)
	var keys struct {
		Keys []struct {
			Value string `json:"value"`
			Count int64  `json:"count"`
		} `json:"keys"`
	}
	code, _ = apiGet(t, c, "/api/v1/annotations?artifact_type="+url.QueryEscape(embeddingsType), &keys)
	mustf(t, code == 200, "annotations: %d", code)
	counts := map[string]int64{}
	for _, k := range keys.Keys {
		counts[k.Value] = k.Count
	}
	mustf(t, counts["org.example.model"] == 4 && counts["org.example.year"] == 4, "key counts: %v", counts)
	var values struct {
		Values []struct {
			Value string `json:"value"`
			Count int64  `json:"count"`
		} `json:"values"`
	}
	code, _ = apiGet(t, c, "/api/v1/annotations/org.example.model/values", &values)
	mustf(t, code == 200 && len(values.Values) == 2 && values.Values[0].Count == 2, "values: %+v", values)

	// A blob by digest, and a content id resolved to its bytes.
	var full apiArtifact
	apiGet(t, c, "/api/v1/artifacts/datasets/iclr:2025", &full)
	layer := full.Layers[0].Digest
	var uses struct {
		Uses []struct {
			Repository string `json:"repository"`
			Title      string `json:"title"`
		} `json:"uses"`
	}
	code, _ = apiGet(t, c, "/api/v1/blobs/"+layer, &uses)
	mustf(t, code == 200 && len(uses.Uses) == 1 && uses.Uses[0].Repository == "datasets/iclr" && uses.Uses[0].Title == "iclr-2025.db", "blob uses: %+v", uses)
	hexPart := strings.TrimPrefix(layer, "sha256:")
	for _, path := range []string{"/resolve/hash://sha256/" + hexPart, "/api/v1/resolve?id=" + url.QueryEscape("hash://sha256/"+hexPart)} {
		code, _, body := do(t, http.MethodGet, c.url(path), nil, nil) // follows the redirect
		mustf(t, code == 200 && string(body) == "papers of iclr-2025", "resolve %s: %d %q", path, code, body)
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := noRedirect.Get(c.url("/resolve/hash://sha256/" + hexPart))
	mustf(t, err == nil && res.StatusCode == http.StatusTemporaryRedirect && res.Header.Get("Location") == "/v2/datasets/iclr/blobs/"+layer, "resolve redirect: %v %+v", err, res)
	res.Body.Close()
}

// TestCatalogAPIBadInput: every bad parameter is a 400 naming it, and
// unknown things are 404s, all in the API's error shape.
func TestCatalogAPIBadInput(t *testing.T) {
	c := startCairn(t)
	seedCatalog(t, c)
	var l struct {
		NextPageToken string `json:"nextPageToken"`
	}
	code, _ := apiGet(t, c, "/api/v1/artifacts?limit=1", &l)
	mustf(t, code == 200 && l.NextPageToken != "", "no page token to tamper with")
	tampered := []byte(l.NextPageToken)
	tampered[3] ^= 1

	tests := []struct {
		path, code, param string
		status            int
	}{
		{"/api/v1/artifacts?colour=blue", "INVALID_PARAMETER", "colour", 400},
		{"/api/v1/artifacts?q=%ff%fe", "INVALID_PARAMETER", "q", 400},
		{"/api/v1/artifacts?annotation=k%3Da%00b", "INVALID_PARAMETER", "annotation", 400},
		{"/api/v1/artifacts?limit=0", "INVALID_PARAMETER", "limit", 400},
		{"/api/v1/artifacts?limit=1001", "INVALID_PARAMETER", "limit", 400},
		{"/api/v1/artifacts?limit=-5", "INVALID_PARAMETER", "limit", 400},
		{"/api/v1/artifacts?limit=ten", "INVALID_PARAMETER", "limit", 400},
		{"/api/v1/artifacts?annotation=" + url.QueryEscape("year=>2024 x"), "", "", 200},
		{"/api/v1/artifacts?annotation=" + url.QueryEscape("bad key=1"), "INVALID_PARAMETER", "annotation", 400},
		{"/api/v1/artifacts?annotation=", "INVALID_PARAMETER", "annotation", 400},
		{"/api/v1/artifacts?subject=sha256:abc", "INVALID_PARAMETER", "subject", 400},
		{"/api/v1/artifacts?has_subject=maybe", "INVALID_PARAMETER", "has_subject", 400},
		{"/api/v1/artifacts?pushed_after=yesterday", "INVALID_PARAMETER", "pushed_after", 400},
		{"/api/v1/artifacts?sort=colour", "INVALID_PARAMETER", "sort", 400},
		{"/api/v1/artifacts?repository=Bad", "INVALID_PARAMETER", "repository", 400},
		{"/api/v1/artifacts?tag=.bad", "INVALID_PARAMETER", "tag", 400},
		{"/api/v1/artifacts?limit=1&limit=2", "INVALID_PARAMETER", "limit", 400},
		{"/api/v1/artifacts?limit=1&page_token=" + url.QueryEscape(string(tampered)), "INVALID_PARAMETER", "page_token", 400},
		{"/api/v1/artifacts?limit=1&page_token=garbage", "INVALID_PARAMETER", "page_token", 400},
		{"/api/v1/artifacts?limit=1&sort=size&page_token=" + url.QueryEscape(l.NextPageToken), "INVALID_PARAMETER", "page_token", 400},
		{"/api/v1/artifacts/datasets/neurips:2099", "NOT_FOUND", "", 404},
		{"/api/v1/artifacts/datasets/neurips@sha256:" + strings.Repeat("0", 64), "NOT_FOUND", "", 404},
		{"/api/v1/artifacts/datasets/neurips", "INVALID_PARAMETER", "reference", 400},
		{"/api/v1/artifacts/Datasets/neurips:2024", "INVALID_PARAMETER", "reference", 400},
		{"/api/v1/blobs/sha256:" + strings.Repeat("0", 64), "BLOB_UNKNOWN", "", 404},
		{"/api/v1/blobs/sha512:" + strings.Repeat("0", 128), "BLOB_UNKNOWN", "", 404},
		{"/api/v1/blobs/nonsense", "INVALID_PARAMETER", "digest", 400},
		{"/resolve/hash://sha256/" + strings.Repeat("0", 64), "BLOB_UNKNOWN", "", 404},
		{"/resolve/hash://md5/abc", "INVALID_PARAMETER", "id", 400},
		{"/resolve/sha256:" + strings.Repeat("0", 64), "INVALID_PARAMETER", "id", 400},
		{"/api/v1/resolve", "INVALID_PARAMETER", "id", 400},
		{"/api/v1/annotations/bad key/values", "INVALID_PARAMETER", "key", 400},
		{"/api/v1/nothing", "NOT_FOUND", "", 404},
		{"/api/v1/repositories?prefix=a&page_token=x.y", "INVALID_PARAMETER", "page_token", 400},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			var v any
			code, e := apiGet(t, c, tt.path, &v)
			mustf(t, code == tt.status, "status %d, want %d: %+v", code, tt.status, e)
			if tt.status == 200 {
				return
			}
			mustf(t, e.Error.Code == tt.code, "code %s, want %s (%s)", e.Error.Code, tt.code, e.Error.Message)
			if tt.param != "" {
				mustf(t, e.Error.Detail["parameter"] == tt.param, "detail names %q, want %q (%s)", e.Error.Detail["parameter"], tt.param, e.Error.Message)
			}
		})
	}
	// The seeded data is still all there.
	var all struct {
		Artifacts []apiArtifact `json:"artifacts"`
	}
	code, _ = apiGet(t, c, "/api/v1/artifacts", &all)
	mustf(t, code == 200 && len(all.Artifacts) == 8, "after bad input: %d artifacts", len(all.Artifacts))
}
