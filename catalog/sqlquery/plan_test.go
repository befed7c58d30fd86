package sqlquery

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cairn-dev/cairn/annotations"
	"github.com/cairn-dev/cairn/catalog"
)

func TestChoose(t *testing.T) {
	// A sample of 1,000 manifests, a tenth of the catalog: every one has
	// "common", one in ten "tenth", one in a hundred "rare", none "never".
	sm := &Sample{Fraction: 0.1}
	for i := range 1000 {
		as := map[string]string{"common": "x", "n": fmt.Sprint(i)}
		if i%10 == 0 {
			as["tenth"] = "x"
		}
		if i%100 == 0 {
			as["rare"] = "x"
		}
		sm.Annotations = append(sm.Annotations, as)
	}
	q := func(exprs ...string) catalog.Query {
		var q catalog.Query
		for _, e := range exprs {
			f, err := annotations.ParseFilter(e)
			if err != nil {
				t.Fatal(err)
			}
			q.Annotations = append(q.Annotations, f)
		}
		return q
	}
	for _, c := range []struct {
		name  string
		sm    *Sample
		q     catalog.Query
		limit int
		want  Plan
	}{
		{"no sample", nil, q("rare=x"), 50, Walk},
		{"no annotation filter", sm, catalog.Query{Repository: "r"}, 50, Walk},
		{"only filters on absence", sm, q("!rare", "tenth!=x"), 50, Walk},
		{"common: the walk fills the page at once", sm, q("common=x"), 50, Walk},
		{"a tenth: 510 rows walked against 1,000 led", sm, q("common=x", "tenth=x"), 50, Walk},
		{"rare: 100 led against 5,100 walked", sm, q("common=x", "rare=x"), 50, Plan{Drive: 1}},
		{"never seen: leads", sm, q("never=x", "common=x"), 50, Plan{Drive: 0}},
		{"the rarest leads", sm, q("tenth=x", "rare=x"), 50, Plan{Drive: 1}},
		{"a range", sm, q("n>=990"), 50, Plan{Drive: 0}},
		{"a tenth, a page of 1: walks", sm, q("tenth"), 1, Walk},
		{"jointly rare: the rarest filter leads", sm, q("tenth", "n^=5"), 50, Plan{Drive: 0}},
	} {
		if got := c.sm.choose(c.q, c.limit); got != c.want {
			t.Errorf("%s: plan %+v, want %+v", c.name, got, c.want)
		}
	}
}

func TestSampler(t *testing.T) {
	var reads atomic.Int32
	fail := atomic.Bool{}
	release := make(chan struct{}, 10)
	sr := NewSampler(func(ctx context.Context) (*Sample, error) {
		n := reads.Add(1)
		if n > 1 {
			select {
			case <-release:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		if fail.Load() {
			return nil, errors.New("down")
		}
		return &Sample{Fraction: 1, Taken: time.Now().Add(-time.Duration(n-1) * time.Hour)}, nil
	})
	defer sr.Close()

	// The first sample is read at once.
	first := sr.Sample(t.Context())
	if first == nil || reads.Load() != 1 {
		t.Fatalf("first sample %v after %d reads", first, reads.Load())
	}
	// A fresh sample is reused.
	if got := sr.Sample(t.Context()); got != first || reads.Load() != 1 {
		t.Fatalf("fresh sample read again (%d reads)", reads.Load())
	}
	// A stale one is returned while a new one is read in the background,
	// once however many queries ask.
	first.Taken = time.Now().Add(-2 * sampleAge)
	for range 3 {
		if got := sr.Sample(t.Context()); got != first {
			t.Fatal("a stale sample was not returned while reading its successor")
		}
	}
	release <- struct{}{}
	deadline := time.Now().Add(5 * time.Second)
	for sr.Sample(t.Context()) == first && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got := reads.Load(); got != 2 {
		t.Fatalf("%d reads, want 2", got)
	}
	// A failed background read keeps the old sample.
	fail.Store(true)
	cur := sr.Sample(t.Context())
	cur.Taken = time.Now().Add(-2 * sampleAge)
	sr.Sample(t.Context())
	release <- struct{}{}
	time.Sleep(50 * time.Millisecond)
	if got := sr.Sample(t.Context()); got != cur {
		t.Fatal("a failed read replaced the sample")
	}
}

func TestSamplerFirstReadFails(t *testing.T) {
	sr := NewSampler(func(context.Context) (*Sample, error) { return nil, errors.New("down") })
	defer sr.Close()
	if got := sr.Sample(t.Context()); got != nil {
		t.Fatalf("sample %v from a failed read", got)
	}
	if got := (*Sample)(nil).choose(catalog.Query{}, 10); got != Walk {
		t.Fatalf("plan %+v without a sample", got)
	}
}
