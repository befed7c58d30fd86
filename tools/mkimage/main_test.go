package main

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/elf"
	"encoding/binary"
	"errors"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

var created = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// fakeELF writes the smallest file debug/elf reads as a 64-bit executable
// for machine; with interp it also asks for a dynamic loader.
func fakeELF(t *testing.T, machine elf.Machine, interp bool) string {
	t.Helper()
	const ehsize, phentsize = 64, 56
	loader := []byte("/lib64/ld-linux-x86-64.so.2\x00")
	hdr := elf.Header64{
		Ident:     [elf.EI_NIDENT]byte{0x7f, 'E', 'L', 'F', byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)},
		Type:      uint16(elf.ET_EXEC),
		Machine:   uint16(machine),
		Version:   uint32(elf.EV_CURRENT),
		Ehsize:    ehsize,
		Phentsize: phentsize,
	}
	if interp {
		hdr.Phoff, hdr.Phnum = ehsize, 1
	}
	var b bytes.Buffer
	must(t, binary.Write(&b, binary.LittleEndian, hdr))
	if interp {
		must(t, binary.Write(&b, binary.LittleEndian, elf.Prog64{
			Type: uint32(elf.PT_INTERP), Flags: uint32(elf.PF_R),
			Off: ehsize + phentsize, Filesz: uint64(len(loader)), Memsz: uint64(len(loader)), Align: 1,
		}))
		b.Write(loader)
	}
	p := filepath.Join(t.TempDir(), "cairn")
	must(t, os.WriteFile(p, b.Bytes(), 0o755))
	return p
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestRefusals(t *testing.T) {
	amd64 := fakeELF(t, elf.EM_X86_64, false)
	arm64 := fakeELF(t, elf.EM_AARCH64, false)
	dynamic := fakeELF(t, elf.EM_X86_64, true)
	text := filepath.Join(t.TempDir(), "cairn.sh")
	must(t, os.WriteFile(text, []byte("#!/bin/sh\necho cairn\n"), 0o755))
	ok := []string{"--version", "v1", "--created", "2026-01-02T03:04:05Z"}
	tests := []struct {
		name string
		args []string
		env  string // SOURCE_DATE_EPOCH, when set
		want string
	}{
		{"not ELF", []string{"--binary", "linux/amd64=" + text}, "", "is not an ELF executable"},
		{"wrong arch", []string{"--binary", "linux/arm64=" + amd64}, "", "is built for EM_X86_64, not EM_AARCH64: build it with GOOS=linux GOARCH=arm64"},
		{"wrong arch the other way", []string{"--binary", "linux/amd64=" + arm64}, "", "is built for EM_AARCH64, not EM_X86_64"},
		{"dynamically linked", []string{"--binary", "linux/amd64=" + dynamic}, "", "dynamically linked"},
		{"missing file", []string{"--binary", "linux/amd64=" + filepath.Join(t.TempDir(), "nope")}, "", "no such file or directory"},
		{"unknown platform", []string{"--binary", "linux/riscv64=" + amd64}, "", `unknown platform "linux/riscv64": use linux/amd64 or linux/arm64`},
		{"platform without OS", []string{"--binary", "amd64=" + amd64}, "", `unknown platform "amd64"`},
		{"no path", []string{"--binary", "linux/amd64"}, "", "give PLATFORM=PATH"},
		{"platform twice", []string{"--binary", "linux/amd64=" + amd64, "--binary", "linux/amd64=" + amd64}, "", "platform linux/amd64 is given twice"},
		{"no binary", nil, "", "no --binary given"},
		{"stray argument", []string{"--binary", "linux/amd64=" + amd64, "extra"}, "", `unexpected argument "extra"`},
		{"bad created", []string{"--binary", "linux/amd64=" + amd64, "--created", "yesterday"}, "", `--created "yesterday" is not an RFC 3339 time`},
		{"bad SOURCE_DATE_EPOCH", []string{"--binary", "linux/amd64=" + amd64, "--created", ""}, "soon", `SOURCE_DATE_EPOCH "soon" is not a count of seconds`},
		{"bad reference", []string{"--binary", "linux/amd64=" + amd64, "--push", "Registry/Cairn:v1"}, "", `--push "Registry/Cairn:v1"`},
		{"URL for a reference", []string{"--binary", "linux/amd64=" + amd64, "--push", "http://localhost:5000/cairn:v1"}, "", "not a URL"},
		{"insecure without push", []string{"--binary", "linux/amd64=" + amd64, "--insecure"}, "", "--insecure applies to --push"},
		{"empty version", []string{"--binary", "linux/amd64=" + amd64, "--version", ""}, "", "--version is empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.env != "" {
				t.Setenv("SOURCE_DATE_EPOCH", tc.env)
			}
			// Later flags win, so a case overrides the valid defaults.
			args := append(slices.Clone(ok), tc.args...)
			var out bytes.Buffer
			err := run(context.Background(), args, &out)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one saying %q", err, tc.want)
			}
			if out.Len() > 0 {
				t.Errorf("printed %q despite the error", out.String())
			}
		})
	}
}

