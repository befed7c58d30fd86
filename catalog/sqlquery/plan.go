package sqlquery

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/cairn-dev/cairn/annotations"
	"github.com/cairn-dev/cairn/catalog"
)

// Choosing a plan. Walking the sort order's index and checking the
// annotation filters on each entry finds a page at once when many
// artifacts match, and reads most of the index first when few do. Reading
// the annotations one filter matches and checking the rest on each reads
// only that filter's matches, then sorts them: cheap when that filter is
// rare, slow when it is common. Both cost about the same per row read (a
// few microseconds on SQLite). Neither store's planner can tell which is
// cheaper, since the selectivity of a filter on a key-value table escapes
// both; a Sample of the catalog can, without a query of its own.

// Sample is what the planner knows of the catalog: the annotations of
// the manifests whose digests fall in a range. Digests are uniformly
// random, so those are a random sample of a known fraction.
type Sample struct {
	// Fraction is the part of all manifests the range holds.
	Fraction float64
	// Annotations are those of each sampled manifest (nil for none).
	Annotations []map[string]string
	// Taken is when the sample was read.
	Taken time.Time
}

// sampleSize is how many manifests a sample aims to hold.
const sampleSize = 8192

// sampleAge is how old a sample may grow before it is read again (in the
// background; queries go on with the old one meanwhile).
const sampleAge = time.Minute

// ReadSample reads a sample of about sampleSize manifests: it counts the
// manifests with count, then reads the annotations of those whose sha256
// digests (under which manifests are indexed) fall in a range that holds
// about sampleSize of them, or of every manifest when there are few, with
// annotations.
func ReadSample(d Dialect, count func(Statement) (int64, error), annotations func(Statement) ([]map[string]string, error)) (*Sample, error) {
	taken := time.Now()
	total, err := count(Statement{SQL: `SELECT COUNT(*) FROM manifests`})
	if err != nil {
		return nil, fmt.Errorf("sample: %w", err)
	}
	st := Statement{SQL: `SELECT m.annotations FROM manifests m`}
	fraction := 1.0
	if total > sampleSize {
		const span = 1 << 16 // the range's bound has four hex digits
		n := int64(math.Ceil(float64(sampleSize) / float64(total) * span))
		b := &builder{d: d}
		st = b.statement(st.SQL + " WHERE m.digest >= " + b.arg("sha256:") + " AND m.digest < " + b.arg(fmt.Sprintf("sha256:%04x", n)))
		fraction = float64(n) / span
	}
	as, err := annotations(st)
	if err != nil {
		return nil, fmt.Errorf("sample: %w", err)
	}
	return &Sample{Fraction: fraction, Annotations: as, Taken: taken}, nil
}

// Sampler keeps a Sample of a store, read again in the background once it
// is older than a minute. It is safe for concurrent use.
type Sampler struct {
	// Read reads a sample (with ReadSample).
	Read func(ctx context.Context) (*Sample, error)

	mu      sync.Mutex
	cur     *Sample
	reading bool
	stop    context.CancelFunc
	ctx     context.Context
	wg      sync.WaitGroup
}

// NewSampler returns a Sampler that reads samples with read.
func NewSampler(read func(ctx context.Context) (*Sample, error)) *Sampler {
	ctx, stop := context.WithCancel(context.Background())
	return &Sampler{Read: read, ctx: ctx, stop: stop}
}

// Sample returns the current sample, reading the first one now and later
// ones in the background. It returns nil when there is none and reading
// one failed: plans are then the walk.
func (s *Sampler) Sample(ctx context.Context) *Sample {
	s.mu.Lock()
	cur := s.cur
	if cur != nil && (time.Since(cur.Taken) < sampleAge || s.reading || s.ctx.Err() != nil) {
		s.mu.Unlock()
		return cur
	}
	if cur == nil {
		s.mu.Unlock()
		sm, err := s.Read(ctx)
		if err != nil {
			return nil
		}
		s.mu.Lock()
		if s.cur == nil || s.cur.Taken.Before(sm.Taken) {
			s.cur = sm
		}
		s.mu.Unlock()
		return sm
	}
	s.reading = true
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		sm, err := s.Read(s.ctx)
		s.mu.Lock()
		defer s.mu.Unlock()
		s.reading = false
		if err != nil {
			if s.ctx.Err() == nil {
				slog.Warn("catalog: reading the planner's sample", "err", err)
			}
			return
		}
		s.cur = sm
	}()
	return cur
}

