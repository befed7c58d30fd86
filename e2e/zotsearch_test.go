package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// The data BenchmarkRepositorySearchVsZot pushes: searchLabs labs of
// searchReposPerLab repositories each, named lab07/embed-357, plus a few
// "mirror/lab07-embed-…" repositories that zot's matching also returns for
// the query "lab07/" (see zotSearchExtra).
const (
	searchLabs        = 10
	searchReposPerLab = 50
	searchMirrors     = 5
	searchPushers     = 8
)

// BenchmarkRepositorySearchVsZot times a repository-name search answered by
// cairn's catalog API (GET /api/v1/repositories?prefix=) and by zot's search
// extension (GraphQL GlobalSearch, RepoListWithNewestImage) over the same
// data: zot is the upstream that stores the bytes, cairn fronts it and
// indexes every manifest pushed through it.
//
// ZOT_SEARCH_BIN names a zot built with the search extension (build tag
// "search"); without it the benchmark is skipped.
func BenchmarkRepositorySearchVsZot(b *testing.B) {
	bin := os.Getenv("ZOT_SEARCH_BIN")
	if bin == "" {
		b.Skip("SKIPPED: ZOT_SEARCH_BIN is not set; this benchmark needs a zot built with the search extension (go build -tags containers_image_openpgp,search ./cmd/zot)")
	}
	zot := startSearchZot(b, bin)
	// No periodic reconcile walk: it would run during the timed queries.
	front := startBenchCairn(b, "--upstream", zot, "--reconcile-interval", "0")

	start := time.Now()
	manifests := seedSearchData(b, front)
	b.Logf("seeded %d repositories, %d manifests through cairn into zot in %s",
		searchLabs*searchReposPerLab+searchMirrors, manifests, time.Since(start).Round(time.Second))

	cases := []struct {
		name string
		// prefix is cairn's prefix= (empty: every repository); query is
		// zot's GlobalSearch text (empty: RepoListWithNewestImage).
		prefix, query string
		// zotSearchExtra are names zot answers and cairn's prefix does not.
		// zot's GlobalSearch is not a prefix match: for a query of one path
		// segment ("lab07/" is trimmed to "lab07") it matches any repository
		// whose last or first segment contains the text, so
		// "mirror/lab07-embed-000" is a hit. The query "lab07/embed-357"
		// has two segments and zot then needs the leading segments to be
		// equal, so there both must agree exactly.
		zotSearchExtra []string
	}{
		{name: "prefix-lab", prefix: "lab07/", query: "lab07/", zotSearchExtra: mirrorNames()},
		{name: "prefix-one", prefix: "lab07/embed-357", query: "lab07/embed-357"},
		{name: "all", prefix: "", query: ""},
	}
	ratios := map[string][2]float64{}
	for _, c := range cases {
		cairnNames, cairnSizes := cairnRepositories(b, front, c.prefix)
		zotNames, zotSizes := zotRepositories(b, zot, c.query)
		want := append(slices.Clone(cairnNames), c.zotSearchExtra...)
		slices.Sort(want)
		if !slices.Equal(zotNames, want) {
			b.Fatalf("%s: zot and cairn disagree on the repositories\nzot (%d):   %v\ncairn (%d): %v\nzot's expected extras: %v",
				c.name, len(zotNames), zotNames, len(cairnNames), cairnNames, c.zotSearchExtra)
		}
		if len(cairnNames) == 0 {
			b.Fatalf("%s: no repository matches", c.name)
		}
		n := cairnNames[0]
		b.Logf("%s: %d repositories on cairn, %d on zot; %s: size %d bytes on cairn, %s on zot",
			c.name, len(cairnNames), len(zotNames), n, cairnSizes[n], zotSizes[n])

		var p50s [2]float64
		b.Run(c.name+"/cairn", func(b *testing.B) {
			p50s[0] = measureSearch(b, func() int {
				names, _ := cairnRepositories(b, front, c.prefix)
				return len(names)
			})
		})
		b.Run(c.name+"/zot", func(b *testing.B) {
			p50s[1] = measureSearch(b, func() int {
				names, _ := zotRepositories(b, zot, c.query)
				return len(names)
			})
		})
		ratios[c.name] = p50s
	}
	for _, c := range cases {
		r := ratios[c.name]
		if r[0] > 0 {
			b.Logf("%s: p50 cairn %.3f ms, zot %.3f ms, zot/cairn %.2f", c.name, r[0], r[1], r[1]/r[0])
		}
	}
}

