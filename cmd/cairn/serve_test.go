package main

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"

	"go.uber.org/zap"

	"github.com/cairn-dev/cairn/backend"
	"github.com/cairn-dev/cairn/backend/embedded"
	"github.com/cairn-dev/cairn/backend/upstream"
)

// TestMarksNeedNoSync checks when a served SQLite catalog's pending marks
// skip their own sync: only where something else makes them durable or
// unnecessary.
func TestMarksNeedNoSync(t *testing.T) {
	ctx := context.Background()
	dataDir := t.TempDir()
	eng, err := embedded.New(ctx, zap.NewNop(), embedded.Config{DataDir: dataDir})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	up, err := upstream.New(zap.NewNop(), upstream.Config{URL: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	cases := []struct {
		name   string
		engine backend.Backend
		dsn    string
		want   bool
	}{
		// syncfs exists on Linux only; elsewhere the engine syncs file by file.
		{"embedded, catalog in the data directory", eng, filepath.Join(dataDir, "catalog.db"), runtime.GOOS == "linux"},
		{"embedded, sqlite:// form", eng, "sqlite://" + filepath.Join(dataDir, "catalog.db"), runtime.GOOS == "linux"},
		{"embedded, PostgreSQL", eng, "postgres://127.0.0.1/test", false},
		{"upstream: walked at every start", up, filepath.Join(dataDir, "catalog.db"), true},
	}
	// A catalog on another filesystem than the storage: its marks sync.
	if otherFilesystem(t, dataDir, "/dev/shm") {
		cases = append(cases, struct {
			name   string
			engine backend.Backend
			dsn    string
			want   bool
		}{"embedded, catalog on another filesystem", eng, "/dev/shm/catalog.db", false})
	} else {
		t.Log("no second filesystem at /dev/shm: the case of a catalog on another filesystem than the storage is not run")
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := marksNeedNoSync(tc.engine, tc.dsn); got != tc.want {
				t.Errorf("marksNeedNoSync = %v, want %v", got, tc.want)
			}
		})
	}
}

// otherFilesystem reports whether other exists on a filesystem of its own,
// apart from dir's.
func otherFilesystem(t *testing.T, dir, other string) bool {
	t.Helper()
	a, errA := os.Stat(dir)
	b, errB := os.Stat(other)
	if errA != nil || errB != nil || !b.IsDir() {
		return false
	}
	sa, okA := a.Sys().(*syscall.Stat_t)
	sb, okB := b.Sys().(*syscall.Stat_t)
	return okA && okB && sa.Dev != sb.Dev
}
