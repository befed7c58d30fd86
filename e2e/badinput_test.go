package e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

// pushBlob uploads a blob with a POST and a PUT.
func pushBlob(t testing.TB, base, repo string, content []byte) digest.Digest {
	t.Helper()
	d := digest.FromBytes(content)
	code, h, body := do(t, http.MethodPost, base+"/v2/"+repo+"/blobs/uploads/", nil, nil)
	mustf(t, code == http.StatusAccepted, "POST upload: %d %s", code, body)
	loc := h.Get("Location")
	sep := "?"
	if strings.Contains(loc, "?") {
		sep = "&"
	}
	code, _, body = do(t, http.MethodPut, base+loc+sep+"digest="+d.String(), content, map[string]string{"Content-Type": "application/octet-stream"})
	mustf(t, code == http.StatusCreated, "PUT upload: %d %s", code, body)
	return d
}

// imageManifest builds an OCI image manifest over an empty config and one
// layer, with an optional subject.
func imageManifest(t *testing.T, base, repo string, layer []byte, subject *struct {
	d    digest.Digest
	size int
}, annotations map[string]string) []byte {
	t.Helper()
	cfg := pushBlob(t, base, repo, []byte("{}"))
	l := pushBlob(t, base, repo, layer)
	m := map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.manifest.v1+json",
		"artifactType":  "application/vnd.cairn.test.v1",
		"config":        map[string]any{"mediaType": "application/vnd.oci.empty.v1+json", "digest": cfg, "size": 2},
		"layers":        []any{map[string]any{"mediaType": "application/octet-stream", "digest": l, "size": len(layer)}},
	}
	if subject != nil {
		m["subject"] = map[string]any{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": subject.d, "size": subject.size}
	}
	if annotations != nil {
		m["annotations"] = annotations
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const ociManifest = "application/vnd.oci.image.manifest.v1+json"

// TestBadInput sends what registries have got wrong and checks the spec's
// error, and that what was stored before is untouched.
func TestBadInput(t *testing.T) {
	c := startCairn(t)
	base := "http://" + c.addr
	repo := "bad/input"
	good := imageManifest(t, base, repo, []byte("good layer"), nil, map[string]string{"k": "v"})
	goodDigest := digest.FromBytes(good)
	code, h, body := do(t, http.MethodPut, base+"/v2/"+repo+"/manifests/v1", good, map[string]string{"Content-Type": ociManifest})
	mustf(t, code == http.StatusCreated, "good manifest: %d %s", code, body)
	mustf(t, h.Get("Docker-Content-Digest") == goodDigest.String(), "Docker-Content-Digest %q", h.Get("Docker-Content-Digest"))
	referrer := imageManifest(t, base, repo, []byte("referrer layer"), &struct {
		d    digest.Digest
		size int
	}{goodDigest, len(good)}, nil)
	code, h, body = do(t, http.MethodPut, base+"/v2/"+repo+"/manifests/"+digest.FromBytes(referrer).String(), referrer, map[string]string{"Content-Type": ociManifest})
	mustf(t, code == http.StatusCreated, "referrer: %d %s", code, body)
	mustf(t, h.Get("OCI-Subject") == goodDigest.String(), "OCI-Subject %q, want %s", h.Get("OCI-Subject"), goodDigest)

	other := imageManifest(t, base, repo, []byte("other layer"), nil, nil)
	huge := append([]byte(`{"schemaVersion":2,"mediaType":"`+ociManifest+`","annotations":{"pad":"`), bytes.Repeat([]byte("x"), 4<<20)...)
	huge = append(huge, []byte(`"}}`)...)
	mismatched := strings.Replace(string(other), `"schemaVersion":2`, `"schemaVersion":2 `, 1)
	badLineage := imageManifest(t, base, repo, []byte("derived"), nil, map[string]string{"dev.cairn.lineage.derived-from": "abstracts/neurips:2024"})

	tests := []struct {
		name   string
		method string
		path   string
		body   []byte
		ctype  string
		status int
		code   string
	}{
		{"upper-case name", "GET", "/v2/Bad/Input/manifests/v1", nil, "", 400, "NAME_INVALID"},
		{"dot-dot name", "PUT", "/v2/bad/../input/manifests/v1", other, ociManifest, 400, "NAME_INVALID"},
		{"escaped slash", "PUT", "/v2/bad%2Finput/manifests/v1", other, ociManifest, 400, "NAME_INVALID"},
		{"name over 255", "GET", "/v2/" + strings.Repeat("a", 256) + "/manifests/v1", nil, "", 400, "NAME_INVALID"},
		{"invalid tag", "PUT", "/v2/bad/input/manifests/-v1", other, ociManifest, 400, "MANIFEST_INVALID"},
		{"tag over 128", "PUT", "/v2/bad/input/manifests/" + strings.Repeat("v", 129), other, ociManifest, 400, "MANIFEST_INVALID"},
		{"upper-case digest", "GET", "/v2/bad/input/manifests/sha256:" + strings.ToUpper(strings.Repeat("ab", 32)), nil, "", 400, "DIGEST_INVALID"},
		{"unknown algorithm", "GET", "/v2/bad/input/blobs/md5:" + strings.Repeat("a", 32), nil, "", 400, "DIGEST_INVALID"},
		{"empty digest", "GET", "/v2/bad/input/blobs/sha256:", nil, "", 400, "DIGEST_INVALID"},
		{"short digest", "GET", "/v2/bad/input/referrers/sha256:abc", nil, "", 400, "DIGEST_INVALID"},
		{"manifest over 4 MiB", "PUT", "/v2/bad/input/manifests/v1", huge, ociManifest, 413, "SIZE_INVALID"},
		{"derived-from by tag", "PUT", "/v2/bad/input/manifests/v1", badLineage, ociManifest, 400, "MANIFEST_INVALID"},
		{"manifest not JSON", "PUT", "/v2/bad/input/manifests/v1", []byte("not json"), ociManifest, 400, "MANIFEST_INVALID"},
		{"manifest JSON array", "PUT", "/v2/bad/input/manifests/v1", []byte("[1,2]"), ociManifest, 400, "MANIFEST_INVALID"},
		{"manifest empty", "PUT", "/v2/bad/input/manifests/v1", []byte{}, ociManifest, 400, "MANIFEST_INVALID"},
		{"mediaType disagrees with Content-Type", "PUT", "/v2/bad/input/manifests/v1", other, "application/vnd.oci.image.index.v1+json", 400, "MANIFEST_INVALID"},
		{"digest does not match body", "PUT", "/v2/bad/input/manifests/" + digest.FromBytes(other).String(), []byte(mismatched), ociManifest, 400, "DIGEST_INVALID"},
		{"layer never pushed", "PUT", "/v2/bad/input/manifests/v1", []byte(strings.Replace(string(other), digest.FromBytes([]byte("other layer")).Encoded(), strings.Repeat("0", 64), 1)), ociManifest, 400, "MANIFEST_BLOB_UNKNOWN"},
		{"unknown repository", "GET", "/v2/no/such/repo/manifests/v1", nil, "", 404, "NAME_UNKNOWN"},
		{"unknown repository, blob", "GET", "/v2/no/such/repo/blobs/sha256:" + strings.Repeat("0", 64), nil, "", 404, "NAME_UNKNOWN"},
		{"unknown repository, tags", "GET", "/v2/no/such/repo/tags/list", nil, "", 404, "NAME_UNKNOWN"},
		{"unknown manifest", "GET", "/v2/bad/input/manifests/v9", nil, "", 404, "MANIFEST_UNKNOWN"},
		{"unknown blob", "GET", "/v2/bad/input/blobs/sha256:" + strings.Repeat("0", 64), nil, "", 404, "BLOB_UNKNOWN"},
		{"forged upload session", "PATCH", "/v2/bad/input/blobs/uploads/00000000-0000-0000-0000-000000000000", []byte("x"), "application/octet-stream", 404, "BLOB_UPLOAD_UNKNOWN"},
		{"negative page size, tags", "GET", "/v2/bad/input/tags/list?n=-1", nil, "", 400, "PAGINATION_NUMBER_INVALID"},
		{"negative page size, catalog", "GET", "/v2/_catalog?n=-1", nil, "", 400, "PAGINATION_NUMBER_INVALID"},
		{"huge page size, catalog", "GET", "/v2/_catalog?n=100000000", nil, "", 400, "PAGINATION_NUMBER_INVALID"},
		{"method not allowed", "POST", "/v2/bad/input/manifests/v1", other, ociManifest, 405, "UNSUPPORTED"},
		{"empty artifactType filter", "GET", "/v2/bad/input/referrers/" + goodDigest.String() + "?artifactType=", nil, "", 405, "UNSUPPORTED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr := map[string]string{}
			if tt.ctype != "" {
				hdr["Content-Type"] = tt.ctype
			}
			code, _, body := do(t, tt.method, base+tt.path, tt.body, hdr)
			var e struct {
				Errors []struct {
					Code    string `json:"code"`
					Message string `json:"message"`
				} `json:"errors"`
			}
			_ = json.Unmarshal(body, &e)
			if code != tt.status || len(e.Errors) == 0 || e.Errors[0].Code != tt.code {
				t.Fatalf("%s %s: got %d %s; want %d %s", tt.method, tt.path[:min(len(tt.path), 80)], code, body, tt.status, tt.code)
			}
			if e.Errors[0].Message == "" {
				t.Fatalf("error without a message: %s", body)
			}
		})
	}

	// Nothing stored changed.
	code, _, body = do(t, http.MethodGet, base+"/v2/"+repo+"/manifests/v1", nil, map[string]string{"Accept": ociManifest})
	mustf(t, code == http.StatusOK && bytes.Equal(body, good), "v1 changed after bad input: %d %s", code, body)
	idx, _ := referrersOf(t, base, repo, goodDigest.String(), "")
	mustf(t, len(idx.Manifests) == 1 && idx.Manifests[0].Digest == digest.FromBytes(referrer).String(), "referrers changed after bad input: %+v", idx.Manifests)
	code, _, body = do(t, http.MethodGet, base+"/v2/"+repo+"/tags/list", nil, nil)
	mustf(t, code == http.StatusOK && strings.Contains(string(body), `"tags":["v1"]`), "tags changed after bad input: %s", body)
	for _, q := range []string{"", "?n=1", "?n=1000"} {
		code, _, body = do(t, http.MethodGet, base+"/v2/_catalog"+q, nil, nil)
		mustf(t, code == http.StatusOK && strings.Contains(string(body), `"bad/input"`), "_catalog%s: %d %s", q, code, body)
	}
}

// tryImageManifest is imageManifest for use off the test goroutine: it
// reports failure instead of failing the test.
func tryImageManifest(base, repo string, layer []byte) ([]byte, bool) {
	for _, blob := range [][]byte{[]byte("{}"), layer} {
		res, err := http.Post(base+"/v2/"+repo+"/blobs/uploads/?digest="+digest.FromBytes(blob).String(), "application/octet-stream", bytes.NewReader(blob))
		if err != nil {
			return nil, false
		}
		res.Body.Close()
		if res.StatusCode != http.StatusCreated {
			return nil, false
		}
	}
	m, err := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     ociManifest,
		"config":        map[string]any{"mediaType": "application/vnd.oci.empty.v1+json", "digest": digest.FromBytes([]byte("{}")), "size": 2},
		"layers":        []any{map[string]any{"mediaType": "application/octet-stream", "digest": digest.FromBytes(layer), "size": len(layer)}},
	})
	return m, err == nil
}

// putManifest pushes a manifest by tag and returns the status.
func putManifest(base, repo, tag string, m []byte) (int, error) {
	req, err := http.NewRequest(http.MethodPut, base+"/v2/"+repo+"/manifests/"+tag, bytes.NewReader(m))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", ociManifest)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	res.Body.Close()
	return res.StatusCode, nil
}
