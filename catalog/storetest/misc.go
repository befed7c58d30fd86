package storetest

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/cairn-dev/cairn/catalog"
)

// testPing pings the store.
func testPing(t *testing.T, s catalog.Store) {
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

// testCanceledContext calls the store with a canceled context: it fails and
// writes nothing.
func testCanceledContext(t *testing.T, s catalog.Store) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	m := image("r", "a", at(0))
	if err := s.IndexPush(ctx, m, "", 0); err == nil {
		t.Errorf("IndexPush with a canceled context: no error")
	}
	if _, err := s.Manifest(ctx, "r", m.Digest); err == nil {
		t.Errorf("Manifest with a canceled context: no error")
	}
	wantNoManifest(t, s, "r", m.Digest)
	// The store still works afterwards.
	put(t, s, m)
	assertManifest(t, get(t, s, "r", m.Digest), m)
}

// metaNames are strings that break SQL built by pasting values, or LIKE
// patterns, or byte-unaware code.
var metaNames = []string{
	`it's`,
	`"quoted"`,
	`100%`,
	`%`,
	`_`,
	`a_c`,
	`abc`,
	`back\slash`,
	`back\\slash\`,
	`'; DROP TABLE tags; --`,
	`semi;colon /* comment */`,
	"tab\tand\nnewline",
	`ünïcödé/日本語`,
	`emoji 😀`,
	`$1 ? :name @p1`,
}

// testSQLMetacharacters stores values full of SQL metacharacters in every
// field and reads them back as data.
func testSQLMetacharacters(t *testing.T, s catalog.Store) {
	subject := dg("subject")
	var want []string
	for i, name := range metaNames {
		m := catalog.Manifest{
			Repository:   name,
			Digest:       dg(name),
			MediaType:    name,
			ArtifactType: name,
			Annotations:  map[string]string{name: name, "k" + name: `{"json": "in a value"}`},
			Layers: []catalog.Layer{{
				Kind: "layer", Digest: dg("layer " + name), MediaType: name, Size: int64(i),
				ArtifactType: name, Title: name, Annotations: map[string]string{name: name},
			}},
			Subject:  subject,
			Size:     int64(i),
			PushedAt: at(i),
		}
		put(t, s, m)
		tag(t, s, m, name)
		assertManifest(t, get(t, s, name, m.Digest), withTags(m, name))
		wantTag(t, s, name, name, m.Digest)
		want = append(want, name)

		// The same entry as a referrer in one shared repository, whose
		// artifactType filter must match exactly.
		r := m
		r.Repository = "meta"
		put(t, s, r)
		tag(t, s, r, name)
	}
	sort.Strings(want)
	want = append(want, "meta")
	sort.Strings(want)
	assertStrings(t, "Repositories", repositories(t, s), want)

	for _, name := range metaNames {
		got := referrers(t, s, "meta", subject, name)
		if len(got) != 1 || got[0].ArtifactType != name {
			t.Errorf("Referrers(meta, %q) = %v, want exactly the one of that type", name, digests(got))
		}
		wantTag(t, s, "meta", name, dg(name))
	}
	if got := referrers(t, s, "meta", subject, ""); len(got) != len(metaNames) {
		t.Errorf("Referrers(meta) = %d entries, want %d", len(got), len(metaNames))
	}

	// Deleting one tag or entry leaves the look-alikes.
	if err := s.DeleteTag(t.Context(), "meta", "a_c"); err != nil {
		t.Fatalf("DeleteTag: %v", err)
	}
	if err := s.DeleteManifest(t.Context(), "%", dg("%")); err != nil {
		t.Fatalf("DeleteManifest: %v", err)
	}
	wantNoTag(t, s, "meta", "a_c")
	wantTag(t, s, "meta", "abc", dg("abc"))
	wantNoManifest(t, s, "%", dg("%"))
	get(t, s, "100%", dg("100%"))
	get(t, s, "_", dg("_"))

	if _, err := s.MarkPending(t.Context(), `it's`); err != nil {
		t.Fatalf("MarkPending: %v", err)
	}
	if err := s.ClearPendingRepository(t.Context(), `it'_`); err != nil {
		t.Fatalf("ClearPendingRepository: %v", err)
	}
	assertStrings(t, "Pending", pending(t, s), []string{`it's`})
}

// testConcurrent writes and reads from several goroutines at once: no
// errors (such as SQLITE_BUSY or serialization failures) and a consistent
// final state.
func testConcurrent(t *testing.T, s catalog.Store) {
	const workers, rounds = 8, 10
	common := image("shared", "common", at(0))
	errs := make(chan error, workers*rounds*10)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			ctx := t.Context()
			own := fmt.Sprintf("worker-%d", w)
			for r := range rounds {
				name := fmt.Sprintf("%d-%d", w, r)
				do := func(what string, err error) {
					if err != nil {
						errs <- fmt.Errorf("worker %d round %d: %s: %w", w, r, what, err)
					}
				}
				id, err := s.MarkPending(ctx, own)
				do("MarkPending", err)
				do("IndexPush common", s.IndexPush(ctx, common, "", 0))
				m := image("shared", name, at(r))
				do("IndexPush shared", s.IndexPush(ctx, m, "", 0))
				do("IndexPush shared tagged", s.IndexPush(ctx, m, name, 0))
				do("IndexPush shared latest", s.IndexPush(ctx, m, "latest", 0))
				o := image(own, name, at(r))
				do("IndexPush own", s.IndexPush(ctx, o, "", 0))
				do("IndexPush own latest", s.IndexPush(ctx, o, "latest", 0))
				_, err = s.Manifest(ctx, "shared", common.Digest)
				do("Manifest", err)
				_, err = s.Referrers(ctx, "shared", common.Digest, "")
				do("Referrers", err)
				_, err = s.Stats(ctx)
				do("Stats", err)
				do("ClearPending", s.ClearPending(ctx, id))
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	assertStats(t, s, catalog.Stats{
		Repositories: workers + 1,
		Manifests:    2*workers*rounds + 1,
		Tags:         workers*rounds + 1 + workers,
	})
	latest := resolve(t, s, "shared", "latest")
	owners := map[digest.Digest]bool{}
	for w := range workers {
		own := fmt.Sprintf("worker-%d", w)
		for r := range rounds {
			name := fmt.Sprintf("%d-%d", w, r)
			m := image("shared", name, at(r))
			owners[m.Digest] = true
			tags := []string{name}
			if m.Digest == latest {
				tags = append(tags, "latest")
			}
			assertManifest(t, get(t, s, "shared", m.Digest), withTags(m, tags...))
			get(t, s, own, image(own, name, at(r)).Digest)
		}
		wantTag(t, s, own, "latest", image(own, fmt.Sprintf("%d-%d", w, rounds-1), at(0)).Digest)
	}
	if !owners[latest] {
		t.Errorf("latest points at %s, not at any pushed manifest", latest)
	}
	assertManifest(t, get(t, s, "shared", common.Digest), common)
	assertStrings(t, "Pending", pending(t, s), nil)
}