// Close stops a background read and waits for it.
func (s *Sampler) Close() {
	s.stop()
	s.wg.Wait()
}

// Costs of the plans, in rows read: a walk reads, on average, the page's
// rows divided by the share of artifacts that match; a plan led by a
// filter reads every artifact the filter matches. Both cost about the
// same per row.
func (sm *Sample) choose(q catalog.Query, limit int) Plan {
	if sm == nil || len(sm.Annotations) == 0 || sm.Fraction <= 0 {
		return Walk
	}
	lead, leadCount := sm.lead(q)
	if lead < 0 {
		return Walk
	}
	all := 0
	for _, as := range sm.Annotations {
		ok := true
		for _, f := range q.Annotations {
			if ok = f.Matches(as); !ok {
				break
			}
		}
		if ok {
			all++
		}
	}
	sampled := float64(len(sm.Annotations))
	total := sampled / sm.Fraction
	walk := min(float64(ClampLimit(limit)+1)*sampled/max(float64(all), 0.5), total)
	led := max(float64(leadCount), 0.5) / sm.Fraction
	if led < walk {
		return Plan{Drive: lead}
	}
	return Walk
}

// lead returns the index in q.Annotations of the Drivable filter that the
// fewest sampled manifests match, and how many do, or -1 when q has none or
// there is no sample.
func (sm *Sample) lead(q catalog.Query) (lead, count int) {
	if sm == nil || len(sm.Annotations) == 0 {
		return -1, 0
	}
	lead = -1
	for i, f := range q.Annotations {
		if !Drivable(f) {
			continue
		}
		n := 0
		for _, as := range sm.Annotations {
			if f.Matches(as) {
				n++
			}
		}
		if lead < 0 || n < count {
			lead, count = i, n
		}
	}
	return lead, count
}

// ArtifactRows runs a statement of ArtifactsPlanned and returns its rows:
// the manifests and the sort keys of the annotation sorted by.
type ArtifactRows func(Statement) ([]catalog.Manifest, []*string, error)

// RunArtifacts finds the rows of a page of catalog.Querier.Artifacts with
// the plan that sm (nil for none) says is cheapest, running its statements
// with rows. The rows are those of Artifacts, whatever the plan.
//
// Sorted by an annotation, the artifacts that have it come first: they are
// read first, and those that lack it only when the others do not fill the
// page (reading both at once would look for the latter even when a page of
// the former is at hand, and most often none lack it, which means reading
// every artifact to find that out).
func RunArtifacts(d Dialect, sm *Sample, q catalog.Query, s catalog.Sort, limit int, after *catalog.Cursor, rows ArtifactRows) ([]catalog.Manifest, []*string, error) {
	run := func(after *catalog.Cursor, limit int, p Plan) ([]catalog.Manifest, []*string, error) {
		st, err := ArtifactsPlanned(d, q, s, limit, after, p)
		if err != nil {
			return nil, nil, err
		}
		return rows(st)
	}
	if s.Field != catalog.SortAnnotation {
		return run(after, limit, sm.choose(q, limit))
	}
	part := func(op annotations.Op, limit int, part Part) Plan {
		qp := q
		qp.Annotations = append(slices.Clip(q.Annotations), annotations.Filter{Key: s.Key, Op: op})
		p := sm.choose(qp, limit)
		if p.Drive == len(q.Annotations) {
			p = Walk // led by the annotation sorted by: the walk
		}
		p.Part = part
		return p
	}
	if after != nil && after.Missing {
		return run(after, limit, part(annotations.Absent, limit, Absent))
	}
	ms, keys, err := run(after, limit, part(annotations.Exists, limit, Present))
	want := ClampLimit(limit) + 1
	if err != nil || len(ms) >= want {
		return ms, keys, err
	}
	// The rest of the page: a limit one less, since the statement reads
	// one more row than its limit.
	rest := want - len(ms) - 1
	more, moreKeys, err := run(nil, rest, part(annotations.Absent, rest, Absent))
	return append(ms, more...), append(keys, moreKeys...), err
}
