package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cairn-dev/cairn/catalog"
	"github.com/cairn-dev/cairn/catalog/postgres"
	"github.com/cairn-dev/cairn/catalog/sqlquery"
	"github.com/cairn-dev/cairn/catalog/storetest"
)

// defaultDSN is the test server unless CAIRN_TEST_POSTGRES names another.
const defaultDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// testDSN returns the DSN of the test server.
func testDSN() string {
	if dsn := os.Getenv("CAIRN_TEST_POSTGRES"); dsn != "" {
		return dsn
	}
	return defaultDSN
}

// redact hides a password in a URL DSN, for messages.
func redact(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.Scheme != "" {
		return u.Redacted()
	}
	return "(keyword/value DSN)"
}

// admin connects to the test server to create and drop schemas. An
// unreachable server fails the test, unless CAIRN_SKIP_POSTGRES=1.
func admin(t testing.TB) *pgx.Conn {
	t.Helper()
	dsn := testDSN()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, dsn)
	if err == nil {
		err = c.Ping(ctx)
	}
	if err != nil {
		if os.Getenv("CAIRN_SKIP_POSTGRES") == "1" {
			t.Skipf("skipping: PostgreSQL at %s is unreachable (%v) and CAIRN_SKIP_POSTGRES=1", redact(dsn), err)
		}
		t.Fatalf("PostgreSQL at %s is unreachable: %v\n(set CAIRN_TEST_POSTGRES to another DSN, or CAIRN_SKIP_POSTGRES=1 to skip these tests)", redact(dsn), err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// freshSchema creates a uniquely named schema, dropped when t ends, and
// returns its name and the test DSN with search_path set to it.
func freshSchema(t testing.TB, adm *pgx.Conn) (schema, dsn string) {
	t.Helper()
	b := make([]byte, 8)
	rand.Read(b)
	schema = "cairn_test_" + hex.EncodeToString(b)
	if _, err := adm.Exec(t.Context(), "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		t.Fatalf("create schema %s: %v", schema, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := adm.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return schema, withParam(testDSN(), "search_path", schema)
}

// withParam returns dsn with one more parameter, for URL and keyword/value
// DSNs. value must not need quoting.
func withParam(dsn, key, value string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			panic(err)
		}
		q := u.Query()
		q.Set(key, value)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " " + key + "=" + value
}

// open opens a store on a fresh schema.
func open(t *testing.T, adm *pgx.Conn) (catalog.Store, string) {
	t.Helper()
	schema, dsn := freshSchema(t, adm)
	s, err := postgres.Open(t.Context(), dsn)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s, schema
}

func TestStore(t *testing.T) {
	adm := admin(t)
	storetest.Run(t, func(t *testing.T) catalog.Store {
		s, _ := open(t, adm)
		return s
	})
}

// TestPlansAgree checks that every plan of the artifacts query answers
// alike (see storetest.PlansAgree).
func TestPlansAgree(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds 3,000 artifacts")
	}
	s, _ := open(t, admin(t))
	defer s.Close()
	storetest.PlansAgree(t, s, sqlquery.Postgres, postgres.ArtifactRows(t.Context(), s.(*postgres.Store)))
}

func TestTablesInSearchPathSchema(t *testing.T) {
	adm := admin(t)
	s, schema := open(t, adm)
	defer s.Close()
	var n int
	err := adm.QueryRow(t.Context(), `
SELECT count(*) FROM information_schema.tables
WHERE table_schema = $1 AND table_name IN ('schema_version', 'manifests', 'tags', 'layers', 'annotations', 'pending')`,
		schema).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	if n != 6 {
		t.Errorf("schema %s holds %d of the 6 tables", schema, n)
	}
	var version int
	if err := adm.QueryRow(t.Context(), `SELECT version FROM `+pgx.Identifier{schema, "schema_version"}.Sanitize()).Scan(&version); err != nil {
		t.Fatal(err)
	}
	if version < 1 {
		t.Errorf("schema version = %d", version)
	}
}

func TestReopenAndConcurrentOpen(t *testing.T) {
	adm := admin(t)
	_, dsn := freshSchema(t, adm)
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for range 6 {
		wg.Go(func() {
			s, err := postgres.Open(t.Context(), dsn)
			if err == nil {
				err = s.Ping(t.Context())
				s.Close()
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Open: %v", err)
		}
	}
}

func TestOpenMissingSchema(t *testing.T) {
	admin(t)
	dsn := withParam(testDSN(), "search_path", "cairn_test_does_not_exist")
	if s, err := postgres.Open(t.Context(), dsn); err == nil {
		s.Close()
		t.Fatal("Open with a search_path naming no schema: no error")
	}
}

func TestPoolMaxConns(t *testing.T) {
	adm := admin(t)
	_, dsn := freshSchema(t, adm)
	for _, bad := range []string{"0", "x"} {
		if s, err := postgres.Open(t.Context(), withParam(dsn, "pool_max_conns", bad)); err == nil {
			s.Close()
			t.Errorf("Open with pool_max_conns=%s: no error", bad)
		}
	}
	s, err := postgres.Open(t.Context(), withParam(dsn, "pool_max_conns", "1"))
	if err != nil {
		t.Fatalf("Open with pool_max_conns=1: %v", err)
	}
	defer s.Close()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if _, err := s.Stats(t.Context()); err != nil {
				t.Errorf("Stats: %v", err)
			}
		})
	}
	wg.Wait()
}

func TestClosed(t *testing.T) {
	adm := admin(t)
	s, _ := open(t, adm)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Ping(t.Context()); err == nil {
		t.Error("Ping after Close: no error")
	}
}
