package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
)

// lineageAnswer is the part of GET /api/v1/lineage/… the tests read.
type lineageAnswer struct {
	Root  string `json:"root"`
	Nodes []struct {
		Ref          string `json:"ref"`
		ArtifactType string `json:"artifactType"`
		Present      bool   `json:"present"`
		Depth        int    `json:"depth"`
		Attachments  []struct {
			Digest       string `json:"digest"`
			ArtifactType string `json:"artifactType"`
		} `json:"attachments"`
	} `json:"nodes"`
	Edges []struct {
		Child, Parent, Kind string
	} `json:"edges"`
}

func getLineage(t *testing.T, c *cairn, path string) lineageAnswer {
	t.Helper()
	code, _, body := do(t, http.MethodGet, c.url("/api/v1/lineage/"+path), nil, nil)
	mustf(t, code == http.StatusOK, "lineage %s: %d %s", path, code, body)
	var a lineageAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		t.Fatalf("lineage %s: %v\n%s", path, err, body)
	}
	return a
}

func (a lineageAnswer) refs() []string {
	var out []string
	for _, n := range a.Nodes {
		out = append(out, n.Ref)
	}
	slices.Sort(out)
	return out
}

// TestLineageWithOras is the paper-database chain pushed with oras alone:
// a database, embeddings derived from it (by annotation, in another
// repository), a cluster cache attached to the embeddings and a signature
// (an artifact of cosign's signature type) attached to the cache. The walk
// finds the chain both ways, reports the signature on its node, and the
// impact of the database lists what to rebuild.
func TestLineageWithOras(t *testing.T) {
	lineageScenario(t, startCairn(t))
}

// TestLineageOverZot is TestLineageWithOras with cairn in front of a real
// zot (ZOT_BIN).
func TestLineageOverZot(t *testing.T) {
	zot := os.Getenv("ZOT_BIN")
	if zot == "" {
		t.Skip("SKIPPED: ZOT_BIN is not set; this test needs a zot binary (see README, 'Testing against zot')")
	}
	lineageScenario(t, startCairn(t, "--upstream", "http://"+startZot(t, zot)))
}

