// Command mkimage assembles cairn's multi-arch OCI image from prebuilt
// static binaries, without Docker and without pulling a base image: the
// image is one layer holding the binary and the few files a static Go
// program needs. make image runs it.
//
//	mkimage --binary linux/amd64=bin/linux-amd64/cairn --binary linux/arm64=bin/linux-arm64/cairn \
//	  --version v1.2.0 --revision $(git rev-parse HEAD) --oci-layout bin/image --push registry.example.com/cairn:v1.2.0
//
// The index digest is printed on standard output. The same inputs give the
// same digest: every timestamp is the --created time.
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"debug/elf"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

const (
	defaultSource = "https://github.com/cairn-dev/cairn"
	// The host's CA bundle: cairn talks TLS to upstream registries, and a
	// static binary in an image without one trusts nobody.
	hostCACerts = "/etc/ssl/certs/ca-certificates.crt"

	nonroot = 65532
	port    = "5000/tcp"
)

// platforms are the platforms the image is built for, with the ELF machine
// their binary must be built for.
var platforms = map[string]elf.Machine{
	"linux/amd64": elf.EM_X86_64,
	"linux/arm64": elf.EM_AARCH64,
}

// options are the parsed command line.
type options struct {
	binaries  binaryFlag
	version   string
	revision  string
	source    string
	created   time.Time
	ociLayout string
	push      name.Reference
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "mkimage:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	o, err := parseArgs(ctx, args)
	if err != nil {
		return err
	}
	caCerts, err := os.ReadFile(hostCACerts)
	if errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(os.Stderr, "mkimage: warning: %s is missing; the image will have no CA certificates and cairn cannot verify TLS upstreams\n", hostCACerts)
	} else if err != nil {
		return fmt.Errorf("CA certificates: %w", err)
	}
	idx, err := buildIndex(o, caCerts)
	if err != nil {
		return err
	}
	if o.ociLayout != "" {
		if err := writeLayout(o.ociLayout, idx, o.version); err != nil {
			return err
		}
	}
	if o.push != nil {
		err := remote.WriteIndex(o.push, idx,
			remote.WithContext(ctx),
			remote.WithAuthFromKeychain(authn.DefaultKeychain),
			remote.WithUserAgent("cairn-mkimage"))
		if err != nil {
			return fmt.Errorf("push %s: %w", o.push, err)
		}
	}
	d, err := idx.Digest()
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, d)
	return err
}

// binaryFlag collects --binary PLATFORM=PATH.
type binaryFlag map[string]string

func (b binaryFlag) String() string { return fmt.Sprint(map[string]string(b)) }

func (b binaryFlag) Set(v string) error {
	platform, path, ok := strings.Cut(v, "=")
	if !ok || path == "" {
		return fmt.Errorf("%q: give PLATFORM=PATH, e.g. linux/amd64=bin/linux-amd64/cairn", v)
	}
	if _, ok := platforms[platform]; !ok {
		return fmt.Errorf("unknown platform %q: use %s", platform, strings.Join(platformNames(), " or "))
	}
	if _, dup := b[platform]; dup {
		return fmt.Errorf("platform %s is given twice", platform)
	}
	b[platform] = path
	return nil
}

func platformNames() []string {
	var names []string
	for p := range platforms {
		names = append(names, p)
	}
	slices.Sort(names)
	return names
}

func parseArgs(ctx context.Context, args []string) (options, error) {
	o := options{binaries: binaryFlag{}}
	var created, push string
	var insecure bool
	fs := flag.NewFlagSet("mkimage", flag.ContinueOnError)
	fs.Var(o.binaries, "binary", "PLATFORM=PATH of a static cairn binary (repeat per platform: "+strings.Join(platformNames(), ", ")+")")
	fs.StringVar(&o.version, "version", "", "cairn's version, for the labels")
	fs.StringVar(&o.revision, "revision", "", "the git commit the binaries were built from")
	fs.StringVar(&o.source, "source", defaultSource, "URL of the source repository")
	fs.StringVar(&created, "created", "", "image creation time, RFC 3339 (default: $SOURCE_DATE_EPOCH, else the time of the revision's commit)")
	fs.StringVar(&o.ociLayout, "oci-layout", "", "write an OCI image layout into this directory (it must not exist or be empty)")
	fs.StringVar(&push, "push", "", "push the index to this reference, e.g. registry.example.com/cairn:v1.2.0")
	fs.BoolVar(&insecure, "insecure", false, "talk plain HTTP to the --push registry")
	// Errors are reported once, by main; only -h prints the flags.
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(os.Stderr)
			fs.PrintDefaults()
		}
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if len(o.binaries) == 0 {
		return o, errors.New("no --binary given: give --binary PLATFORM=PATH for each platform")
	}
	for platform, path := range o.binaries {
		if err := checkBinary(path, platform); err != nil {
			return o, err
		}
	}
	if o.version == "" {
		return o, errors.New("--version is empty")
	}
	var err error
	if o.created, err = creationTime(ctx, created, o.revision); err != nil {
		return o, err
	}
	if insecure && push == "" {
		return o, errors.New("--insecure applies to --push, which is not given")
	}
	if strings.Contains(push, "://") {
		return o, fmt.Errorf("--push %q: give a reference such as registry.example.com/cairn:v1.2.0, not a URL (--insecure for plain HTTP)", push)
	}
	if push != "" {
		var opts []name.Option
		if insecure {
			opts = append(opts, name.Insecure)
		}
		if o.push, err = name.ParseReference(push, opts...); err != nil {
			return o, fmt.Errorf("--push %q: %w", push, err)
		}
	}
	return o, nil
}

