package storetest

// The catalog at scale: Seed fills a store with many artifacts shaped like a
// registry of model checkpoints, and BenchQueries measures the catalog API's
// queries on it. The stores' benchmarks (BenchmarkCatalogAtScale in
// catalog/sqlite and catalog/postgres) run them when CAIRN_BENCH_SCALE asks
// (see BenchScale); BENCHMARKS.md records the figures.

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/cairn-dev/cairn/annotations"
	"github.com/cairn-dev/cairn/catalog"
)

// BenchDataVersion names the data that Seed writes for a seed and a
// scale; it changes whenever that data changes, so that a cache of a seeded
// store made by another version is not reused.
const BenchDataVersion = 1

// BenchSeed is the seed of the benchmarks' data and queries.
const BenchSeed uint64 = 0xca1a106

// BenchDefaultScale is the scale of BenchScale when CAIRN_BENCH_SCALE asks
// for the benchmarks without a number.
const BenchDefaultScale = 100_000

// BenchScale returns the number of artifacts that the catalog benchmarks
// seed, from the environment variable CAIRN_BENCH_SCALE: a number
// ("100000", "100k", "1M"), or "1", "true", "yes" or "on" for
// BenchDefaultScale. It skips tb when the variable is unset or empty, so
// that go test ./... stays fast.
func BenchScale(tb testing.TB) int {
	tb.Helper()
	v := strings.TrimSpace(os.Getenv("CAIRN_BENCH_SCALE"))
	if v == "" {
		tb.Skip("set CAIRN_BENCH_SCALE (such as 100000 or 1M) to run the catalog benchmarks at scale")
	}
	switch strings.ToLower(v) {
	case "1", "true", "yes", "on":
		return BenchDefaultScale
	}
	mult := 1
	switch {
	case strings.HasSuffix(v, "k"), strings.HasSuffix(v, "K"):
		mult, v = 1_000, v[:len(v)-1]
	case strings.HasSuffix(v, "m"), strings.HasSuffix(v, "M"):
		mult, v = 1_000_000, v[:len(v)-1]
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > math.MaxInt/mult {
		tb.Fatalf("CAIRN_BENCH_SCALE=%q: want a number of artifacts such as 100000, 100k or 1M", os.Getenv("CAIRN_BENCH_SCALE"))
	}
	return n * mult
}

// BenchDataDescription is a line that names the data Seed(…, n, seed) writes,
// for the stores' caches of seeded databases to compare.
func BenchDataDescription(n int, seed uint64) string {
	return fmt.Sprintf("cairn catalog bench data v%d, seed %#x, %d artifacts", BenchDataVersion, seed, n)
}

// The annotation keys of the benchmark data.
const (
	benchConference  = "org.example.conference"
	benchYear        = "org.example.year"
	benchModel       = "org.example.model"
	benchSplit       = "org.example.split"
	benchPapers      = "org.example.papers"
	benchID          = "org.example.id"
	benchDescription = "org.opencontainers.image.description"
	// annCreated is the eighth.
)

// The shape of the benchmark data.
const (
	benchRepositories = 500
	benchSharedLayers = 1000 // layers shared across artifacts (a quarter of all layers)
	atModel           = "application/vnd.example.model.v1+json"
	atEval            = "application/vnd.example.eval.v1+json"
)

// benchPushedFrom and benchPushedSpan bound the push times: 2019-01-01 to
// mid-2026.
var (
	benchPushedFrom = time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC)
	benchPushedSpan = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC).Sub(benchPushedFrom)
)

// choice draws one of its values with fixed weights.
type choice struct {
	values []string
	cum    []float64 // cumulative weights
}

func newChoice(values []string, weight func(k int) float64) choice {
	c := choice{values: values, cum: make([]float64, len(values))}
	total := 0.0
	for k := range values {
		total += weight(k)
		c.cum[k] = total
	}
	return c
}

func (c choice) pick(r *rand.Rand) string {
	x := r.Float64() * c.cum[len(c.cum)-1]
	return c.values[min(sort.SearchFloat64s(c.cum, x), len(c.values)-1)]
}

