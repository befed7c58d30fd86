package client

import (
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/regclient/regclient/types/descriptor"
	"github.com/regclient/regclient/types/manifest"
	"github.com/regclient/regclient/types/ref"
	"golang.org/x/sync/errgroup"

	"github.com/cairn-dev/cairn/signing"
)

// PullOptions are the optional parts of a pull; the zero value pulls every
// titled layer into the working directory.
type PullOptions struct {
	// Output is the directory the layers are written to ("." when empty).
	Output string
	// Only keeps the layers whose title is, or matches as a glob
	// (path.Match), one of these.
	Only []string
	// Require refuses the pull unless the manifest's annotations have these
	// values (for example the embedding model the local data was made with).
	Require map[string]string
	// Concurrency is how many layers download at once (default 5).
	Concurrency int
	// Progress, when set, is called as each layer goes.
	Progress ProgressFunc
	// VerifyKeys, when set, refuses the pull, before anything is
	// downloaded, unless the manifest has a signature that verifies with
	// one of them; the manifest is then pulled by the digest verified.
	VerifyKeys []*signing.PublicKey
}

// PullResult says what a pull did.
type PullResult struct {
	Reference   string            `json:"reference"`
	Digest      digest.Digest     `json:"digest"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Output      string            `json:"output"`
	Layers      []LayerResult     `json:"layers"`
}

// stagingSuffix names the directory beside the output where a pull
// stages its files; it keeps the verified blobs of an interrupted pull.
const stagingSuffix = ".cairn-pull"

// pullLayer is one layer being pulled.
type pullLayer struct {
	desc      descriptor.Descriptor
	title     string
	directory bool
	status    string
	blob      string // the verified blob in the staging directory
}

// Pull downloads an artifact's layers into opts.Output, atomically: every
// layer is downloaded into a staging directory beside the output
// (".NAME.cairn-pull"), its digest and size verified, and only then moved
// into place. A failed or interrupted pull leaves the output as it was;
// blobs it verified stay in the staging directory, and the next pull into
// the same output uses them instead of downloading them again. Layers whose
// local copy already has the layer's digest are left alone.
func (r *Registry) Pull(ctx context.Context, reference string, opts PullOptions) (*PullResult, error) {
	src, err := r.parseFor("pull", reference)
	if err != nil {
		return nil, err
	}
	fail := func(what string, err error) (*PullResult, error) {
		return nil, registryFailure("pull", src, what, err)
	}
	out := opts.Output
	if out == "" {
		out = "."
	}
	out, err = filepath.Abs(out)
	if err != nil {
		return fail("", fmt.Errorf("%w%.0w", err, ErrInvalidInput))
	}
	if fi, err := os.Stat(out); err == nil && !fi.IsDir() {
		return fail("", fmt.Errorf("%s exists and is not a directory%.0w", out, ErrInvalidInput))
	}

	if len(opts.VerifyKeys) > 0 {
		v, err := r.verify(ctx, src, opts.VerifyKeys)
		if err != nil {
			return fail("signatures", err)
		}
		if len(v.Valid()) == 0 {
			return nil, &RegistryError{Op: "pull", Ref: src.CommonName(), Kind: ErrNoValidSignature, Msg: noValidSignature(v), Hint: "nothing was downloaded"}
		}
		// What is pulled is what was verified, even if the tag moves now.
		src = src.SetDigest(v.Digest.String())
	}
	m, err := r.rc.ManifestGet(ctx, src)
	if err != nil {
		return fail("manifest", err)
	}
	img, ok := m.(manifest.Imager)
	if !ok || m.IsList() {
		return fail("", fmt.Errorf("%s is an index of manifests (%s), not one artifact; pull one of its manifests by digest (cairn inspect lists them)%.0w", src.CommonName(), manifest.GetMediaType(m), ErrInvalidInput))
	}
	var ann map[string]string
	if a, ok := m.(manifest.Annotator); ok {
		ann, _ = a.GetAnnotations()
	}
	if err := checkRequire(src.CommonName(), ann, opts.Require); err != nil {
		return nil, &RegistryError{Op: "pull", Ref: src.CommonName(), Kind: ErrRequirement, Msg: err.Error()}
	}
	descs, err := img.GetLayers()
	if err != nil {
		return fail("manifest", err)
	}
	layers, err := selectLayers(descs, opts.Only)
	if err != nil {
		return fail("", err)
	}
	res := &PullResult{Reference: src.CommonName(), Digest: manifest.GetDigest(m), Annotations: ann, Output: out}

	staging := filepath.Join(filepath.Dir(out), "."+filepath.Base(out)+stagingSuffix)
	st, err := openStaging(staging)
	if err != nil {
		return fail("", fmt.Errorf("cannot stage the pull beside %s: %w", out, err))
	}
	ok = false
	defer func() { st.finish(ok) }()

	concurrency := opts.Concurrency
	if concurrency <= 0 {
		concurrency = defaultConcurrency
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(concurrency)
	for _, l := range layers {
		g.Go(func() error { return r.fetchLayer(gctx, src, st, out, l, opts.Progress) })
	}
	if err := g.Wait(); err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return fail("a layer", err)
	}
	// Everything is verified: build the new files, then move them in.
	for _, l := range layers {
		if l.status == "unchanged" {
			continue
		}
		if err := st.build(l); err != nil {
			return fail("layer "+l.title, err)
		}
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return fail("", err)
	}
	for _, l := range layers {
		if l.status == "unchanged" {
			continue
		}
		if err := st.move(l, out); err != nil {
			return fail("layer "+l.title, fmt.Errorf("moving into %s: %w", out, err))
		}
	}
	ok = true
	for _, l := range layers {
		res.Layers = append(res.Layers, LayerResult{Title: l.title, MediaType: l.desc.MediaType, Digest: l.desc.Digest, Size: l.desc.Size, Status: l.status, Directory: l.directory})
	}
	return res, nil
}

// checkRequire compares the annotations with the required values and names
// both sides of the first difference.
func checkRequire(name string, ann, require map[string]string) error {
	keys := make([]string, 0, len(require))
	for k := range require {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		want := require[k]
		got, ok := ann[k]
		if !ok {
			return fmt.Errorf("refused: %s has no annotation %s, and --require wants %s=%s", name, k, k, want)
		}
		if got != want {
			return fmt.Errorf("refused: %s has %s=%s, but --require wants %s=%s", name, k, got, k, want)
		}
	}
	return nil
}

// selectLayers keeps the titled layers that --only asks for, refusing
// titles that would write outside the output directory.
func selectLayers(descs []descriptor.Descriptor, only []string) ([]*pullLayer, error) {
	var layers []*pullLayer
	var titles []string
	seen := map[string]bool{}
	for _, d := range descs {
		title := d.Annotations[AnnotationTitle]
		if title == "" {
			continue // as oras does: a layer without a title has no file name
		}
		if !filepath.IsLocal(filepath.FromSlash(title)) {
			return nil, fmt.Errorf("layer title %q would write outside the output directory; refusing to pull%.0w", title, ErrInvalidInput)
		}
		titles = append(titles, title)
		if len(only) > 0 && !slices.ContainsFunc(only, func(p string) bool {
			ok, _ := path.Match(p, title)
			return ok || p == title
		}) {
			continue
		}
		if seen[title] {
			return nil, fmt.Errorf("two layers have the title %q%.0w", title, ErrInvalidInput)
		}
		seen[title] = true
		if err := d.Digest.Validate(); err != nil {
			return nil, fmt.Errorf("layer %q: %w%.0w", title, err, ErrInvalidInput)
		}
		layers = append(layers, &pullLayer{desc: d, title: title, directory: d.Annotations[annotationUnpack] == "true"})
	}
	if len(layers) == 0 {
		if len(titles) == 0 {
			return nil, fmt.Errorf("no layer has a title (org.opencontainers.image.title), so none has a file name%.0w", ErrNotFound)
		}
		return nil, fmt.Errorf("no layer matches --only %s; the layers are %s%.0w", strings.Join(only, ", "), strings.Join(titles, ", "), ErrNotFound)
	}
	return layers, nil
}

// fetchLayer makes a verified copy of a layer available: the local file
// when it matches already, a blob an earlier pull verified, or a download.
func (r *Registry) fetchLayer(ctx context.Context, src ref.Ref, st *staging, out string, l *pullLayer, progress ProgressFunc) error {
	emit := func(ev ProgressEvent) {
		if progress != nil {
			ev.Title, ev.Digest, ev.Total = l.title, l.desc.Digest, l.desc.Size
			progress(ev)
		}
	}
	emit(ProgressEvent{State: "start"})
	local := filepath.Join(out, filepath.FromSlash(l.title))
	if same, err := matchesLocal(local, l); err != nil {
		emit(ProgressEvent{State: "error"})
		return err
	} else if same {
		l.status = "unchanged"
		emit(ProgressEvent{State: "done", Done: l.desc.Size, Status: l.status})
		return nil
	}
	l.blob = st.blobPath(l.desc.Digest)
	if fi, err := os.Stat(l.blob); err == nil && fi.Size() == l.desc.Size {
		l.status = "resumed"
		emit(ProgressEvent{State: "done", Done: l.desc.Size, Status: l.status})
		return nil
	}
	if err := r.download(ctx, src, st, l, func(n int64) { emit(ProgressEvent{State: "progress", Done: n}) }); err != nil {
		emit(ProgressEvent{State: "error"})
		return registryFailure("pull", src, "layer "+l.title+" ("+l.desc.Digest.String()+")", err)
	}
	l.status = "downloaded"
	emit(ProgressEvent{State: "done", Done: l.desc.Size, Status: l.status})
	return nil
}

// matchesLocal reports whether the output already holds the layer: a file
// with its digest, or a directory that packs to its digest.
func matchesLocal(local string, l *pullLayer) (bool, error) {
	fi, err := os.Lstat(local)
	if err != nil {
		return false, nil
	}
	if l.directory {
		if !fi.IsDir() {
			return false, nil
		}
		d := l.desc.Digest.Algorithm().Digester()
		if _, err := packDir(local, l.title, d.Hash()); err != nil {
			return false, nil
		}
		return d.Digest() == l.desc.Digest, nil
	}
	if !fi.Mode().IsRegular() || fi.Size() != l.desc.Size {
		return false, nil
	}
	f, err := os.Open(local)
	if err != nil {
		return false, nil
	}
	defer f.Close()
	d := l.desc.Digest.Algorithm().Digester()
	if _, err := io.Copy(d.Hash(), f); err != nil {
		return false, nil
	}
	return d.Digest() == l.desc.Digest, nil
}

// download fetches a blob into the staging directory, verifying its size
// and digest, and renames it among the verified blobs.
func (r *Registry) download(ctx context.Context, src ref.Ref, st *staging, l *pullLayer, onBytes func(int64)) error {
	rd, err := r.rc.BlobGet(ctx, src, l.desc)
	if err != nil {
		return err
	}
	defer rd.Close()
	f, err := os.CreateTemp(st.tmp, l.desc.Digest.Encoded()+".*.part")
	if err != nil {
		return err
	}
	part := f.Name()
	defer os.Remove(part) // a no-op once renamed
	// regclient's blob reader hashes the stream and fails at its end when
	// the digest or the length differs from the descriptor; reading at
	// most one byte more than the descriptor's size keeps a registry that
	// sends too much from filling the disk.
	body := io.LimitReader(rd, l.desc.Size+1)
	w := &progressWriter{w: f, on: onBytes}
	n, err := io.CopyBuffer(w, body, make([]byte, 1<<20))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if n != l.desc.Size {
		return fmt.Errorf("the registry sent %d bytes for %s, the manifest says %d%.0w", n, l.desc.Digest, l.desc.Size, ErrDigestMismatch)
	}
	if err := os.Chmod(part, 0o644); err != nil {
		return err
	}
	return os.Rename(part, l.blob)
}

type progressWriter struct {
	w    io.Writer
	on   func(int64)
	n    int64
	last time.Time
}

func (p *progressWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	p.n += int64(n)
	if now := time.Now(); now.Sub(p.last) > 100*time.Millisecond {
		p.last = now
		p.on(p.n)
	}
	return n, err
}

// staging is the directory beside the output where a pull prepares its
// files: blobs/ (verified blobs, kept across failed pulls), tmp/ (partial
// downloads), tree/ (the new files, moved into the output at the end) and
// old/ (what they replace, removed at the end).
type staging struct {
	dir, blobs, tmp, tree, old string
}

func openStaging(dir string) (*staging, error) {
	st := &staging{dir: dir, blobs: filepath.Join(dir, "blobs"), tmp: filepath.Join(dir, "tmp"), tree: filepath.Join(dir, "tree"), old: filepath.Join(dir, "old")}
	// Leftovers of a pull that was killed are not trusted, except blobs/,
	// whose files were renamed there only after they were verified.
	for _, d := range []string{st.tmp, st.tree, st.old} {
		if err := os.RemoveAll(d); err != nil {
			return nil, err
		}
	}
	for _, d := range []string{st.blobs, st.tmp, st.tree, st.old} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	return st, nil
}

func (st *staging) blobPath(d digest.Digest) string {
	return filepath.Join(st.blobs, d.Algorithm().String()+"-"+d.Encoded())
}

// finish removes the staging directory after a pull that succeeded; after
// one that failed, it keeps only the verified blobs (nothing at all when
// there are none).
func (st *staging) finish(ok bool) {
	if ok {
		os.RemoveAll(st.dir)
		return
	}
	for _, d := range []string{st.tmp, st.tree, st.old} {
		os.RemoveAll(d)
	}
	if entries, err := os.ReadDir(st.blobs); err == nil && len(entries) == 0 {
		os.RemoveAll(st.dir)
	}
}

// build puts the layer's new content under tree/: a hard link to (or a copy
// of) the blob for a file, the unpacked archive for a directory.
func (st *staging) build(l *pullLayer) error {
	dst := filepath.Join(st.tree, filepath.FromSlash(l.title))
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	if l.directory {
		f, err := os.Open(l.blob)
		if err != nil {
			return err
		}
		defer f.Close()
		return unpackDir(f, l.title, dst, digest.Digest(l.desc.Annotations[annotationContentDigest]))
	}
	if err := os.Link(l.blob, dst); err == nil {
		return nil
	}
	return copyFile(l.blob, dst)
}

// move puts a built layer in place. A file replaces the old one by rename,
// atomically; a directory is swapped in by two renames.
func (st *staging) move(l *pullLayer, out string) error {
	src := filepath.Join(st.tree, filepath.FromSlash(l.title))
	dst := filepath.Join(out, filepath.FromSlash(l.title))
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	if fi, err := os.Lstat(dst); err == nil && (fi.IsDir() || l.directory) {
		aside, err := os.MkdirTemp(st.old, "")
		if err != nil {
			return err
		}
		if err := os.Rename(dst, filepath.Join(aside, "x")); err != nil {
			return err
		}
	}
	return os.Rename(src, dst)
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