// testOptions are the options of a build of both platforms from fake
// binaries.
func testOptions(t *testing.T) options {
	return options{
		binaries: binaryFlag{
			"linux/amd64": fakeELF(t, elf.EM_X86_64, false),
			"linux/arm64": fakeELF(t, elf.EM_AARCH64, false),
		},
		version:  "v1.2.3",
		revision: "0123456789abcdef0123456789abcdef01234567",
		source:   defaultSource,
		created:  created,
	}
}

// tarEntry is what the tests check of a layer's entry.
type tarEntry struct {
	name     string
	typ      byte
	mode     int64
	uid, gid int
}

func TestLayer(t *testing.T) {
	dir := func(name string, mode int64) tarEntry { return tarEntry{name, tar.TypeDir, mode, 0, 0} }
	file := func(name string, mode int64) tarEntry { return tarEntry{name, tar.TypeReg, mode, 0, 0} }
	head := []tarEntry{dir("etc/", 0o755), dir("etc/cairn/", 0o755), file("etc/group", 0o644), file("etc/passwd", 0o644)}
	certs := []tarEntry{dir("etc/ssl/", 0o755), dir("etc/ssl/certs/", 0o755), file("etc/ssl/certs/ca-certificates.crt", 0o644)}
	tail := []tarEntry{
		dir("home/", 0o755),
		{"home/nonroot/", tar.TypeDir, 0o700, 65532, 65532},
		dir("root/", 0o700),
		dir("tmp/", 0o1777),
		dir("usr/", 0o755), dir("usr/local/", 0o755), dir("usr/local/bin/", 0o755),
		file("usr/local/bin/cairn", 0o755),
		dir("var/", 0o755), dir("var/lib/", 0o755),
		{"var/lib/cairn/", tar.TypeDir, 0o700, 65532, 65532},
	}
	tests := []struct {
		name    string
		caCerts []byte
		want    []tarEntry
	}{
		{"with the host's CA certificates", []byte("-----BEGIN CERTIFICATE-----\n"), slices.Concat(head, certs, tail)},
		{"without", nil, slices.Concat(head, tail)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := testOptions(t)
			idx, err := buildIndex(o, tc.caCerts)
			must(t, err)
			for _, platform := range []string{"linux/amd64", "linux/arm64"} {
				img := imageFor(t, idx, platform)
				layers, err := img.Layers()
				must(t, err)
				if len(layers) != 1 {
					t.Fatalf("%s: %d layers, want 1", platform, len(layers))
				}
				got, bodies := readLayer(t, layers[0])
				if !slices.Equal(got, tc.want) {
					t.Errorf("%s: entries\n%v\nwant\n%v", platform, got, tc.want)
				}
				bin, err := os.ReadFile(o.binaries[platform])
				must(t, err)
				if !bytes.Equal(bodies["usr/local/bin/cairn"], bin) {
					t.Errorf("%s: /usr/local/bin/cairn is not the given binary", platform)
				}
				if !bytes.Equal(bodies["etc/ssl/certs/ca-certificates.crt"], tc.caCerts) {
					t.Errorf("%s: ca-certificates.crt %q, want %q", platform, bodies["etc/ssl/certs/ca-certificates.crt"], tc.caCerts)
				}
				if !strings.Contains(string(bodies["etc/passwd"]), "\nnonroot:x:65532:65532:nonroot:/home/nonroot:") ||
					!strings.Contains(string(bodies["etc/group"]), "\nnonroot:x:65532:\n") {
					t.Errorf("%s: no nonroot user:\n%s%s", platform, bodies["etc/passwd"], bodies["etc/group"])
				}
			}
		})
	}
}

