package facade_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"go.uber.org/zap"

	"github.com/cairn-dev/cairn/backend/embedded"
	"github.com/cairn-dev/cairn/catalog/sqlite"
	"github.com/cairn-dev/cairn/catalog/storetest"
	"github.com/cairn-dev/cairn/facade"
	"github.com/cairn-dev/cairn/registry"
)

// BenchmarkLineageAPI measures GET /api/v1/lineage/{ref}?direction=down
// from the root of an 11,110-node fan-out over a SQLite catalog: the walk
// and the reading of every node it returns.
func BenchmarkLineageAPI(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	eng, err := embedded.New(ctx, zap.NewNop(), embedded.Config{DataDir: filepath.Join(dir, "data")})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = eng.Close() })
	st, err := sqlite.Open(ctx, filepath.Join(dir, "catalog.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Close() })
	g := storetest.SeedLineage(b, st, 12000, storetest.BenchSeed)
	core, err := registry.New(zap.NewNop(), eng, st)
	if err != nil {
		b.Fatal(err)
	}
	h, err := facade.New(zap.NewNop(), core, eng, st)
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(h)
	b.Cleanup(srv.Close)
	url := srv.URL + "/api/v1/lineage/" + g.FanoutRoot.Repository + "@" + g.FanoutRoot.Digest.String() + "?direction=down"
	b.ResetTimer()
	for b.Loop() {
		res, err := http.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		var ans struct{ Nodes []json.RawMessage }
		err = json.NewDecoder(res.Body).Decode(&ans)
		res.Body.Close()
		if err != nil || res.StatusCode != http.StatusOK || len(ans.Nodes) != g.FanoutSize+1 {
			b.Fatalf("%d, %d nodes, %v", res.StatusCode, len(ans.Nodes), err)
		}
	}
}