var (
	// conferences: 30, Zipf-like (the first two hold about a third).
	conferences = newChoice([]string{
		"neurips", "icml", "iclr", "cvpr", "acl", "emnlp", "aaai", "iccv", "eccv", "naacl",
		"ijcai", "kdd", "coling", "interspeech", "icassp", "sigir", "www", "aistats", "uai", "colt",
		"corl", "icra", "iros", "miccai", "wacv", "bmvc", "eacl", "tmlr", "chil", "rss",
	}, func(k int) float64 { return 1 / float64(k+1) })
	// models: 12, mildly skewed.
	models = newChoice([]string{
		"qwen3", "llama3", "mistral", "gemma2", "phi3", "deepseek-v3",
		"olmo2", "mixtral", "falcon", "t5", "bert", "gpt2",
	}, func(k int) float64 { return 1 / math.Sqrt(float64(k+1)) })
	// years: 2015–2026, more of them recent.
	years = newChoice([]string{
		"2015", "2016", "2017", "2018", "2019", "2020", "2021", "2022", "2023", "2024", "2025", "2026",
	}, func(k int) float64 { return float64(k + 1) })
	splits = newChoice([]string{"train", "test", "val"}, func(k int) float64 { return []float64{70, 15, 15}[k] })

	// words of the free-text descriptions.
	descriptionWords = strings.Fields(`adapter baseline checkpoint distilled ensemble finetuned frozen
		instruction lora merged pruned quantized reranker retrieval reward sparse student teacher tokenizer
		abstracts citations reviews rebuttals figures tables equations appendix proofs datasets benchmarks
		ablation sweep seed warmup cosine schedule epochs batch learning rate weight decay dropout`)
	repositoryWords = []string{"finetune", "eval", "distill", "pretrain", "rlhf", "embed", "rerank", "classify"}
)

// benchRepository returns the name of repository r.
func benchRepository(r int) string {
	return fmt.Sprintf("lab%02d/%s-%03d", r%40, repositoryWords[r%len(repositoryWords)], r)
}

// benchRand returns the random source of artifact i: each artifact's data
// depends only on the seed and i (and, for its subject, on the others of
// its repository), so that the queries can name digests without reading the
// store.
func benchRand(seed uint64, i int) *rand.Rand {
	return rand.New(rand.NewPCG(seed, uint64(i)))
}

// benchRepositoryOf returns the repository of artifact i, its first draw:
// repository sizes are skewed (the largest holds about 1.6% of artifacts).
func benchRepositoryOf(r *rand.Rand) int {
	return min(int(benchRepositories*math.Pow(r.Float64(), 1.5)), benchRepositories-1)
}

// benchSharedLayer returns shared layer k.
func benchSharedLayer(seed uint64, k int) catalog.Layer {
	return catalog.Layer{
		Kind:      "layer",
		Digest:    digest.FromString(fmt.Sprintf("cairn bench %d shared layer %d", seed, k)),
		MediaType: mtLayer,
		Size:      1<<20 + int64(k)*4099,
		Title:     fmt.Sprintf("base-%04d.tar", k),
	}
}

