package client

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/opencontainers/go-digest"
	"github.com/regclient/regclient/types/descriptor"
)

func TestSanitizeTag(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"neurips-2024_Qwen/Qwen3-Embedding-0.6B", "neurips-2024_qwen-qwen3-embedding-0.6b"},
		{"NeurIPS 2024 :: final", "neurips-2024-final"},
		{"..hidden", "hidden"},
		{"--x--", "x"},
		{"_ok", "_ok"},
		{"é", ""},
		{strings.Repeat("a", 200), strings.Repeat("a", 128)},
		{strings.Repeat("a", 127) + "/b", strings.Repeat("a", 127)},
	} {
		if got := SanitizeTag(tc.in); got != tc.want {
			t.Errorf("SanitizeTag(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestFillTagTemplate(t *testing.T) {
	ann := map[string]string{
		"org.example.conference": "NeurIPS", "org.example.year": "2024",
		"org.example.model": "Qwen/Qwen3-Embedding-0.6B", "model": "exact",
		"a.dup": "1", "b.dup": "2",
	}
	for _, tc := range []struct{ tmpl, want, err string }{
		{"{conference}-{year}_{org.example.model}", "neurips-2024_qwen-qwen3-embedding-0.6b", ""},
		{"{model}", "exact", ""},
		{"v{ year }", "v2024", ""},
		{"{missing}", "", "no annotation {missing}"},
		{"{dup}", "", "a.dup, b.dup"},
		{"{year", "", "{ without }"},
		{"year}", "", "} without {"},
		{"{}", "", "names no annotation"},
		{"///", "", "empty tag"},
	} {
		got, err := FillTagTemplate(tc.tmpl, ann)
		switch {
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("FillTagTemplate(%q) = %q, %v; want %q", tc.tmpl, got, err, tc.want)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err) || !errors.Is(err, ErrInvalidInput)):
			t.Errorf("FillTagTemplate(%q) error %v; want one saying %q", tc.tmpl, err, tc.err)
		}
	}
}

func TestParseReference(t *testing.T) {
	plain := NewRegistry(WithDockerConfig(false))
	local := NewRegistry(WithDockerConfig(false), WithDefaultRegistry("127.0.0.1:5000"))
	for _, tc := range []struct {
		r                  *Registry
		in, registry, repo string
		bad                bool
	}{
		{plain, "127.0.0.1:5000/datasets/abstracts:2024", "127.0.0.1:5000", "datasets/abstracts", false},
		{plain, "localhost/x", "localhost", "x", false},
		{local, "datasets/abstracts:2024", "127.0.0.1:5000", "datasets/abstracts", false},
		{local, "registry.example.com/a/b", "registry.example.com", "a/b", false},
		{plain, "", "", "", true},
		{plain, "http://127.0.0.1:5000/x", "", "", true},
		{plain, "127.0.0.1:5000/Upper", "", "", true},
		{plain, "127.0.0.1:5000/x:bad tag", "", "", true},
	} {
		got, err := tc.r.ParseReference(tc.in)
		if tc.bad {
			if !errors.Is(err, ErrInvalidInput) {
				t.Errorf("ParseReference(%q) = %v, %v; want ErrInvalidInput", tc.in, got, err)
			}
			continue
		}
		if err != nil || got.Registry != tc.registry || got.Repository != tc.repo {
			t.Errorf("ParseReference(%q) = %s %s, %v", tc.in, got.Registry, got.Repository, err)
		}
	}
}

func TestRefParts(t *testing.T) {
	for _, tc := range []struct {
		in               string
		tagged, digested bool
	}{
		{"127.0.0.1:5000/a/b", false, false},
		{"127.0.0.1:5000/a/b:t", true, false},
		{"127.0.0.1:5000/a/b@sha256:00", false, true},
		{"127.0.0.1:5000/a/b:t@sha256:00", true, true},
	} {
		if tg, dg := refParts(tc.in); tg != tc.tagged || dg != tc.digested {
			t.Errorf("refParts(%q) = %v %v", tc.in, tg, dg)
		}
	}
}

