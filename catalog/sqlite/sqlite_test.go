package sqlite_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/cairn-dev/cairn/catalog"
	"github.com/cairn-dev/cairn/catalog/sqlite"
	"github.com/cairn-dev/cairn/catalog/storetest"
)

// TestStore runs the shared suite on the store as cairn serve opens it,
// with the in-memory index answering queries.
func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) catalog.Store {
		s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "catalog.db"), sqlite.InMemoryIndex())
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s
	})
}

// TestStoreSQL runs the shared suite on the store without the index: SQL
// answers every query.
func TestStoreSQL(t *testing.T) {
	storetest.Run(t, func(t *testing.T) catalog.Store {
		s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "catalog.db"))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s
	})
}

func TestReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "catalog.db")
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	m := catalog.Manifest{Repository: "r", Digest: digest.FromString("reopen"), MediaType: "x", PushedAt: time.Now()}
	if err := s.IndexPush(t.Context(), m, "", 0); err != nil {
		t.Fatalf("IndexPush: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s, err = sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	if _, err := s.Manifest(t.Context(), "r", m.Digest); err != nil {
		t.Fatalf("Manifest after reopen: %v", err)
	}
}

func TestOpenOddPath(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a b?c%20d#e'f")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "cat?alog%.db")
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open(%q): %v", path, err)
	}
	defer s.Close()
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("database file not at the given path: %v", err)
	}
}

func TestOpenRefusesNonFiles(t *testing.T) {
	for _, path := range []string{"", ":memory:", "file:x.db?mode=memory"} {
		if s, err := sqlite.Open(t.Context(), path); err == nil {
			s.Close()
			t.Errorf("Open(%q): no error", path)
		}
	}
}