// benchArtifact returns artifact i (of repository repo), without subject.
func benchArtifact(seed uint64, i int, repo string) catalog.Manifest {
	r := benchRand(seed, i)
	benchRepositoryOf(r) // the first draw places it
	conference, model, split := conferences.pick(r), models.pick(r), splits.pick(r)
	year := years.pick(r)
	y, _ := strconv.Atoi(year)
	created := time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(r.Int64N(365*24*3600)) * time.Second)
	papers := int(math.Exp(math.Log(100) + r.Float64()*(math.Log(20000)-math.Log(100))))
	words := make([]string, 4+r.IntN(9))
	for k := range words {
		words[k] = descriptionWords[r.IntN(len(descriptionWords))]
	}
	m := catalog.Manifest{
		Repository:   repo,
		Digest:       digest.FromString(fmt.Sprintf("cairn bench %d artifact %d", seed, i)),
		MediaType:    mtImage,
		ArtifactType: atModel,
		Annotations: map[string]string{
			benchConference: conference,
			benchYear:       year,
			benchModel:      model,
			benchSplit:      split,
			benchPapers:     strconv.Itoa(papers),
			annCreated:      created.Format(time.RFC3339),
			benchDescription: fmt.Sprintf("%s on %d %s %s papers (%s split): %s", model, papers, strings.ToUpper(conference), year, split,
				strings.Join(words, " ")),
			benchID: fmt.Sprintf("run-%012x", r.Uint64()>>16),
		},
		Size:     400 + r.Int64N(3000),
		PushedAt: benchPushedFrom.Add(time.Duration(r.Int64N(int64(benchPushedSpan/time.Microsecond))) * time.Microsecond),
	}
	m.Layers = []catalog.Layer{{
		Kind:      "config",
		Digest:    digest.FromString(fmt.Sprintf("cairn bench %d config %d", seed, i)),
		MediaType: mtConfig,
		Size:      200 + r.Int64N(4800),
	}}
	for j := range 1 + r.IntN(4) {
		if r.IntN(4) == 0 {
			m.Layers = append(m.Layers, benchSharedLayer(seed, r.IntN(benchSharedLayers)))
			continue
		}
		m.Layers = append(m.Layers, catalog.Layer{
			Kind:      "layer",
			Digest:    benchUniqueLayer(seed, i, j),
			MediaType: mtLayer,
			Size:      int64(math.Exp(math.Log(1<<10) + r.Float64()*(math.Log(2<<30)-math.Log(1<<10)))),
			Title:     fmt.Sprintf("shard-%d.safetensors", j),
		})
	}
	m.TotalSize = m.Size
	for _, l := range m.Layers {
		m.TotalSize += l.Size
	}
	return m
}

// benchUniqueLayer returns the digest of layer j of artifact i when it is
// one of its own.
func benchUniqueLayer(seed uint64, i, j int) digest.Digest {
	return digest.FromString(fmt.Sprintf("cairn bench %d layer %d/%d", seed, i, j))
}

// benchRepositoryContent returns repository r's artifacts (indices is
// ascending) and tags. About 40% of the artifacts refer to an earlier
// artifact of the repository (as evaluations of a checkpoint); a tenth of
// the others are tagged, and latest points at the last pushed of them.
func benchRepositoryContent(seed uint64, r int, indices []int) ([]catalog.Manifest, map[string]digest.Digest) {
	repo := benchRepository(r)
	ms := make([]catalog.Manifest, len(indices))
	tags := map[string]digest.Digest{}
	var latest *catalog.Manifest
	sr := rand.New(rand.NewPCG(seed, uint64(r)<<32|0xfeed))
	for k, i := range indices {
		m := benchArtifact(seed, i, repo)
		if k > 0 && sr.IntN(10) < 4 {
			m.Subject = ms[sr.IntN(k)].Digest
			m.ArtifactType = atEval
		} else {
			if sr.IntN(10) == 0 {
				tags["v"+strconv.Itoa(k)] = m.Digest
			}
			if latest == nil || m.PushedAt.After(latest.PushedAt) {
				latest = &ms[k]
			}
		}
		ms[k] = m
	}
	if latest != nil {
		tags["latest"] = latest.Digest
	}
	return ms, tags
}

