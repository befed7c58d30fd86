package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/api"
	"github.com/cairn-dev/cairn/client"
)

func TestHumanSize(t *testing.T) {
	for n, want := range map[int64]string{
		0: "0 B", 512: "512 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB",
		1258291: "1.2 MiB", 1048575: "1.0 MiB", 5 << 30: "5.0 GiB", 3 << 40: "3.0 TiB",
	} {
		if got := humanSize(n); got != want {
			t.Errorf("humanSize(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestAgo(t *testing.T) {
	now := time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC)
	for d, want := range map[time.Duration]string{
		-time.Minute: "just now", 0: "just now", time.Second: "1 second ago", 42 * time.Second: "42 seconds ago",
		time.Minute: "1 minute ago", 59 * time.Minute: "59 minutes ago", 2 * time.Hour: "2 hours ago",
		26 * time.Hour: "1 day ago", 30 * 24 * time.Hour: "30 days ago",
	} {
		if got := ago(now.Add(-d), now); got != want {
			t.Errorf("ago(%v) = %q, want %q", d, got, want)
		}
	}
	old := time.Date(2024, 6, 1, 12, 0, 0, 0, time.Local)
	if got := ago(old, now); got != "2024-06-01" {
		t.Errorf("ago(old) = %q", got)
	}
	if got := ago(time.Time{}, now); got != "-" {
		t.Errorf("ago(zero) = %q", got)
	}
}

func TestCellAndDigest(t *testing.T) {
	if got := cell("a\tb\nc", 0); got != "a b c" {
		t.Errorf("cell = %q", got)
	}
	if got := cell("", 0); got != "-" {
		t.Errorf("empty cell = %q", got)
	}
	if got := cell("ééééé", 4); got != "ééé…" {
		t.Errorf("cut cell = %q", got)
	}
	d := "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	if got := shortDigest(d); got != "sha256:0123456789ab" || len(got) != 19 {
		t.Errorf("shortDigest = %q", got)
	}
	if got := shortDigest("nonsense"); got != "nonsense" {
		t.Errorf("shortDigest(nonsense) = %q", got)
	}
}

func TestTableColumns(t *testing.T) {
	got := tableColumns([]string{"org.example.year>=2024", "!org.example.draft", "org.example.model=a|b", "org.example.year<2030", "bad key=1"},
		[]string{"org.opencontainers.image.title", "org.example.model", ""})
	want := []string{"org.example.year", "org.example.model", "org.opencontainers.image.title"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestWriteTable(t *testing.T) {
	now := time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC)
	arts := []client.Artifact{
		{Artifact: api.Artifact{
			Repository: "datasets/neurips", Digest: "sha256:8773f598a39493c114720b34eb4836973dfec995ad2212e4fd052f91e607ca26",
			MediaType: "application/vnd.oci.image.manifest.v1+json", ArtifactType: "application/vnd.cairn.embeddings.v1",
			Size: 1258291, Tags: []string{}, Annotations: map[string]string{"org.example.year": "2024", "org.example.model": "qwen3\tx"},
			PushedAt: now.Add(-2 * time.Hour),
		}},
		{Artifact: api.Artifact{
			Repository: "models/llama", Digest: "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
			MediaType: "application/vnd.oci.image.manifest.v1+json",
			Size:      512, Tags: []string{"latest", "v1"}, Annotations: map[string]string{},
			PushedAt: now.Add(-3 * time.Minute), Signed: true,
		}},
	}
	var buf bytes.Buffer
	if err := writeTable(&buf, arts, []string{"org.example.year", "org.example.model"}, now); err != nil {
		t.Fatal(err)
	}
	want := strings.Join([]string{
		"REPOSITORY        TAGS       DIGEST               TYPE                                        SIZE     PUSHED         SIGNED  org.example.year  org.example.model",
		"datasets/neurips  -          sha256:8773f598a394  application/vnd.cairn.embeddings.v1         1.2 MiB  2 hours ago    no      2024              qwen3 x",
		"models/llama      latest,v1  sha256:0123456789ab  application/vnd.oci.image.manifest.v1+json  512 B    3 minutes ago  yes     -                 -",
		"",
	}, "\n")
	if buf.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", buf.String(), want)
	}
}

// TestSearchCommand runs cairn search against a fake server: flags become
// parameters, pages are followed, --json prints the server's objects and
// server errors come back as their message.
func TestSearchCommand(t *testing.T) {
	var queries []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		queries = append(queries, r.URL.RawQuery)
		w.Header().Set("Content-Type", "application/json")
		q := r.URL.Query()
		if q.Get("tag") == ".bad" {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error":{"code":"INVALID_PARAMETER","message":"tag \".bad\" is not a valid tag","detail":{"parameter":"tag"}}}`)
			return
		}
		page := `{"artifacts":[{"repository":"a/one","digest":"sha256:` + strings.Repeat("1", 64) + `","mediaType":"m","size":1,"tags":[],"annotations":{},"layers":[],"pushedAt":"2024-01-01T00:00:00Z","future":true}],"nextPageToken":"p2"}`
		if q.Get("page_token") == "p2" {
			page = `{"artifacts":[{"repository":"a/two","digest":"sha256:` + strings.Repeat("2", 64) + `","mediaType":"m","size":2,"tags":["t"],"annotations":{"k":"v"},"layers":[],"pushedAt":"2024-01-01T00:00:00Z"}]}`
		}
		fmt.Fprint(w, page)
	}))
	defer srv.Close()

	run := func(args ...string) (string, string, error) {
		cmd := newRootCmd()
		var out, errOut bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&errOut)
		cmd.SetArgs(append([]string{"search", "--server", srv.URL}, args...))
		err := cmd.Execute()
		return out.String(), errOut.String(), err
	}

	out, _, err := run("-a", "k=v", "--annotation", "n>=2", "--type", "T", "--repo", "a/one", "--repo-prefix", "a/", "--tag", "t",
		"-q", "text", "--subject", "sha256:x", "--sort", "-size", "--limit", "1", "--json")
	if err != nil {
		t.Fatal(err)
	}
	if want := "annotation=k%3Dv&annotation=n%3E%3D2&artifact_type=T&limit=1&q=text&repository=a%2Fone&repository_prefix=a%2F&sort=-size&subject=sha256%3Ax&tag=t"; queries[0] != want {
		t.Errorf("query\n%s\nwant\n%s", queries[0], want)
	}
	var got []map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil || len(got) != 2 || got[0]["future"] != true || got[1]["repository"] != "a/two" {
		t.Errorf("--json printed %v (%v):\n%s", got, err, out)
	}

	queries = nil
	out, errOut, err := run("--max", "1", "--show", "k")
	if err != nil {
		t.Fatal(err)
	}
	if len(queries) != 1 || !strings.Contains(queries[0], "limit=1") {
		t.Errorf("queries %q", queries)
	}
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 2 || !strings.HasPrefix(lines[0], "REPOSITORY") || !strings.HasSuffix(lines[0], " k") || !strings.HasPrefix(lines[1], "a/one ") {
		t.Errorf("table:\n%s", out)
	}
	if !strings.Contains(errOut, "more match") {
		t.Errorf("no note that more match: %q", errOut)
	}

	if _, _, err := run("--tag", ".bad"); err == nil || err.Error() != `tag ".bad" is not a valid tag` {
		t.Errorf("server error: %v", err)
	}
	if _, _, err := run("--max", "-1"); err == nil {
		t.Error("--max -1 accepted")
	}
}
