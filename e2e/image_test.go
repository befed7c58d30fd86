package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// TestImage builds cairn for linux/amd64 and linux/arm64, assembles the
// image with tools/mkimage (what make image runs) and pushes it to a
// running cairn; crane reads it back: an index of both platforms, the
// configs and labels, and a filesystem whose cairn runs here.
func TestImage(t *testing.T) {
	tool(t, "crane")
	const (
		version  = "v0.0.0-e2e-image"
		revision = "0123456789abcdef0123456789abcdef01234567"
		created  = "2026-05-06T07:08:09Z"
	)
	bins := t.TempDir()
	for _, arch := range []string{"amd64", "arm64"} {
		imageGo(t, []string{"GOOS=linux", "GOARCH=" + arch, "CGO_ENABLED=0"},
			"build", "-trimpath", "-ldflags", "-X main.version="+version+" -X main.revision="+revision,
			"-o", filepath.Join(bins, arch, "cairn"), "./cmd/cairn")
	}
	c := startCairn(t)
	ref := c.addr + "/cairn/image:test"
	printed := strings.TrimSpace(imageGo(t, nil, "run", "./tools/mkimage",
		"--binary", "linux/amd64="+filepath.Join(bins, "amd64", "cairn"),
		"--binary", "linux/arm64="+filepath.Join(bins, "arm64", "cairn"),
		"--version", version, "--revision", revision, "--created", created,
		"--push", ref, "--insecure"))
	pushed := strings.TrimSpace(c.run("crane", "digest", "--insecure", ref))
	mustf(t, printed == pushed, "mkimage printed %q, the registry holds %q", printed, pushed)

	wantAnn := map[string]string{
		ocispec.AnnotationTitle:    "cairn",
		ocispec.AnnotationSource:   "https://github.com/cairn-dev/cairn",
		ocispec.AnnotationVersion:  version,
		ocispec.AnnotationRevision: revision,
		ocispec.AnnotationCreated:  created,
	}
	idx, err := v1.ParseIndexManifest(strings.NewReader(c.run("crane", "manifest", "--insecure", ref)))
	mustf(t, err == nil, "index: %v", err)
	mustf(t, idx.MediaType == types.OCIImageIndex, "index media type %s", idx.MediaType)
	imageAnnotations(t, "index", idx.Annotations, wantAnn)
	var platforms []string
	for _, m := range idx.Manifests {
		mustf(t, m.MediaType == types.OCIManifestSchema1 && m.Platform != nil, "index entry %+v", m)
		platforms = append(platforms, m.Platform.String())
	}
	slices.Sort(platforms)
	mustf(t, slices.Equal(platforms, []string{"linux/amd64", "linux/arm64"}), "index platforms %v", platforms)

	for _, platform := range platforms {
		m, err := v1.ParseManifest(strings.NewReader(c.run("crane", "manifest", "--insecure", "--platform", platform, ref)))
		mustf(t, err == nil, "%s manifest: %v", platform, err)
		mustf(t, m.Config.MediaType == types.OCIConfigJSON && len(m.Layers) == 1 && m.Layers[0].MediaType == types.OCILayer,
			"%s manifest: config %s, layers %+v", platform, m.Config.MediaType, m.Layers)
		imageAnnotations(t, platform+" manifest", m.Annotations, wantAnn)

		cf, err := v1.ParseConfigFile(strings.NewReader(c.run("crane", "config", "--insecure", "--platform", platform, ref)))
		mustf(t, err == nil, "%s config: %v", platform, err)
		mustf(t, cf.OS+"/"+cf.Architecture == platform, "%s config is for %s/%s", platform, cf.OS, cf.Architecture)
		mustf(t, slices.Equal(cf.Config.Entrypoint, []string{"/usr/local/bin/cairn"}), "%s entrypoint %q", platform, cf.Config.Entrypoint)
		mustf(t, cf.Config.User == "65532:65532", "%s user %q", platform, cf.Config.User)
		imageAnnotations(t, platform+" labels", cf.Config.Labels, wantAnn)
	}

	// The amd64 filesystem, flattened by crane: its cairn runs on this
	// machine and says which version it is.
	c.run("crane", "export", "--insecure", "--platform", "linux/amd64", ref, "fs.tar")
	root := t.TempDir()
	got := imageExtract(t, filepath.Join(c.workDir, "fs.tar"), root)
	type owned struct {
		mode     int64
		uid, gid int
	}
	want := map[string]owned{
		"usr/local/bin/cairn": {0o755, 0, 0},
		"etc/passwd":          {0o644, 0, 0},
		"etc/group":           {0o644, 0, 0},
		"tmp":                 {0o1777, 0, 0},
		"etc/cairn":           {0o755, 0, 0},
		"home/nonroot":        {0o700, 65532, 65532},
		"var/lib/cairn":       {0o700, 65532, 65532},
	}
	// mkimage copies the CA bundle of the host it runs on, when there is one.
	if _, err := os.Stat("/etc/ssl/certs/ca-certificates.crt"); err == nil {
		want["etc/ssl/certs/ca-certificates.crt"] = owned{0o644, 0, 0}
	}
	for name, w := range want {
		h, ok := got[name]
		mustf(t, ok, "/%s is not in the image; it holds %v", name, slices.Sorted(maps.Keys(got)))
		mustf(t, h.Mode == w.mode && h.Uid == w.uid && h.Gid == w.gid, "/%s: mode %o owner %d:%d, want %o %d:%d", name, h.Mode, h.Uid, h.Gid, w.mode, w.uid, w.gid)
	}
	passwd, err := os.ReadFile(filepath.Join(root, "etc", "passwd"))
	mustf(t, err == nil && strings.Contains(string(passwd), "nonroot:x:65532:65532:"), "/etc/passwd: %v\n%s", err, passwd)
	out, err := exec.Command(filepath.Join(root, "usr", "local", "bin", "cairn"), "version").CombinedOutput()
	mustf(t, err == nil && strings.TrimSpace(string(out)) == "cairn "+version+" "+revision, "the image's cairn version: %v\n%s", err, out)
}