// creationTime is --created if given, else SOURCE_DATE_EPOCH, else the
// commit time of revision: never the clock, so a rebuild of the same
// commit gives the same digest.
func creationTime(ctx context.Context, created, revision string) (time.Time, error) {
	if created != "" {
		t, err := time.Parse(time.RFC3339, created)
		if err != nil {
			return time.Time{}, fmt.Errorf("--created %q is not an RFC 3339 time such as 2026-01-02T15:04:05Z: %w", created, err)
		}
		return t.UTC().Truncate(time.Second), nil
	}
	if epoch, ok := os.LookupEnv("SOURCE_DATE_EPOCH"); ok {
		sec, err := strconv.ParseInt(epoch, 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH %q is not a count of seconds: %w", epoch, err)
		}
		return time.Unix(sec, 0).UTC(), nil
	}
	if revision == "" {
		return time.Time{}, errors.New("no --created, SOURCE_DATE_EPOCH or --revision to take the creation time from")
	}
	out, err := exec.CommandContext(ctx, "git", "log", "-1", "--format=%ct", revision, "--").Output()
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) && len(exit.Stderr) > 0 {
			err = fmt.Errorf("%w: %s", err, bytes.TrimSpace(exit.Stderr))
		}
		return time.Time{}, fmt.Errorf("time of commit %s (give --created instead): git log: %w", revision, err)
	}
	sec, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("time of commit %s: git log printed %q", revision, out)
	}
	return time.Unix(sec, 0).UTC(), nil
}

// checkBinary refuses anything but a static Linux executable for platform:
// a wrong binary would only show as "exec format error" in a container.
func checkBinary(path, platform string) error {
	f, err := elf.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("binary for %s: %w", platform, err)
		}
		return fmt.Errorf("binary for %s: %s is not an ELF executable: %w", platform, path, err)
	}
	defer f.Close()
	want := platforms[platform]
	if f.Machine != want {
		return fmt.Errorf("binary for %s: %s is built for %s, not %s: build it with GOOS=linux GOARCH=%s",
			platform, path, f.Machine, want, strings.TrimPrefix(platform, "linux/"))
	}
	if f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN {
		return fmt.Errorf("binary for %s: %s is an ELF %s, not an executable", platform, path, f.Type)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("binary for %s: %s is dynamically linked and the image has no libc: build it with CGO_ENABLED=0", platform, path)
		}
	}
	return nil
}

// annotations are both the config's labels and the manifests' and index's
// annotations.
func annotations(o options) map[string]string {
	a := map[string]string{
		ocispec.AnnotationTitle:   "cairn",
		ocispec.AnnotationSource:  o.source,
		ocispec.AnnotationVersion: o.version,
		ocispec.AnnotationCreated: o.created.Format(time.RFC3339),
	}
	if o.revision != "" {
		a[ocispec.AnnotationRevision] = o.revision
	}
	return a
}

func buildIndex(o options, caCerts []byte) (v1.ImageIndex, error) {
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, platform := range platformNames() {
		path, ok := o.binaries[platform]
		if !ok {
			continue
		}
		osName, arch, _ := strings.Cut(platform, "/")
		p := v1.Platform{OS: osName, Architecture: arch}
		img, err := platformImage(o, p, path, caCerts)
		if err != nil {
			return nil, fmt.Errorf("image for %s: %w", platform, err)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &p}})
	}
	return mutate.Annotations(idx, annotations(o)).(v1.ImageIndex), nil
}

