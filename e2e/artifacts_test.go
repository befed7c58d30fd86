package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const (
	datasetType    = "application/vnd.cairn.dataset.v1"
	embeddingsType = "application/vnd.cairn.embeddings.v1"
	notesType      = "application/vnd.cairn.notes.v1"
)

// pushed is what oras prints with --format json.
type pushed struct {
	Digest       string `json:"digest"`
	ArtifactType string `json:"artifactType"`
}

func parsePushed(t *testing.T, out string) pushed {
	t.Helper()
	var p pushed
	if err := json.Unmarshal([]byte(out), &p); err != nil || p.Digest == "" {
		t.Fatalf("oras output is not the JSON expected: %v\n%s", err, out)
	}
	return p
}

// referrersOf asks the referrers API directly.
func referrersOf(t *testing.T, base, repo, dgst, artifactType string) (index struct {
	MediaType string `json:"mediaType"`
	Manifests []struct {
		Digest       string            `json:"digest"`
		ArtifactType string            `json:"artifactType"`
		Annotations  map[string]string `json:"annotations"`
	} `json:"manifests"`
}, header http.Header) {
	t.Helper()
	u := base + "/v2/" + repo + "/referrers/" + dgst
	if artifactType != "" {
		u += "?artifactType=" + artifactType
	}
	code, h, body := do(t, http.MethodGet, u, nil, nil)
	mustf(t, code == http.StatusOK, "referrers: %d %s", code, body)
	mustf(t, strings.HasPrefix(h.Get("Content-Type"), "application/vnd.oci.image.index.v1+json"), "referrers Content-Type %q", h.Get("Content-Type"))
	if err := json.Unmarshal(body, &index); err != nil {
		t.Fatalf("referrers body: %v\n%s", err, body)
	}
	return index, h
}

// pushDataset pushes the dataset of the README's walk-through and attaches
// embeddings and notes to it. It returns the three digests.
func pushDataset(t *testing.T, c *cairn, host string) (dataset, emb, notes string) {
	t.Helper()
	ref := host + "/datasets/abstracts:neurips-2024"
	writeFile(t, c.workDir, "papers.db", []byte("SQLite format 3\x00 papers of neurips 2024"))
	writeFile(t, c.workDir, "emb.json", []byte(`{"model":"qwen3","dims":4,"vectors":[[0.1,0.2,0.3,0.4]]}`))
	writeFile(t, c.workDir, "notes.txt", []byte("made on a Tuesday"))
	out := c.run("oras", "push", "--plain-http", "--format", "json", ref,
		"papers.db:application/vnd.cairn.dataset.layer.v1",
		"--artifact-type", datasetType,
		"-a", "org.example.conference=neurips", "-a", "org.example.year=2024")
	dataset = parsePushed(t, out).Digest
	out = c.run("oras", "attach", "--plain-http", "--format", "json", ref, "--artifact-type", embeddingsType, "emb.json",
		"-a", "org.example.model=qwen3")
	emb = parsePushed(t, out).Digest
	out = c.run("oras", "attach", "--plain-http", "--format", "json", ref, "--artifact-type", notesType, "notes.txt")
	notes = parsePushed(t, out).Digest
	return dataset, emb, notes
}