// Seed fills s, which should be empty, with n artifacts drawn from seed:
// one ReplaceRepository per repository (about 500, of skewed sizes), each
// artifact with 8 annotations (a conference of 30, skewed; a year
// 2015–2026; a model of 12; a split; a number of papers 100–20000; an RFC
// 3339 creation time; a free-text description; a unique id), a config and
// 1–4 layers (a quarter of them shared among artifacts), and 40% with a
// subject. The same n and seed always give the same data. Progress goes to
// standard error when the test runs verbose.
func Seed(tb testing.TB, s catalog.Store, n int, seed uint64) {
	tb.Helper()
	ctx, cancel := context.WithCancel(tb.Context())
	defer cancel()

	byRepo := make([][]int, benchRepositories)
	for i := range n {
		r := benchRepositoryOf(benchRand(seed, i))
		byRepo[r] = append(byRepo[r], i)
	}
	order := make([]int, 0, benchRepositories)
	for r, indices := range byRepo {
		if len(indices) > 0 {
			order = append(order, r)
		}
	}
	// By name, so that the stores' keys grow in order.
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(benchRepository(a), benchRepository(b)) })

	type content struct {
		r    int
		ms   []catalog.Manifest
		tags map[string]digest.Digest
	}
	ch := make(chan content, 2)
	go func() {
		defer close(ch)
		for _, r := range order {
			ms, tags := benchRepositoryContent(seed, r, byRepo[r])
			select {
			case ch <- content{r, ms, tags}:
			case <-ctx.Done():
				return
			}
		}
	}()
	start, done, next := time.Now(), 0, n/10
	for c := range ch {
		if err := s.ReplaceRepository(ctx, benchRepository(c.r), c.ms, c.tags); err != nil {
			tb.Fatalf("seed: %v", err)
		}
		done += len(c.ms)
		if testing.Verbose() && done >= next {
			fmt.Fprintf(os.Stderr, "seed: %d of %d artifacts in %v\n", done, n, time.Since(start).Round(time.Second))
			next += n / 10
		}
	}
	st, err := s.Stats(ctx)
	if err != nil {
		tb.Fatalf("seed: %v", err)
	}
	if st.Manifests != int64(n) {
		tb.Fatalf("seed: the store holds %d artifacts after seeding %d", st.Manifests, n)
	}
	tb.Logf("seeded %d artifacts in %d repositories (%d tags) in %v", st.Manifests, st.Repositories, st.Tags, time.Since(start).Round(time.Millisecond))
}

// benchVariants is how many variants of each query BenchQueries cycles
// through.
const benchVariants = 100