func platformImage(o options, p v1.Platform, binary string, caCerts []byte) (v1.Image, error) {
	layer, err := rootfsLayer(binary, caCerts, o.created)
	if err != nil {
		return nil, err
	}
	cfg := &v1.ConfigFile{
		OS:           p.OS,
		Architecture: p.Architecture,
		Created:      v1.Time{Time: o.created},
		RootFS:       v1.RootFS{Type: "layers"},
		Config: v1.Config{
			Entrypoint: []string{"/usr/local/bin/cairn"},
			// cairn listens on loopback by default, which nobody outside
			// the container could reach, and keeps its data in ./data.
			// Flags, not the environment: given arguments (serve --config
			// FILE) replace them, so a config file's settings then hold.
			Cmd:          []string{"serve", "--addr", "0.0.0.0:5000", "--data-dir", "/var/lib/cairn"},
			User:         fmt.Sprintf("%d:%d", nonroot, nonroot),
			Env:          []string{"PATH=/usr/local/bin:/usr/bin:/bin"},
			ExposedPorts: map[string]struct{}{port: {}},
			Labels:       annotations(o),
		},
	}
	img, err := mutate.ConfigFile(empty.Image, cfg)
	if err != nil {
		return nil, err
	}
	img, err = mutate.Append(img, mutate.Addendum{
		Layer:     layer,
		MediaType: types.OCILayer,
		History:   v1.History{Created: v1.Time{Time: o.created}, CreatedBy: "cairn tools/mkimage", Comment: "cairn " + o.version},
	})
	if err != nil {
		return nil, err
	}
	img = mutate.MediaType(img, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	return mutate.Annotations(img, annotations(o)).(v1.Image), nil
}

// entry is one file or directory of the image's filesystem.
type entry struct {
	name string // relative, directories end in /
	mode int64
	uid  int
	body []byte // a file's content, unless from is set
	from string // a file's content is this host file
}

// rootfs lists the image's filesystem, parents before children.
func rootfs(binary string, caCerts []byte) []entry {
	dir := func(name string, mode int64) entry { return entry{name: name, mode: mode} }
	es := []entry{
		dir("etc/", 0o755),
		dir("etc/cairn/", 0o755),
		{name: "etc/group", mode: 0o644, body: []byte("root:x:0:\nnonroot:x:65532:\n")},
		{name: "etc/passwd", mode: 0o644, body: []byte("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n")},
	}
	if caCerts != nil {
		es = append(es,
			dir("etc/ssl/", 0o755),
			dir("etc/ssl/certs/", 0o755),
			entry{name: "etc/ssl/certs/ca-certificates.crt", mode: 0o644, body: caCerts})
	}
	return append(es,
		dir("home/", 0o755),
		entry{name: "home/nonroot/", mode: 0o700, uid: nonroot},
		dir("root/", 0o700),
		dir("tmp/", 0o1777),
		dir("usr/", 0o755),
		dir("usr/local/", 0o755),
		dir("usr/local/bin/", 0o755),
		entry{name: "usr/local/bin/cairn", mode: 0o755, from: binary},
		dir("var/", 0o755),
		dir("var/lib/", 0o755),
		entry{name: "var/lib/cairn/", mode: 0o700, uid: nonroot},
	)
}

// rootfsLayer writes the filesystem as a gzipped tar, every entry stamped
// with mtime. It compresses once, here, rather than on each write of the
// layer; the default level: the best one takes three times as long for
// 0.2% less on a cairn binary.
func rootfsLayer(binary string, caCerts []byte, mtime time.Time) (v1.Layer, error) {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, e := range rootfs(binary, caCerts) {
		if err := writeEntry(tw, e, mtime); err != nil {
			return nil, fmt.Errorf("layer: %s: %w", e.name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	gzipped := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(gzipped)), nil
	}, tarball.WithMediaType(types.OCILayer))
}

func writeEntry(tw *tar.Writer, e entry, mtime time.Time) error {
	hdr := &tar.Header{
		Name:    e.name,
		Mode:    e.mode,
		Uid:     e.uid,
		Gid:     e.uid,
		ModTime: mtime,
		Format:  tar.FormatUSTAR,
	}
	if strings.HasSuffix(e.name, "/") {
		hdr.Typeflag = tar.TypeDir
		return tw.WriteHeader(hdr)
	}
	hdr.Typeflag = tar.TypeReg
	body := io.Reader(bytes.NewReader(e.body))
	hdr.Size = int64(len(e.body))
	if e.from != "" {
		f, err := os.Open(e.from)
		if err != nil {
			return err
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			return err
		}
		body, hdr.Size = f, fi.Size()
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	_, err := io.Copy(tw, body)
	return err
}

// writeLayout writes a new OCI image layout holding the index, named by
// version. It refuses to write into a directory that holds anything, so
// that an old image's blobs are not left beside the new one's.
func writeLayout(dir string, idx v1.ImageIndex, version string) error {
	ents, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("--oci-layout: %w", err)
	}
	if len(ents) > 0 {
		return fmt.Errorf("--oci-layout: %s is not empty; remove it first", dir)
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return fmt.Errorf("--oci-layout: %w", err)
	}
	ann := map[string]string{ocispec.AnnotationRefName: version}
	if err := p.AppendIndex(idx, layout.WithAnnotations(ann)); err != nil {
		return fmt.Errorf("--oci-layout: %w", err)
	}
	return nil
}
