package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/opencontainers/go-digest"

	"github.com/cairn-dev/cairn/catalog/sqlite"
)

// TestCatalogRebuiltWhenLost: a catalog deleted (or a new one over old
// storage) is rebuilt from storage at start.
func TestCatalogRebuiltWhenLost(t *testing.T) {
	c := startCairn(t)
	dataset, emb, notes := pushDataset(t, c, c.addr)
	c.stop()
	for _, f := range []string{"catalog.db", "catalog.db-wal", "catalog.db-shm"} {
		if err := os.Remove(filepath.Join(c.dataDir, f)); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	c.start()
	idx, _ := referrersOf(t, "http://"+c.addr, "datasets/abstracts", dataset, "")
	got := map[string]string{}
	for _, m := range idx.Manifests {
		got[m.Digest] = m.ArtifactType
	}
	mustf(t, len(got) == 2 && got[emb] == embeddingsType && got[notes] == notesType, "referrers after rebuild: %+v", idx.Manifests)
	mustf(t, strings.Contains(c.log(), "reindexing everything"), "the log does not say the catalog was rebuilt")
}

// TestPendingRepairedAtStart: a manifest the engine stored but the catalog
// missed (a crash between the two) is indexed at the next start, because
// its pending mark survived.
func TestPendingRepairedAtStart(t *testing.T) {
	c := startCairn(t)
	dataset, emb, _ := pushDataset(t, c, c.addr)
	c.kill()

	// Make the state a crash between engine and catalog leaves behind.
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(c.dataDir, "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.MarkPending(ctx, "datasets/abstracts"); err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteManifest(ctx, "datasets/abstracts", digest.Digest(emb)); err != nil {
		t.Fatal(err)
	}
	st.Close()

	c.start()
	idx, _ := referrersOf(t, "http://"+c.addr, "datasets/abstracts", dataset, embeddingsType)
	mustf(t, len(idx.Manifests) == 1 && idx.Manifests[0].Digest == emb, "pending repository not repaired: %+v", idx.Manifests)
}

// TestReindexCommand: cairn reindex rebuilds the catalog from storage and
// says what it did.
func TestReindexCommand(t *testing.T) {
	c := startCairn(t)
	dataset, _, notes := pushDataset(t, c, c.addr)
	c.stop()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(c.dataDir, "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteManifest(ctx, "datasets/abstracts", digest.Digest(notes)); err != nil {
		t.Fatal(err)
	}
	st.Close()
	out := c.runCairn("reindex", "--data-dir", c.dataDir)
	mustf(t, strings.Contains(out, "reindexed 1 repositories, 3 manifests"), "reindex said: %s", out)
	c.start()
	idx, _ := referrersOf(t, "http://"+c.addr, "datasets/abstracts", dataset, "")
	mustf(t, len(idx.Manifests) == 2, "after reindex: %+v", idx.Manifests)
}

// TestKillDuringPushes: cairn killed with SIGKILL while clients push keeps
// every push it answered 201, and the catalog agrees with the engine.
func TestKillDuringPushes(t *testing.T) {
	c := startCairn(t)
	base := "http://" + c.addr
	type pushedManifest struct {
		tag string
		m   []byte
	}
	var answered []pushedManifest
	stop := time.After(1500 * time.Millisecond)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			m, ok := tryImageManifest(base, "crash/test", []byte("layer "+strings.Repeat("x", i)))
			if !ok {
				return
			}
			tag := fmt.Sprintf("v%04d", i)
			res, err := putManifest(base, "crash/test", tag, m)
			if err != nil {
				return
			}
			if res == http.StatusCreated {
				answered = append(answered, pushedManifest{tag, m})
			}
		}
	}()
	<-stop
	c.kill()
	<-done
	mustf(t, len(answered) > 0, "no push was answered before the kill")
	c.start()
	for _, p := range answered {
		code, _, body := do(t, http.MethodGet, base+"/v2/crash/test/manifests/"+p.tag, nil, map[string]string{"Accept": ociManifest})
		mustf(t, code == http.StatusOK && string(body) == string(p.m), "answered push %s lost after kill -9: %d", p.tag, code)
	}
	t.Logf("%d pushes answered before SIGKILL, all intact after restart", len(answered))
}

// pgSchema makes a schema of its own on the test PostgreSQL server (the
// local one, or CAIRN_TEST_POSTGRES), dropped when the test ends. It
// returns the server's DSN, the schema and an open connection.
func pgSchema(t *testing.T) (dsn, schema string, conn *pgx.Conn) {
	t.Helper()
	dsn = os.Getenv("CAIRN_TEST_POSTGRES")
	if dsn == "" {
		dsn = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("PostgreSQL at %s is unreachable: %v (.ci/run starts it; set CAIRN_TEST_POSTGRES for another server)", dsn, err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema = "cairn_e2e_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = conn.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		conn.Close(context.Background())
	})
	return dsn, schema, conn
}

// TestPostgresCatalog runs the walk-through with the PostgreSQL catalog, in
// a schema of its own that is dropped afterwards.
func TestPostgresCatalog(t *testing.T) {
	ctx := context.Background()
	dsn, schema, conn := pgSchema(t)
	c := startCairn(t, "--catalog", dsn+"&search_path="+schema)
	dataset, emb, _ := pushDataset(t, c, c.addr)
	c.restart()
	idx, _ := referrersOf(t, "http://"+c.addr, "datasets/abstracts", dataset, embeddingsType)
	mustf(t, len(idx.Manifests) == 1 && idx.Manifests[0].Digest == emb, "postgres referrers: %+v", idx.Manifests)
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+schema+".manifests").Scan(&n); err != nil {
		t.Fatal(err)
	}
	mustf(t, n == 3, "postgres holds %d manifests, want 3", n)
	code, _, body := do(t, http.MethodGet, c.url("/version"), nil, nil)
	mustf(t, code == 200 && strings.Contains(string(body), `"catalog":"postgres"`), "version: %s", body)
}