// measureSearch runs query b.N times, timing each call, and reports the
// p50 and p99 in milliseconds (nearest rank, as catalog/storetest does) and
// the repositories answered per call; it returns the p50.
func measureSearch(b *testing.B, query func() int) float64 {
	b.Helper()
	durations := make([]time.Duration, 0, b.N)
	rows := 0
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		rows += query()
		durations = append(durations, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(durations)
	p50 := searchPercentile(durations, 50)
	b.ReportMetric(p50, "p50-ms")
	b.ReportMetric(searchPercentile(durations, 99), "p99-ms")
	b.ReportMetric(float64(rows)/float64(b.N), "repos/op")
	return p50
}

func searchPercentile(sorted []time.Duration, p int) float64 {
	if len(sorted) == 0 {
		return 0
	}
	k := max((p*len(sorted)+99)/100-1, 0)
	return float64(sorted[k]) / float64(time.Millisecond)
}

// searchClient keeps connections open across the many requests of seeding
// and timing.
var searchClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2 * searchPushers}}

// searchDo sends one request and returns the status, headers and body; it
// fails tb when the request cannot be sent.
func searchDo(tb testing.TB, method, u, contentType string, body []byte) (int, http.Header, []byte) {
	tb.Helper()
	code, hdr, b, err := searchSend(method, u, contentType, body)
	if err != nil {
		tb.Fatal(err)
	}
	return code, hdr, b
}

// searchSend sends one request and returns the status, headers and body.
func searchSend(method, u, contentType string, body []byte) (int, http.Header, []byte, error) {
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		return 0, nil, nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := searchClient.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, b, err
}

// cairnRepositories asks cairn for the repositories under prefix (all of
// them if prefix is empty) and returns their sorted names and sizes.
func cairnRepositories(tb testing.TB, base, prefix string) ([]string, map[string]int64) {
	tb.Helper()
	q := url.Values{"limit": {"1000"}}
	if prefix != "" {
		q.Set("prefix", prefix)
	}
	code, _, body := searchDo(tb, http.MethodGet, base+"/api/v1/repositories?"+q.Encode(), "", nil)
	if code != http.StatusOK {
		tb.Fatalf("cairn repositories %q: %d %s", prefix, code, body)
	}
	var ans struct {
		Repositories []struct {
			Name string `json:"name"`
			Size int64  `json:"size"`
		} `json:"repositories"`
		NextPageToken string `json:"nextPageToken"`
	}
	if err := json.Unmarshal(body, &ans); err != nil {
		tb.Fatalf("cairn repositories: %v: %s", err, body)
	}
	if ans.NextPageToken != "" {
		tb.Fatalf("cairn repositories %q: more than one page", prefix)
	}
	names := make([]string, 0, len(ans.Repositories))
	sizes := map[string]int64{}
	for _, r := range ans.Repositories {
		names = append(names, r.Name)
		sizes[r.Name] = r.Size
	}
	slices.Sort(names)
	return names, sizes
}

// zotRepositories asks zot's search extension for the repositories that
// match query (GlobalSearch), or for every repository (RepoListWithNewestImage)
// when query is empty, and returns their sorted names and sizes.
func zotRepositories(tb testing.TB, base, query string) ([]string, map[string]string) {
	tb.Helper()
	type repo struct {
		Name        string
		LastUpdated string
		Size        string
	}
	type page struct{ TotalCount, ItemCount int }
	var gql string
	if query == "" {
		gql = `{ RepoListWithNewestImage { Page { TotalCount ItemCount } Results { Name LastUpdated Size } } }`
	} else {
		q, _ := json.Marshal(query)
		gql = `{ GlobalSearch(query: ` + string(q) + `) { Page { TotalCount ItemCount } Repos { Name LastUpdated Size } } }`
	}
	req, _ := json.Marshal(map[string]string{"query": gql})
	code, _, body := searchDo(tb, http.MethodPost, base+"/v2/_zot/ext/search", "application/json", req)
	if code != http.StatusOK {
		tb.Fatalf("zot search %q: %d %s", query, code, body)
	}
	var ans struct {
		Data struct {
			GlobalSearch *struct {
				Page  page
				Repos []repo
			}
			RepoListWithNewestImage *struct {
				Page    page
				Results []repo
			}
		} `json:"data"`
		Errors []struct{ Message string } `json:"errors"`
	}
	if err := json.Unmarshal(body, &ans); err != nil || len(ans.Errors) > 0 {
		tb.Fatalf("zot search %q: %v %+v: %s", query, err, ans.Errors, body)
	}
	var repos []repo
	var pg page
	switch {
	case ans.Data.GlobalSearch != nil:
		repos, pg = ans.Data.GlobalSearch.Repos, ans.Data.GlobalSearch.Page
	case ans.Data.RepoListWithNewestImage != nil:
		repos, pg = ans.Data.RepoListWithNewestImage.Results, ans.Data.RepoListWithNewestImage.Page
	}
	if pg.TotalCount != len(repos) {
		tb.Fatalf("zot search %q: %d repositories of %d in one page", query, len(repos), pg.TotalCount)
	}
	names := make([]string, 0, len(repos))
	sizes := map[string]string{}
	for _, r := range repos {
		names = append(names, r.Name)
		sizes[r.Name] = r.Size
	}
	slices.Sort(names)
	return names, sizes
}