func lineageScenario(t *testing.T, c *cairn) {
	h := c.addr
	writeFile(t, c.workDir, "papers.db", []byte("SQLite format 3\x00 papers"))
	writeFile(t, c.workDir, "emb.npy", []byte("\x93NUMPY embeddings"))
	writeFile(t, c.workDir, "clusters.json", []byte(`{"k":8}`))
	writeFile(t, c.workDir, "sig.json", []byte(`{"critical":{}}`))

	db := parsePushed(t, c.run("oras", "push", "--plain-http", "--format", "json", h+"/abstracts/neurips:2024",
		"papers.db", "--artifact-type", datasetType)).Digest
	emb := parsePushed(t, c.run("oras", "push", "--plain-http", "--format", "json", h+"/abstracts/neurips-embeddings:2024-qwen3",
		"emb.npy", "--artifact-type", embeddingsType,
		"-a", "dev.cairn.lineage.derived-from=abstracts/neurips@"+db)).Digest
	cache := parsePushed(t, c.run("oras", "attach", "--plain-http", "--format", "json", h+"/abstracts/neurips-embeddings:2024-qwen3",
		"clusters.json", "--artifact-type", "application/vnd.example.clusters.v1+json")).Digest
	sig := parsePushed(t, c.run("oras", "attach", "--plain-http", "--format", "json", h+"/abstracts/neurips-embeddings@"+cache,
		"sig.json", "--artifact-type", "application/vnd.dev.cosign.artifact.sig.v1+json")).Digest

	dbRef := "abstracts/neurips@" + db
	embRef := "abstracts/neurips-embeddings@" + emb
	cacheRef := "abstracts/neurips-embeddings@" + cache
	sigRef := "abstracts/neurips-embeddings@" + sig
	all := []string{dbRef, embRef, cacheRef}
	slices.Sort(all)

	up := getLineage(t, c, cacheRef+"?direction=up")
	mustf(t, slices.Equal(up.refs(), all), "upward from the cache: %v, want %v", up.refs(), all)
	mustf(t, len(up.Edges) == 2, "upward edges: %+v", up.Edges)

	down := getLineage(t, c, "abstracts/neurips:2024?direction=down")
	mustf(t, down.Root == dbRef && slices.Equal(down.refs(), all), "downward from the database: %s %v", down.Root, down.refs())
	for _, n := range down.Nodes {
		switch n.Ref {
		case cacheRef:
			mustf(t, n.Depth == 2 && len(n.Attachments) == 1 && n.Attachments[0].Digest == sig,
				"the cache's node: depth %d, attachments %+v", n.Depth, n.Attachments)
		case sigRef:
			t.Errorf("the signature is a node of the walk: %+v", n)
		}
	}
	with := getLineage(t, c, dbRef+"?direction=down&include=attachments")
	mustf(t, slices.Contains(with.refs(), sigRef), "include=attachments leaves the signature out: %v", with.refs())
	// A real cosign signature (its default form: the sha256-<hex>.sig tag,
	// no subject) appears as an attachment of the embeddings' node, not as
	// a lineage child.
	t.Setenv("COSIGN_PASSWORD", "")
	c.run("cosign", "generate-key-pair")
	c.run("cosign", "sign", "--key", "cosign.key", "--tlog-upload=false", "--yes", h+"/"+embRef)
	signed := getLineage(t, c, dbRef+"?direction=down")
	mustf(t, slices.Equal(signed.refs(), all), "downward after cosign sign: %v, want %v", signed.refs(), all)
	for _, n := range signed.Nodes {
		if n.Ref == embRef {
			mustf(t, len(n.Attachments) == 1 && n.Attachments[0].ArtifactType == "application/vnd.dev.cosign.artifact.sig.v1+json",
				"the embeddings' node after cosign sign: attachments %+v", n.Attachments)
		}
	}
	one := getLineage(t, c, dbRef+"?direction=down&depth=1")
	mustf(t, slices.Equal(one.refs(), []string{embRef, dbRef}) || slices.Equal(one.refs(), []string{dbRef, embRef}), "depth 1: %v", one.refs())

	code, _, body := do(t, http.MethodGet, c.url("/api/v1/lineage/"+dbRef+"/impact"), nil, nil)
	mustf(t, code == http.StatusOK, "impact: %d %s", code, body)
	var impact struct {
		Total  int `json:"total"`
		Levels []struct {
			Depth     int `json:"depth"`
			Artifacts []struct {
				Ref string `json:"ref"`
			} `json:"artifacts"`
		} `json:"levels"`
	}
	mustf(t, json.Unmarshal(body, &impact) == nil, "impact: %s", body)
	mustf(t, impact.Total == 2 && len(impact.Levels) == 2 && impact.Levels[0].Artifacts[0].Ref == embRef && impact.Levels[1].Artifacts[0].Ref == cacheRef,
		"impact of the database: %s", body)

	code, hdr, body := do(t, http.MethodGet, c.url("/api/v1/lineage/"+cacheRef+"?format=dot"), nil, nil)
	mustf(t, code == http.StatusOK && strings.HasPrefix(hdr.Get("Content-Type"), "text/vnd.graphviz") && strings.Contains(string(body), "derived-from"),
		"dot: %d %s", code, body)
	code, _, body = do(t, http.MethodGet, c.url("/api/v1/lineage/"+cacheRef+"?format=mermaid"), nil, nil)
	mustf(t, code == http.StatusOK && strings.HasPrefix(string(body), "flowchart BT") && strings.Contains(string(body), "-->|subject|"),
		"mermaid: %d %s", code, body)

	// The command line draws the same graph.
	server := "--server=" + c.url("")
	tree := c.runCairn("lineage", server, "abstracts/neurips-embeddings:2024-qwen3")
	t.Logf("cairn lineage:\n%s", tree)
	for _, want := range []string{
		"abstracts/neurips-embeddings:2024-qwen3  (" + embeddingsType,
		"-> derived-from: abstracts/neurips:2024",
		"<- subject: abstracts/neurips-embeddings@sha256:" + strings.TrimPrefix(cache, "sha256:")[:12],
		"attached application/vnd.dev.cosign.artifact.sig.v1+json",
	} {
		mustf(t, strings.Contains(tree, want), "cairn lineage lacks %q:\n%s", want, tree)
	}
	js := c.runCairn("lineage", server, "--up", "--format", "json", cacheRef)
	mustf(t, strings.Contains(js, `"root": "`+cacheRef+`"`) && strings.Contains(js, dbRef), "cairn lineage --up --format json:\n%s", js)
	mm := c.runCairn("lineage", server, "--down", "--format", "mermaid", dbRef)
	mustf(t, strings.HasPrefix(mm, "flowchart BT"), "cairn lineage --format mermaid:\n%s", mm)

	// Deleting the database is refused, naming what was derived from it;
	// so is deleting the embeddings, which the cache is attached to.
	code, _, body = do(t, http.MethodDelete, c.url("/v2/abstracts/neurips/manifests/"+db), nil, nil)
	mustf(t, code == http.StatusForbidden && strings.Contains(string(body), `"DENIED"`) && strings.Contains(string(body), embRef) &&
		strings.Contains(string(body), `"count":1`), "deleting the database: %d %s", code, body)
	out, err := c.tryRun("oras", "manifest", "delete", "--plain-http", "--force", h+"/abstracts/neurips-embeddings@"+emb)
	mustf(t, err != nil && strings.Contains(strings.ToLower(out), "denied") && strings.Contains(out, cacheRef), "oras deleting the embeddings: %v %s", err, out)
	code, _, _ = do(t, http.MethodGet, c.url("/v2/abstracts/neurips/manifests/"+db), nil, map[string]string{"Accept": "application/vnd.oci.image.manifest.v1+json"})
	mustf(t, code == http.StatusOK, "the database after a refused delete: %d", code)
	code, _, body = do(t, http.MethodDelete, c.url("/v2/abstracts/neurips/manifests/"+db+"?cascade=maybe"), nil, nil)
	mustf(t, code == http.StatusBadRequest || code == http.StatusMethodNotAllowed, "cascade=maybe: %d %s", code, body)

	// Deleting the cache (a signature attached to it does not hold it)
	// shrinks the graph.
	c.run("oras", "manifest", "delete", "--plain-http", "--force", h+"/abstracts/neurips-embeddings@"+cache)
	down = getLineage(t, c, dbRef+"?direction=down")
	mustf(t, slices.Equal(down.refs(), []string{dbRef, embRef}) || slices.Equal(down.refs(), []string{embRef, dbRef}), "after deleting the cache: %v", down.refs())

	// A cascade deletes what is attached by subject, and says so; what
	// was derived from the artifact still holds it.
	cache2 := parsePushed(t, c.run("oras", "attach", "--plain-http", "--format", "json", h+"/abstracts/neurips-embeddings@"+emb,
		"clusters.json", "--artifact-type", "application/vnd.example.clusters.v1+json", "-a", "k=16")).Digest
	code, _, body = do(t, http.MethodDelete, c.url("/v2/abstracts/neurips-embeddings/manifests/"+emb+"?cascade=true"), nil, nil)
	mustf(t, code == http.StatusAccepted && strings.Contains(string(body), cache2) && strings.Contains(string(body), emb), "cascade: %d %s", code, body)
	code, _, _ = do(t, http.MethodGet, c.url("/v2/abstracts/neurips-embeddings/manifests/"+cache2), nil, map[string]string{"Accept": "application/vnd.oci.image.manifest.v1+json"})
	mustf(t, code == http.StatusNotFound, "the attached cache after the cascade: %d", code)
	code, _, body = do(t, http.MethodDelete, c.url("/v2/abstracts/neurips/manifests/"+db), nil, nil)
	mustf(t, code == http.StatusAccepted, "deleting the database once nothing depends on it: %d %s", code, body)

	for _, bad := range []struct{ path, param string }{
		{dbRef + "?direction=sideways", "direction"},
		{dbRef + "?depth=-1", "depth"},
		{dbRef + "?format=svg", "format"},
		{dbRef + "?include=everything", "include"},
		{dbRef + "/impact?direction=up", "direction"},
		{"abstracts/neurips", "reference"},
	} {
		code, _, body := do(t, http.MethodGet, c.url("/api/v1/lineage/"+bad.path), nil, nil)
		mustf(t, code == http.StatusBadRequest && strings.Contains(string(body), `"parameter":"`+bad.param+`"`), "%s: %d %s", bad.path, code, body)
	}
	code, _, body = do(t, http.MethodGet, c.url("/api/v1/lineage/abstracts/neurips:1999"), nil, nil)
	mustf(t, code == http.StatusNotFound && strings.Contains(string(body), "NOT_FOUND"), "unknown tag: %d %s", code, body)
}