func TestLayerNaming(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	os.WriteFile("has:colon", nil, 0o644)
	for _, tc := range []struct{ in, path, mt string }{
		{"a.db", "a.db", ""},
		{"a.db:application/vnd.x", "a.db", "application/vnd.x"},
		{"has:colon", "has:colon", ""},
		{"dir/x:not a type", "dir/x:not a type", ""},
	} {
		if p, mt := splitMediaType(tc.in); p != tc.path || mt != tc.mt {
			t.Errorf("splitMediaType(%q) = %q %q", tc.in, p, mt)
		}
	}
	for in, want := range map[string]string{"a.db": "a.db", "./sub/x.npy": "sub/x.npy", "sub/": "sub", "/abs/x.bin": "x.bin", "../up/y": "y"} {
		if got := layerTitle(in); got != want {
			t.Errorf("layerTitle(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{"x.json": "application/json", "X.PARQUET": "application/vnd.apache.parquet", "x.unknownext": "application/octet-stream", "x.npy": "application/x-npy"} {
		if got := guessMediaType(in); got != want {
			t.Errorf("guessMediaType(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPackDirReproducible(t *testing.T) {
	mk := func(mtime time.Time) string {
		dir := filepath.Join(t.TempDir(), "notes")
		os.MkdirAll(filepath.Join(dir, "sub"), 0o700)
		os.WriteFile(filepath.Join(dir, "b.txt"), []byte("b"), 0o600)
		os.WriteFile(filepath.Join(dir, "sub", "a.sh"), []byte("#!/bin/sh"), 0o700)
		os.Symlink("b.txt", filepath.Join(dir, "link"))
		for _, p := range []string{"b.txt", "sub/a.sh", "sub", "."} {
			os.Chtimes(filepath.Join(dir, p), mtime, mtime)
		}
		return dir
	}
	pack := func(dir string) ([]byte, digest.Digest) {
		var buf bytes.Buffer
		d, err := packDir(dir, "notes", &buf)
		if err != nil {
			t.Fatal(err)
		}
		return buf.Bytes(), d
	}
	a, da := pack(mk(time.Unix(1000, 0)))
	b, db := pack(mk(time.Now()))
	if !bytes.Equal(a, b) || da != db {
		t.Fatal("the same content packed to different bytes")
	}
	dest := filepath.Join(t.TempDir(), "out")
	if err := unpackDir(bytes.NewReader(a), "notes", dest, da); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(dest, "sub", "a.sh")); string(got) != "#!/bin/sh" {
		t.Errorf("unpacked a.sh = %q", got)
	}
	if fi, _ := os.Stat(filepath.Join(dest, "sub", "a.sh")); fi.Mode().Perm() != 0o755 {
		t.Errorf("a.sh mode %v", fi.Mode())
	}
	if l, _ := os.Readlink(filepath.Join(dest, "link")); l != "b.txt" {
		t.Errorf("link = %q", l)
	}
	if err := unpackDir(bytes.NewReader(a), "notes", filepath.Join(t.TempDir(), "x"), digest.FromString("other")); !errors.Is(err, ErrDigestMismatch) {
		t.Errorf("unpack with the wrong tar digest: %v", err)
	}
}

// TestUnpackRefuses feeds archives that try to write outside the target.
func TestUnpackRefuses(t *testing.T) {
	for name, hdr := range map[string]tar.Header{
		"other prefix": {Name: "other/x", Typeflag: tar.TypeReg},
		"climb":        {Name: "notes/../../x", Typeflag: tar.TypeReg},
		"prefix glued": {Name: "notesx/y", Typeflag: tar.TypeReg},
		"abs link":     {Name: "notes/l", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"},
		"up link":      {Name: "notes/l", Typeflag: tar.TypeSymlink, Linkname: "../../x"},
		"device":       {Name: "notes/d", Typeflag: tar.TypeChar},
	} {
		var buf bytes.Buffer
		gz := gzip.NewWriter(&buf)
		tw := tar.NewWriter(gz)
		hdr.Mode = 0o644
		tw.WriteHeader(&hdr)
		tw.Close()
		gz.Close()
		if err := unpackDir(&buf, "notes", filepath.Join(t.TempDir(), "out"), ""); err == nil {
			t.Errorf("%s: unpacked", name)
		}
	}
}

func TestCheckRequire(t *testing.T) {
	ann := map[string]string{"org.example.model": "qwen3"}
	if err := checkRequire("r", ann, map[string]string{"org.example.model": "qwen3"}); err != nil {
		t.Error(err)
	}
	err := checkRequire("r", ann, map[string]string{"org.example.model": "bge-m3"})
	if err == nil || !strings.Contains(err.Error(), "org.example.model=qwen3") || !strings.Contains(err.Error(), "org.example.model=bge-m3") {
		t.Errorf("mismatch: %v", err)
	}
	if err := checkRequire("r", ann, map[string]string{"k": "v"}); err == nil || !strings.Contains(err.Error(), "no annotation k") {
		t.Errorf("missing: %v", err)
	}
}

func TestSelectLayers(t *testing.T) {
	layer := func(title string) descriptor.Descriptor {
		return descriptor.Descriptor{MediaType: "x", Digest: digest.FromString(title), Size: 1, Annotations: map[string]string{AnnotationTitle: title}}
	}
	descs := []descriptor.Descriptor{layer("a.db"), layer("emb/x.npy"), layer("b.json"), {Digest: digest.FromString("untitled")}}
	for _, tc := range []struct {
		only []string
		want int
		err  error
	}{
		{nil, 3, nil},
		{[]string{"a.db"}, 1, nil},
		{[]string{"*.db", "*.json"}, 2, nil},
		{[]string{"emb/*"}, 1, nil},
		{[]string{"nothing"}, 0, ErrNotFound},
	} {
		got, err := selectLayers(descs, tc.only)
		if len(got) != tc.want || !errors.Is(err, tc.err) {
			t.Errorf("only %v: %d layers, %v", tc.only, len(got), err)
		}
	}
	for _, bad := range []string{"../x", "/etc/x", "a/../../x"} {
		if _, err := selectLayers([]descriptor.Descriptor{layer(bad)}, nil); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("title %q: %v", bad, err)
		}
	}
	if _, err := selectLayers([]descriptor.Descriptor{layer("a"), layer("a")}, nil); err == nil {
		t.Error("two layers with one title")
	}
}

var _ io.Reader = (*progressReader)(nil)