// TestDatasetWalkthrough is the README's walk-through with the real oras and
// regctl: push, attach, discover through the referrers API, filter, pull,
// delete, restart.
func TestDatasetWalkthrough(t *testing.T) {
	c := startCairn(t)
	dataset, emb, notes := pushDataset(t, c, c.addr)
	ref := c.addr + "/datasets/abstracts:neurips-2024"

	// oras discover lists both referrers.
	out := c.run("oras", "discover", "--plain-http", "--format", "json", ref)
	for _, d := range []string{emb, notes} {
		mustf(t, strings.Contains(out, d), "oras discover does not list %s:\n%s", d, out)
	}
	mustf(t, strings.Contains(out, embeddingsType), "oras discover does not show the embeddings type:\n%s", out)

	// No fallback tags: the referrers API was used, so the only tag is the
	// one pushed.
	code, _, body := do(t, http.MethodGet, c.url("/v2/datasets/abstracts/tags/list"), nil, nil)
	mustf(t, code == http.StatusOK, "tags list: %d %s", code, body)
	var tags struct {
		Tags []string `json:"tags"`
	}
	if err := json.Unmarshal(body, &tags); err != nil {
		t.Fatal(err)
	}
	mustf(t, slices.Equal(tags.Tags, []string{"neurips-2024"}), "tags are %v, want only neurips-2024 (a sha256-… tag means a client fell back to the tag schema)", tags.Tags)

	// regctl filters by artifact type.
	c.regctlHost(c.addr)
	out = c.run("regctl", "artifact", "list", "--filter-artifact-type", embeddingsType, "--format", "{{json .}}", ref)
	mustf(t, strings.Contains(out, emb), "regctl artifact list lacks the embeddings %s:\n%s", emb, out)
	mustf(t, !strings.Contains(out, notes), "regctl artifact list with a filter still lists the notes %s:\n%s", notes, out)

	// The API itself: filter applied and said so.
	idx, h := referrersOf(t, "http://"+c.addr, "datasets/abstracts", dataset, embeddingsType)
	mustf(t, h.Get("OCI-Filters-Applied") == "artifactType", "OCI-Filters-Applied is %q", h.Get("OCI-Filters-Applied"))
	mustf(t, len(idx.Manifests) == 1 && idx.Manifests[0].Digest == emb, "filtered referrers: %+v", idx.Manifests)
	mustf(t, idx.Manifests[0].Annotations["org.example.model"] == "qwen3", "referrer annotations: %v", idx.Manifests[0].Annotations)

	// Pull gives back the same bytes.
	pullDir := filepath.Join(c.workDir, "pulled")
	c.run("oras", "pull", "--plain-http", "-o", pullDir, ref)
	got, err := os.ReadFile(filepath.Join(pullDir, "papers.db"))
	mustf(t, err == nil && string(got) == "SQLite format 3\x00 papers of neurips 2024", "pulled papers.db: %v %q", err, got)

	// Restart: everything is still there.
	c.restart()
	idx, _ = referrersOf(t, "http://"+c.addr, "datasets/abstracts", dataset, "")
	mustf(t, len(idx.Manifests) == 2, "after restart: %d referrers, want 2", len(idx.Manifests))
	c.run("oras", "manifest", "fetch", "--plain-http", ref)

	// Deleting a referrer removes it from the referrers answer.
	c.run("oras", "manifest", "delete", "--plain-http", "--force", c.addr+"/datasets/abstracts@"+notes)
	idx, _ = referrersOf(t, "http://"+c.addr, "datasets/abstracts", dataset, "")
	mustf(t, len(idx.Manifests) == 1 && idx.Manifests[0].Digest == emb, "after delete: %+v", idx.Manifests)

	// Deleting the tag leaves the manifest reachable by digest.
	c.run("regctl", "tag", "delete", ref)
	code, _, _ = do(t, http.MethodGet, c.url("/v2/datasets/abstracts/manifests/neurips-2024"), nil, nil)
	mustf(t, code == http.StatusNotFound, "deleted tag still resolves: %d", code)
	c.run("oras", "manifest", "fetch", "--plain-http", c.addr+"/datasets/abstracts@"+dataset)
}

// TestReferrersOfUnknownDigest: a digest never pushed has an empty index,
// not a 404, even in a repository that does not exist.
func TestReferrersOfUnknownDigest(t *testing.T) {
	c := startCairn(t)
	idx, _ := referrersOf(t, "http://"+c.addr, "nobody/here", "sha256:"+strings.Repeat("ab", 32), "")
	mustf(t, idx.Manifests != nil && len(idx.Manifests) == 0, "want an empty manifests list, got %+v", idx.Manifests)
}