func mirrorNames() []string {
	var out []string
	for i := range searchMirrors {
		out = append(out, fmt.Sprintf("mirror/lab07-embed-%03d", i))
	}
	return out
}

// seedSearchData pushes every repository through cairn, searchPushers at a
// time, and returns how many manifests it pushed.
func seedSearchData(tb testing.TB, base string) int {
	tb.Helper()
	var repos []string
	for i := range searchLabs * searchReposPerLab {
		repos = append(repos, fmt.Sprintf("lab%02d/embed-%03d", i/searchReposPerLab, i))
	}
	repos = append(repos, mirrorNames()...)
	work := make(chan int)
	var (
		mu       sync.Mutex
		total    int
		firstErr error
		wg       sync.WaitGroup
	)
	for range searchPushers {
		wg.Go(func() {
			for i := range work {
				n, err := seedRepository(base, repos[i], uint64(i))
				mu.Lock()
				total += n
				if err != nil && firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		})
	}
	for i := range repos {
		work <- i
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		tb.Fatal(firstErr)
	}
	return total
}

// seedRepository pushes 4 to 20 embeddings artifacts into repo: an empty
// config, one layer of its own (0.5–4 KiB) and in about half of them a
// vocabulary layer shared within the repository, four annotations each. The
// newest is tagged latest and about a third of the others run-N, the rest
// are pushed by digest. It returns how many manifests it pushed.
func seedRepository(base, repo string, seed uint64) (int, error) {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	const emptyType = "application/vnd.oci.empty.v1+json"
	empty := []byte("{}")
	emptyDigest, err := seedBlob(base, repo, empty)
	if err != nil {
		return 0, err
	}
	vocab := searchBytes(2048, seed<<20|0xfffff)
	vocabDigest := ""
	n := 4 + r.IntN(17)
	created := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(seed) * time.Hour)
	for a := range n {
		layer := searchBytes(512+r.IntN(3585), seed<<20|uint64(a))
		layerDigest, err := seedBlob(base, repo, layer)
		if err != nil {
			return a, err
		}
		layers := []map[string]any{{
			"mediaType":   "application/vnd.cairn.embeddings.v1+parquet",
			"digest":      layerDigest,
			"size":        len(layer),
			"annotations": map[string]string{ocispec.AnnotationTitle: fmt.Sprintf("part-%02d.parquet", a)},
		}}
		if r.IntN(2) == 0 {
			if vocabDigest == "" {
				if vocabDigest, err = seedBlob(base, repo, vocab); err != nil {
					return a, err
				}
			}
			layers = append(layers, map[string]any{
				"mediaType":   "application/octet-stream",
				"digest":      vocabDigest,
				"size":        len(vocab),
				"annotations": map[string]string{ocispec.AnnotationTitle: "vocab.txt"},
			})
		}
		m, _ := json.Marshal(map[string]any{
			"schemaVersion": 2,
			"mediaType":     "application/vnd.oci.image.manifest.v1+json",
			"artifactType":  "application/vnd.cairn.embeddings.v1",
			"config":        map[string]any{"mediaType": emptyType, "digest": emptyDigest, "size": len(empty)},
			"layers":        layers,
			"annotations": map[string]string{
				ocispec.AnnotationCreated: created.Add(time.Duration(a) * time.Minute).Format(time.RFC3339),
				"dev.cairn.model":         []string{"e5-large", "bge-m3", "minilm-l6"}[r.IntN(3)],
				"dev.cairn.dataset":       fmt.Sprintf("neurips-%d", 2019+r.IntN(6)),
				"dev.cairn.run":           fmt.Sprintf("%d", a),
			},
		})
		ref := searchDigest(m)
		switch {
		case a == n-1:
			ref = "latest"
		case r.IntN(3) == 0:
			ref = fmt.Sprintf("run-%d", a)
		}
		code, _, body, err := searchSend(http.MethodPut, base+"/v2/"+repo+"/manifests/"+ref, "application/vnd.oci.image.manifest.v1+json", m)
		if err != nil {
			return a, err
		}
		if code != http.StatusCreated {
			return a, fmt.Errorf("PUT manifest %s:%s: %d %s", repo, ref, code, body)
		}
	}
	return n, nil
}