// readLayer lists a layer's entries and the content of its files, and
// checks every entry carries the creation time.
func readLayer(t *testing.T, l v1.Layer) ([]tarEntry, map[string][]byte) {
	t.Helper()
	mt, err := l.MediaType()
	must(t, err)
	if mt != types.OCILayer {
		t.Errorf("layer media type %s, want %s", mt, types.OCILayer)
	}
	rc, err := l.Uncompressed()
	must(t, err)
	defer rc.Close()
	var es []tarEntry
	bodies := map[string][]byte{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		must(t, err)
		if !h.ModTime.Equal(created) {
			t.Errorf("%s: mtime %v, want %v", h.Name, h.ModTime, created)
		}
		es = append(es, tarEntry{h.Name, h.Typeflag, h.Mode, h.Uid, h.Gid})
		if h.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(tr)
			must(t, err)
			bodies[h.Name] = b
		}
	}
	return es, bodies
}

// imageFor finds platform's image in idx and checks its descriptor.
func imageFor(t *testing.T, idx v1.ImageIndex, platform string) v1.Image {
	t.Helper()
	im, err := idx.IndexManifest()
	must(t, err)
	for _, d := range im.Manifests {
		if d.Platform != nil && d.Platform.OS+"/"+d.Platform.Architecture == platform {
			if d.MediaType != types.OCIManifestSchema1 {
				t.Errorf("%s: manifest media type %s, want %s", platform, d.MediaType, types.OCIManifestSchema1)
			}
			img, err := idx.Image(d.Digest)
			must(t, err)
			return img
		}
	}
	t.Fatalf("no %s image in the index", platform)
	return nil
}

func TestConfig(t *testing.T) {
	o := testOptions(t)
	idx, err := buildIndex(o, nil)
	must(t, err)
	wantAnn := map[string]string{
		"org.opencontainers.image.title":    "cairn",
		"org.opencontainers.image.source":   "https://github.com/cairn-dev/cairn",
		"org.opencontainers.image.version":  "v1.2.3",
		"org.opencontainers.image.revision": "0123456789abcdef0123456789abcdef01234567",
		"org.opencontainers.image.created":  "2026-03-04T05:06:07Z",
	}
	im, err := idx.IndexManifest()
	must(t, err)
	if im.MediaType != types.OCIImageIndex || len(im.Manifests) != 2 {
		t.Errorf("index: media type %s with %d manifests, want %s with 2", im.MediaType, len(im.Manifests), types.OCIImageIndex)
	}
	equalMaps(t, "index annotations", im.Annotations, wantAnn)

	tests := []struct {
		platform, arch string
	}{
		{"linux/amd64", "amd64"},
		{"linux/arm64", "arm64"},
	}
	for _, tc := range tests {
		t.Run(tc.platform, func(t *testing.T) {
			img := imageFor(t, idx, tc.platform)
			m, err := img.Manifest()
			must(t, err)
			if m.Config.MediaType != types.OCIConfigJSON {
				t.Errorf("config media type %s, want %s", m.Config.MediaType, types.OCIConfigJSON)
			}
			equalMaps(t, "manifest annotations", m.Annotations, wantAnn)
			cf, err := img.ConfigFile()
			must(t, err)
			if cf.OS != "linux" || cf.Architecture != tc.arch || !cf.Created.Equal(created) {
				t.Errorf("config says %s/%s created %v", cf.OS, cf.Architecture, cf.Created)
			}
			c := cf.Config
			checks := []struct {
				what      string
				got, want any
			}{
				{"entrypoint", c.Entrypoint, []string{"/usr/local/bin/cairn"}},
				{"cmd", c.Cmd, []string{"serve", "--addr", "0.0.0.0:5000", "--data-dir", "/var/lib/cairn"}},
				{"user", c.User, "65532:65532"},
				{"env", c.Env, []string{"PATH=/usr/local/bin:/usr/bin:/bin"}},
				{"working dir", c.WorkingDir, ""},
				{"exposed ports", len(c.ExposedPorts), 1},
				{"layers", len(cf.RootFS.DiffIDs), 1},
				{"history", len(cf.History), 1},
			}
			for _, ch := range checks {
				if !equal(ch.got, ch.want) {
					t.Errorf("%s = %v, want %v", ch.what, ch.got, ch.want)
				}
			}
			if _, ok := c.ExposedPorts["5000/tcp"]; !ok {
				t.Errorf("exposed ports %v, want 5000/tcp", c.ExposedPorts)
			}
			equalMaps(t, "labels", c.Labels, wantAnn)
		})
	}
}

func equal(a, b any) bool {
	as, aok := a.([]string)
	bs, bok := b.([]string)
	if aok && bok {
		return slices.Equal(as, bs)
	}
	return a == b
}

func equalMaps(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %v, want %v", what, got, want)
		return
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %s = %q, want %q", what, k, got[k], v)
		}
	}
}