// BenchQueries measures the catalog API's queries on s, seeded by Seed(…,
// n, seed), as sub-benchmarks. Each iteration runs one query; those with
// variants cycle through 100 of them, drawn from a fixed seed. Besides
// ns/op, each reports the median and 99th percentile of its iterations'
// latencies (p50-ms, p99-ms) and the rows an iteration returned on average
// (rows/op). Run with -benchtime=200x for 200 runs each.
//
//   - filter3: three annotation filters, one a range
//     (org.example.conference=a|b, org.example.year>=y,
//     org.example.model=m), a first page of 50, sorted by push time newest
//     first (sort=-pushed) or by org.example.papers ascending
//     (sort=papers); …/next is the page after the first, by cursor.
//   - facet/values-model: AnnotationValues of org.example.model over every
//     artifact; facet/keys-year>=2024: AnnotationKeys of the artifacts of
//     2024 and later.
//   - blobuses: BlobUses of a layer digest, limit 1: a layer of one
//     artifact (unique), or one of the 1,000 shared layers that a quarter
//     of all layer entries point at, each used by about 60 manifests per
//     100,000 artifacts (shared).
func BenchQueries(b *testing.B, s catalog.Store, n int, seed uint64) {
	b.Helper()
	qr := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	parse := func(exprs ...string) []annotations.Filter { return filters(b, exprs...) }
	variants := make([]catalog.Query, benchVariants)
	variants[0] = catalog.Query{Annotations: parse(benchConference+"=neurips|icml", benchYear+">=2022", benchModel+"=qwen3")}
	for i := 1; i < len(variants); i++ {
		c1 := conferences.values[qr.IntN(10)]
		c2 := c1
		for c2 == c1 {
			c2 = conferences.pick(qr)
		}
		variants[i] = catalog.Query{Annotations: parse(
			benchConference+"="+c1+"|"+c2,
			benchYear+">="+strconv.Itoa(2018+qr.IntN(8)),
			benchModel+"="+models.pick(qr))}
	}
	sorts := []struct {
		name string
		sort catalog.Sort
	}{
		{"sort=-pushed", catalog.Sort{Field: catalog.SortPushed, Desc: true}},
		{"sort=papers", catalog.Sort{Field: catalog.SortAnnotation, Key: benchPapers}},
	}
	const pageSize = 50
	for _, so := range sorts {
		b.Run("filter3/"+so.name+"/first", func(b *testing.B) {
			// One pass over the variants first, unmeasured: the pages
			// they read are then in the page cache, and an in-memory
			// index has built its order by the annotation sorted by.
			for _, q := range variants {
				if _, err := s.Artifacts(b.Context(), q, so.sort, pageSize, nil); err != nil {
					b.Fatal(err)
				}
			}
			benchMeasure(b, func(ctx context.Context, i int) (int, error) {
				p, err := s.Artifacts(ctx, variants[i%len(variants)], so.sort, pageSize, nil)
				return len(p.Artifacts), err
			})
		})
		b.Run("filter3/"+so.name+"/next", func(b *testing.B) {
			type next struct {
				q     catalog.Query
				after *catalog.Cursor
			}
			var pages []next
			for _, q := range variants {
				p, err := s.Artifacts(b.Context(), q, so.sort, pageSize, nil)
				if err != nil {
					b.Fatal(err)
				}
				if p.Next != nil {
					pages = append(pages, next{q, p.Next})
				}
			}
			if len(pages) == 0 {
				b.Skip("no query has a second page")
			}
			for _, pg := range pages { // the same unmeasured pass
				if _, err := s.Artifacts(b.Context(), pg.q, so.sort, pageSize, pg.after); err != nil {
					b.Fatal(err)
				}
			}
			benchMeasure(b, func(ctx context.Context, i int) (int, error) {
				pg := pages[i%len(pages)]
				p, err := s.Artifacts(ctx, pg.q, so.sort, pageSize, pg.after)
				return len(p.Artifacts), err
			})
		})
	}
	b.Run("facet/values-model", func(b *testing.B) {
		benchMeasure(b, func(ctx context.Context, _ int) (int, error) {
			cs, err := s.AnnotationValues(ctx, benchModel, catalog.Query{}, 100)
			return len(cs), err
		})
	})
	b.Run("facet/keys-year>=2024", func(b *testing.B) {
		q := catalog.Query{Annotations: parse(benchYear + ">=2024")}
		benchMeasure(b, func(ctx context.Context, _ int) (int, error) {
			cs, err := s.AnnotationKeys(ctx, q, 100)
			return len(cs), err
		})
	})
	unique := make([]digest.Digest, 0, benchVariants)
	shared := make([]digest.Digest, 0, benchVariants)
	for len(unique) < benchVariants || len(shared) < benchVariants {
		i := qr.IntN(n)
		for _, l := range benchArtifact(seed, i, "").Layers[1:] {
			if strings.HasPrefix(l.Title, "base-") {
				if len(shared) < benchVariants {
					shared = append(shared, l.Digest)
				}
			} else if len(unique) < benchVariants {
				unique = append(unique, l.Digest)
			}
		}
	}
	for _, c := range []struct {
		name    string
		digests []digest.Digest
	}{{"unique", unique}, {"shared", shared}} {
		b.Run("blobuses/"+c.name, func(b *testing.B) {
			benchMeasure(b, func(ctx context.Context, i int) (int, error) {
				us, err := s.BlobUses(ctx, c.digests[i%len(c.digests)], "", nil, 1)
				return len(us), err
			})
		})
	}
}

// benchMeasure runs query b.N times, with its iteration number, and reports
// the median and 99th percentile latency and the rows it returned on
// average.
func benchMeasure(b *testing.B, query func(ctx context.Context, i int) (rows int, err error)) {
	b.Helper()
	ctx := b.Context()
	durations := make([]time.Duration, 0, b.N)
	rows := 0
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		n, err := query(ctx, i)
		durations = append(durations, time.Since(start))
		if err != nil {
			b.Fatal(err)
		}
		rows += n
	}
	b.StopTimer()
	slices.Sort(durations)
	b.ReportMetric(benchPercentile(durations, 50), "p50-ms")
	b.ReportMetric(benchPercentile(durations, 99), "p99-ms")
	b.ReportMetric(float64(rows)/float64(b.N), "rows/op")
}

// benchPercentile returns the p-th percentile of sorted durations (nearest
// rank), in milliseconds.
func benchPercentile(sorted []time.Duration, p int) float64 {
	if len(sorted) == 0 {
		return 0
	}
	k := max((p*len(sorted)+99)/100-1, 0)
	return float64(sorted[k]) / float64(time.Millisecond)
}