// imageGo runs the go command in the module's root with extra environment
// and returns its standard output. Private credential stores keep the
// user's registry credentials out of mkimage's push (credentialVars; HOME
// stays, for go's caches).
func imageGo(t *testing.T, env []string, args ...string) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	mustf(t, err == nil, "the go command is not on PATH: %v", err)
	root, err := filepath.Abs("..")
	mustf(t, err == nil, "module root: %v", err)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goBin, args...)
	cmd.Dir = root
	cmd.Env = environ(append(credentialVars(t.TempDir()), env...)...)
	what := strings.Join(append(slices.Clone(env), "go", args[0]), " ")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\n%s%s", strings.Join(append(slices.Clone(env), "go", strings.Join(args, " ")), " "), err, stdout.String(), stderr.String())
	}
	t.Logf("%s: %s", what, time.Since(start).Round(time.Second))
	return stdout.String()
}

// imageExtract unpacks a filesystem tar into dir and returns its headers by
// path (without a leading / or trailing /).
func imageExtract(t *testing.T, tarPath, dir string) map[string]*tar.Header {
	t.Helper()
	f, err := os.Open(tarPath)
	mustf(t, err == nil, "%v", err)
	defer f.Close()
	headers := map[string]*tar.Header{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		mustf(t, err == nil, "%s: %v", tarPath, err)
		name := strings.Trim(strings.TrimPrefix(h.Name, "./"), "/")
		mustf(t, filepath.IsLocal(name), "%s: entry %q leaves the root", tarPath, h.Name)
		headers[name] = h
		p := filepath.Join(dir, name)
		switch h.Typeflag {
		case tar.TypeDir:
			mustf(t, os.MkdirAll(p, 0o755) == nil, "mkdir %s", p)
		case tar.TypeReg:
			mustf(t, os.MkdirAll(filepath.Dir(p), 0o755) == nil, "mkdir %s", filepath.Dir(p))
			b, err := io.ReadAll(tr)
			mustf(t, err == nil, "%s: %v", h.Name, err)
			mustf(t, os.WriteFile(p, b, os.FileMode(h.Mode).Perm()) == nil, "write %s", p)
		default:
			t.Fatalf("%s: unexpected entry %q of type %q", tarPath, h.Name, h.Typeflag)
		}
	}
	return headers
}

func imageAnnotations(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	for k, v := range want {
		mustf(t, got[k] == v, "%s: %s = %q, want %q (all: %v)", what, k, got[k], v, got)
	}
}