// TestReproducible: the same inputs give the same digest; another
// creation time gives another.
func TestReproducible(t *testing.T) {
	o := testOptions(t)
	digest := func(o options) v1.Hash {
		idx, err := buildIndex(o, []byte("certs"))
		must(t, err)
		d, err := idx.Digest()
		must(t, err)
		return d
	}
	first, second := digest(o), digest(o)
	if first != second {
		t.Errorf("two builds of the same inputs: %s and %s", first, second)
	}
	o.created = created.Add(time.Second)
	if later := digest(o); later == first {
		t.Errorf("a later creation time kept the digest %s", first)
	}
}

func TestCreationTime(t *testing.T) {
	ctx := context.Background()
	// A repository whose one commit has a known time.
	repo := t.TempDir()
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = repo
		cmd.Env = append(os.Environ(), "GIT_COMMITTER_DATE=2001-02-03T04:05:06Z", "GIT_AUTHOR_DATE=2001-02-03T04:05:06Z")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	git("init", "-q")
	git("-c", "user.name=cairn", "-c", "user.email=cairn@example.com", "commit", "-q", "--allow-empty", "-m", "first")
	t.Chdir(repo)

	tests := []struct {
		name              string
		created, revision string
		epoch             string
		want              time.Time
		wantErr           string
	}{
		{"--created wins", "2026-03-04T06:06:07.5+01:00", "HEAD", "1", created, ""},
		{"SOURCE_DATE_EPOCH over the commit", "", "HEAD", "1000000000", time.Unix(1000000000, 0).UTC(), ""},
		{"the revision's commit", "", "HEAD", "", time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC), ""},
		{"unknown revision", "", "0000000000000000000000000000000000000000", "", time.Time{}, "(give --created instead): git log: exit status 128: fatal:"},
		{"nothing to go by", "", "", "", time.Time{}, "no --created, SOURCE_DATE_EPOCH or --revision"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.epoch != "" {
				t.Setenv("SOURCE_DATE_EPOCH", tc.epoch)
			} else {
				// Unset for this test, whatever the caller's environment.
				t.Setenv("SOURCE_DATE_EPOCH", "")
				os.Unsetenv("SOURCE_DATE_EPOCH")
			}
			got, err := creationTime(ctx, tc.created, tc.revision)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one saying %q", err, tc.wantErr)
				}
				return
			}
			must(t, err)
			if !got.Equal(tc.want) || got.Location() != time.UTC {
				t.Errorf("creation time %v, want %v", got, tc.want)
			}
		})
	}
}

// TestOutputs writes a layout and pushes to an in-process registry over
// plain HTTP: both hold the index whose digest is printed.
func TestOutputs(t *testing.T) {
	o := testOptions(t)
	srv := httptest.NewServer(registry.New())
	defer srv.Close()
	ref := strings.TrimPrefix(srv.URL, "http://") + "/cairn:test"
	dir := filepath.Join(t.TempDir(), "image")
	args := []string{
		"--binary", "linux/amd64=" + o.binaries["linux/amd64"],
		"--binary", "linux/arm64=" + o.binaries["linux/arm64"],
		"--version", "v1.2.3", "--created", "2026-03-04T05:06:07Z",
		"--oci-layout", dir, "--push", ref, "--insecure",
	}
	var out bytes.Buffer
	must(t, run(context.Background(), args, &out))
	printed, err := v1.NewHash(strings.TrimSpace(out.String()))
	must(t, err)

	p, err := layout.FromPath(dir)
	must(t, err)
	top, err := p.ImageIndex()
	must(t, err)
	im, err := top.IndexManifest()
	must(t, err)
	if len(im.Manifests) != 1 || im.Manifests[0].Digest != printed ||
		im.Manifests[0].MediaType != types.OCIImageIndex ||
		im.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != "v1.2.3" {
		t.Errorf("layout index.json %+v, want the index %s named v1.2.3", im.Manifests, printed)
	}
	idx, err := top.ImageIndex(printed)
	must(t, err)
	imageFor(t, idx, "linux/arm64")

	r, err := name.ParseReference(ref, name.Insecure)
	must(t, err)
	desc, err := remote.Get(r)
	must(t, err)
	if desc.Digest != printed || desc.MediaType != types.OCIImageIndex {
		t.Errorf("pushed %s %s, want %s %s", desc.MediaType, desc.Digest, types.OCIImageIndex, printed)
	}

	// A second run does not write over the first layout.
	err = run(context.Background(), args[:len(args)-3], io.Discard)
	if err == nil || !strings.Contains(err.Error(), "is not empty; remove it first") {
		t.Errorf("second layout into %s: err = %v", dir, err)
	}
}