// seedBlob uploads p to repo (POST, then PUT with the whole body) and
// returns its digest.
func seedBlob(base, repo string, p []byte) (string, error) {
	d := searchDigest(p)
	code, hdr, body, err := searchSend(http.MethodPost, base+"/v2/"+repo+"/blobs/uploads/", "", nil)
	if err != nil {
		return "", err
	}
	if code != http.StatusAccepted {
		return "", fmt.Errorf("POST upload %s: %d %s", repo, code, body)
	}
	loc, err := url.Parse(hdr.Get("Location"))
	if err != nil {
		return "", err
	}
	u, _ := url.Parse(base)
	loc = u.ResolveReference(loc)
	q := loc.Query()
	q.Set("digest", d)
	loc.RawQuery = q.Encode()
	code, _, body, err = searchSend(http.MethodPut, loc.String(), "application/octet-stream", p)
	if err != nil {
		return "", err
	}
	if code != http.StatusCreated {
		return "", fmt.Errorf("PUT blob %s %s: %d %s", repo, d, code, body)
	}
	return d, nil
}

// searchBytes returns n bytes unique to seed.
func searchBytes(n int, seed uint64) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i * 131 % 251)
	}
	copy(p, fmt.Sprintf("%016x", seed))
	return p
}

func searchDigest(p []byte) string {
	sum := sha256.Sum256(p)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// startSearchZot starts zot with the search extension on a free port, with
// storage in a temporary directory, and returns its base URL.
func startSearchZot(tb testing.TB, bin string) string {
	tb.Helper()
	addr := searchFreeAddr(tb)
	host, port, _ := strings.Cut(addr, ":")
	dir := tb.TempDir()
	conf := fmt.Sprintf(`{"distSpecVersion":"1.1.1","storage":{"rootDirectory":%q},"http":{"address":%q,"port":%q},"log":{"level":"info"},"extensions":{"search":{"enable":true}}}`,
		filepath.Join(dir, "storage"), host, port)
	confPath := filepath.Join(dir, "config.json")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		tb.Fatal(err)
	}
	logPath := filepath.Join(dir, "zot.log")
	stop := startBenchProcess(tb, logPath, bin, "serve", confPath)
	tb.Cleanup(stop)
	base := "http://" + addr
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		res, err := http.Post(base+"/v2/_zot/ext/search", "application/json", strings.NewReader(`{"query":"{ RepoListWithNewestImage { Page { TotalCount } } }"}`))
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return base
			}
		}
	}
	b, _ := os.ReadFile(logPath)
	tb.Fatalf("zot's search extension did not answer in 30s (is ZOT_SEARCH_BIN built with -tags search?):\n%s", tailOf(b))
	return ""
}

// startBenchCairn starts cairn serve with a new data directory and extra
// flags, logging at info as in production, and returns its base URL.
func startBenchCairn(tb testing.TB, extra ...string) string {
	tb.Helper()
	bin := os.Getenv("CAIRN_BIN")
	if bin == "" {
		tb.Fatal("CAIRN_BIN is not set: build bin/cairn with `make build` and point CAIRN_BIN at it")
	}
	addr := searchFreeAddr(tb)
	dir := tb.TempDir()
	logPath := filepath.Join(dir, "cairn.log")
	args := append([]string{"serve", "--addr", addr, "--data-dir", filepath.Join(dir, "data"), "--log-format", "json", "--log-level", "info"}, extra...)
	stop := startBenchProcess(tb, logPath, bin, args...)
	tb.Cleanup(stop)
	base := "http://" + addr
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if res, err := http.Get(base + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return base
			}
		}
	}
	b, _ := os.ReadFile(logPath)
	tb.Fatalf("cairn did not become ready in 60s:\n%s", tailOf(b))
	return ""
}

// startBenchProcess starts bin with its output in logPath and returns a
// function that stops it with SIGTERM.
func startBenchProcess(tb testing.TB, logPath, bin string, args ...string) func() {
	tb.Helper()
	logf, err := os.Create(logPath)
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	return func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		logf.Close()
	}
}

func searchFreeAddr(tb testing.TB) string {
	tb.Helper()
	l, err := (&net.ListenConfig{}).Listen(tb.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func tailOf(b []byte) string {
	if len(b) > 8000 {
		b = b[len(b)-8000:]
	}
	return string(b)
}
