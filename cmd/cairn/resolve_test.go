package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// failingReader yields some bytes, then an error.
type failingReader struct{ sent bool }

func (r *failingReader) Read(p []byte) (int, error) {
	if r.sent {
		return 0, errors.New("digest mismatch")
	}
	r.sent = true
	return copy(p, "partial"), nil
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func TestWriteAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.db")

	if err := writeAtomic(path, strings.NewReader("first")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "first" {
		t.Fatalf("got %q", b)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v", fi.Mode())
	}

	// A failure leaves the file as it was and no temporary file behind.
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := writeAtomic(path, &failingReader{}); err == nil {
		t.Fatal("no error")
	}
	if b, _ := os.ReadFile(path); string(b) != "first" {
		t.Fatalf("target changed to %q", b)
	}
	if names := dirNames(t, dir); len(names) != 1 {
		t.Fatalf("left behind: %v", names)
	}

	// Success replaces it, keeping its permissions.
	if err := writeAtomic(path, strings.NewReader("second")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "second" {
		t.Fatalf("got %q", b)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode())
	}

	// A new file that fails is never created.
	fresh := filepath.Join(dir, "fresh")
	if err := writeAtomic(fresh, &failingReader{}); err == nil {
		t.Fatal("no error")
	}
	if _, err := os.Stat(fresh); !os.IsNotExist(err) {
		t.Fatalf("fresh: %v", err)
	}
	if names := dirNames(t, dir); len(names) != 1 {
		t.Fatalf("left behind: %v", names)
	}

	if err := writeAtomic(dir, strings.NewReader("x")); err == nil {
		t.Error("wrote over a directory")
	}
}

// TestResolveCommand runs cairn resolve against a fake server, once with
// the right bytes and once with bytes that do not match the id.
func TestResolveCommand(t *testing.T) {
	content := []byte("papers of iclr-2025")
	sum := sha256.Sum256(content)
	hexSum := hex.EncodeToString(sum[:])
	served := content
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/api/v1/resolve" && r.URL.Query().Get("id") == "hash://sha256/"+hexSum:
			http.Redirect(w, r, "/v2/datasets/iclr/blobs/sha256:"+hexSum, http.StatusTemporaryRedirect)
		case r.URL.Path == "/api/v1/resolve":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"error":{"code":"BLOB_UNKNOWN","message":"no repository holds `+r.URL.Query().Get("id")+`"}}`)
		default:
			_, _ = w.Write(served)
		}
	}))
	defer srv.Close()
	run := func(args ...string) (string, error) {
		cmd := newRootCmd()
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(io.Discard)
		cmd.SetArgs(append([]string{"resolve", "--server", srv.URL}, args...))
		err := cmd.Execute()
		return out.String(), err
	}
	id := "hash://sha256/" + hexSum

	out, err := run(id)
	if err != nil || out != string(content) {
		t.Fatalf("stdout: %q %v", out, err)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "iclr.db")
	if _, err := run(id, "-o", file); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(file); !bytes.Equal(b, content) {
		t.Fatalf("file holds %q", b)
	}

	served = []byte("papers of iclr-2026") // the server lies
	_, err = run(id, "-o", file)
	if err == nil || !strings.Contains(err.Error(), "digest mismatch") || !strings.Contains(err.Error(), "was not written") {
		t.Fatalf("err = %v", err)
	}
	if b, _ := os.ReadFile(file); !bytes.Equal(b, content) {
		t.Fatalf("file changed to %q", b)
	}
	if names := dirNames(t, dir); len(names) != 1 {
		t.Fatalf("left behind: %v", names)
	}

	unknown := "hash://sha256/" + strings.Repeat("0", 64)
	if _, err := run(unknown); err == nil || err.Error() != "no repository holds "+unknown {
		t.Errorf("unknown: %v", err)
	}
	if _, err := run(id, "-o", filepath.Join(dir, "missing", "x")); err == nil {
		t.Error("wrote into a missing directory")
	}
}
