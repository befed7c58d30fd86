package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/regclient/regclient"
	"github.com/regclient/regclient/types/descriptor"
	"github.com/regclient/regclient/types/manifest"
	"github.com/regclient/regclient/types/mediatype"
	v1 "github.com/regclient/regclient/types/oci/v1"
	"github.com/regclient/regclient/types/ref"
	"golang.org/x/sync/errgroup"

	"github.com/cairn-dev/cairn/annotations"
)

// Annotation keys cairn writes.
const (
	AnnotationTitle       = ocispec.AnnotationTitle
	AnnotationCreated     = ocispec.AnnotationCreated
	AnnotationDerivedFrom = annotations.DerivedFrom
)

// DefaultArtifactType is the artifactType of a push that names none.
const DefaultArtifactType = "application/vnd.cairn.artifact.v1"

// emptyConfig is the OCI 1.1 empty descriptor's content, the config of an
// artifact that has no config of its own.
var emptyConfig = []byte("{}")

// PushOptions are the optional parts of a push; the zero value pushes the
// files under the reference's tag with the default artifact type.
type PushOptions struct {
	// ArtifactType is the manifest's artifactType (DefaultArtifactType when empty).
	ArtifactType string
	// Annotations of the manifest. org.opencontainers.image.created is added
	// with the current time unless given.
	Annotations map[string]string
	// LayerAnnotations adds annotations to layers, by title.
	LayerAnnotations map[string]map[string]string
	// Subject is a reference to the manifest this artifact refers to (OCI
	// 1.1 subject). ":TAG" and "@DIGEST" name one in the same repository.
	Subject string
	// DerivedFrom are references of the artifacts this one was made from;
	// they are resolved to digests and written to the annotation
	// dev.cairn.lineage.derived-from.
	DerivedFrom []string
	// TagTemplate makes the tag from the annotations, such as
	// "{conference}-{year}_{model}" (see FillTagTemplate); the reference
	// then names no tag.
	TagTemplate string
	// MountFrom names repositories of the same registry that may hold the
	// blobs already, to mount them instead of uploading. The repositories
	// of Subject and DerivedFrom are tried too.
	MountFrom []string
	// Concurrency is how many blobs upload at once (default 5).
	Concurrency int
	// Progress, when set, is called as each layer goes.
	Progress ProgressFunc
}

// PushResult says what a push did.
type PushResult struct {
	Reference    string            `json:"reference"` // registry/repository:tag
	Repository   string            `json:"repository"`
	Tag          string            `json:"tag,omitempty"`
	Digest       digest.Digest     `json:"digest"`
	MediaType    string            `json:"mediaType"`
	ArtifactType string            `json:"artifactType"`
	Size         int64             `json:"size"` // of the manifest
	Annotations  map[string]string `json:"annotations,omitempty"`
	Layers       []LayerResult     `json:"layers"`
}

// LayerResult is one layer of a push or a pull and what was done with it.
type LayerResult struct {
	Title     string        `json:"title"`
	MediaType string        `json:"mediaType"`
	Digest    digest.Digest `json:"digest"`
	Size      int64         `json:"size"`
	// Status of a push: "uploaded", "exists" (the registry had it),
	// "mounted" (from another repository). Of a pull: "downloaded",
	// "unchanged" (the local copy already matched), "resumed" (verified by
	// an earlier, interrupted pull).
	Status string `json:"status"`
	// Directory is true for a directory packed as tar+gzip.
	Directory bool `json:"directory,omitempty"`
}

// ProgressFunc receives progress events; it is called from several
// goroutines at once and must not block for long.
type ProgressFunc func(ProgressEvent)

// ProgressEvent reports one layer's progress.
type ProgressEvent struct {
	Title  string
	Digest digest.Digest
	Done   int64 // bytes moved so far
	Total  int64
	// State: "start", "progress", "done" (with Status set), "error".
	State  string
	Status string
}

// pushLayer is a layer being prepared and uploaded.
type pushLayer struct {
	src       string // the file to upload (a temporary file for a directory)
	temp      bool
	desc      descriptor.Descriptor
	directory bool
	status    string
}

// Push uploads files and directories (each one layer, a directory packed as
// a reproducible tar+gzip) as one OCI artifact and tags it. A path may end
// in ":MEDIATYPE" to set its layer's media type; otherwise it is guessed
// from the extension. Blobs the registry holds already are not uploaded.
func (r *Registry) Push(ctx context.Context, reference string, paths []string, opts PushOptions) (*PushResult, error) {
	target, err := r.parseFor("push", reference)
	if err != nil {
		return nil, err
	}
	fail := func(what string, err error) (*PushResult, error) {
		return nil, registryFailure("push", target, what, err)
	}
	tagged, digested := refParts(reference)
	if digested {
		return fail("", fmt.Errorf("push to a tag, not a digest (%s)%.0w", reference, ErrInvalidInput))
	}
	if opts.TagTemplate != "" && tagged {
		return fail("", fmt.Errorf("give either a tag in the reference or --tag-template, not both%.0w", ErrInvalidInput))
	}
	if len(paths) == 0 {
		return fail("", fmt.Errorf("nothing to push; name files or directories%.0w", ErrInvalidInput))
	}

	annotations := maps.Clone(opts.Annotations)
	if annotations == nil {
		annotations = map[string]string{}
	}
	if _, ok := annotations[AnnotationCreated]; !ok {
		annotations[AnnotationCreated] = time.Now().UTC().Format(time.RFC3339)
	}
	if opts.TagTemplate != "" {
		tag, err := FillTagTemplate(opts.TagTemplate, annotations)
		if err != nil {
			return fail("", err)
		}
		target = target.SetTag(tag)
	}

	// Prepare the layers before anything is sent, so a missing file fails
	// the push without leaving blobs behind.
	layers, cleanup, err := prepareLayers(paths, opts.LayerAnnotations)
	defer cleanup()
	if err != nil {
		return fail("", err)
	}

	mountFrom := slices.Clone(opts.MountFrom)
	var subject *descriptor.Descriptor
	if opts.Subject != "" {
		sref, err := r.relativeRef(target, opts.Subject)
		if err != nil {
			return fail("", fmt.Errorf("--subject: %w", err))
		}
		m, err := r.rc.ManifestGet(ctx, sref)
		if err != nil {
			return nil, registryFailure("push", sref, "subject manifest", err)
		}
		d := m.GetDescriptor()
		subject = &descriptor.Descriptor{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size}
		if sref.Registry == target.Registry {
			mountFrom = append(mountFrom, sref.Repository)
		}
	}
	if len(opts.DerivedFrom) > 0 {
		var refs []string
		for _, s := range opts.DerivedFrom {
			dref, err := r.relativeRef(target, s)
			if err != nil {
				return fail("", fmt.Errorf("--derived-from: %w", err))
			}
			m, err := r.rc.ManifestHead(ctx, dref, regclient.WithManifestRequireDigest())
			if err != nil {
				return nil, registryFailure("push", dref, "derived-from manifest", err)
			}
			dig := manifest.GetDigest(m)
			if dref.Registry == target.Registry {
				refs = append(refs, dref.Repository+"@"+dig.String())
				mountFrom = append(mountFrom, dref.Repository)
			} else {
				refs = append(refs, dref.Registry+"/"+dref.Repository+"@"+dig.String())
			}
		}
		if prev := annotations[AnnotationDerivedFrom]; prev != "" {
			refs = append(strings.Split(prev, ","), refs...)
		}
		annotations[AnnotationDerivedFrom] = strings.Join(refs, ",")
	}

	config := descriptor.Descriptor{MediaType: mediatype.OCI1Empty, Digest: digest.FromBytes(emptyConfig), Size: int64(len(emptyConfig)), Data: emptyConfig}
	if err := r.putBlob(ctx, target, config, nil, mountFrom, nil); err != nil {
		return fail("config blob", err)
	}

	concurrency := opts.Concurrency
	if concurrency <= 0 {
		concurrency = defaultConcurrency
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(concurrency)
	for _, l := range layers {
		g.Go(func() error {
			return r.pushLayer(gctx, target, l, mountFrom, opts.Progress)
		})
	}
	if err := g.Wait(); err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return fail("a layer", err)
	}

	artifactType := opts.ArtifactType
	if artifactType == "" {
		artifactType = DefaultArtifactType
	}
	config.Data = nil
	om := v1.Manifest{
		Versioned:    v1.ManifestSchemaVersion,
		MediaType:    mediatype.OCI1Manifest,
		ArtifactType: artifactType,
		Config:       config,
		Subject:      subject,
		Annotations:  annotations,
	}
	res := &PushResult{Repository: target.Repository, Tag: target.Tag, ArtifactType: artifactType, MediaType: mediatype.OCI1Manifest, Annotations: annotations}
	for _, l := range layers {
		om.Layers = append(om.Layers, l.desc)
		res.Layers = append(res.Layers, LayerResult{Title: l.desc.Annotations[AnnotationTitle], MediaType: l.desc.MediaType, Digest: l.desc.Digest, Size: l.desc.Size, Status: l.status, Directory: l.directory})
	}
	m, err := manifest.New(manifest.WithOrig(om))
	if err != nil {
		return fail("manifest", err)
	}
	if err := r.rc.ManifestPut(ctx, target, m); err != nil {
		return fail("manifest", err)
	}
	d := m.GetDescriptor()
	res.Digest, res.Size = d.Digest, d.Size
	res.Reference = target.CommonName()
	return res, nil
}

// refParts reports whether a reference as typed names a tag and a digest
// (regclient fills in "latest" for a reference without either).
func refParts(s string) (tagged, digested bool) {
	name, _, digested := strings.Cut(s, "@")
	last := name[strings.LastIndexByte(name, '/')+1:]
	return strings.Contains(last, ":"), digested
}

// relativeRef parses a reference that may be relative to base: ":TAG" or
// "@DIGEST" in base's repository.
func (r *Registry) relativeRef(base ref.Ref, s string) (ref.Ref, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, ":") || strings.HasPrefix(s, "@") {
		s = base.Registry + "/" + base.Repository + s
	}
	return r.ParseReference(s)
}

// prepareLayers checks every path, hashes files and packs directories (into
// temporary files that cleanup removes).
func prepareLayers(paths []string, layerAnnotations map[string]map[string]string) ([]*pushLayer, func(), error) {
	var layers []*pushLayer
	cleanup := func() {
		for _, l := range layers {
			if l.temp {
				os.Remove(l.src)
			}
		}
	}
	titles := map[string]string{}
	for _, arg := range paths {
		p, mediaType := splitMediaType(arg)
		fi, err := os.Stat(p)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return layers, cleanup, fmt.Errorf("%s does not exist%.0w", p, ErrInvalidInput)
			}
			return layers, cleanup, fmt.Errorf("%w%.0w", err, ErrInvalidInput)
		}
		title := layerTitle(p)
		if prev, ok := titles[title]; ok {
			return layers, cleanup, fmt.Errorf("%s and %s would both be layer %q; push them from their own directories or rename one%.0w", prev, p, title, ErrInvalidInput)
		}
		titles[title] = p
		l := &pushLayer{src: p}
		layers = append(layers, l)
		ann := map[string]string{}
		maps.Copy(ann, layerAnnotations[title])
		ann[AnnotationTitle] = title
		switch {
		case fi.IsDir():
			if mediaType == "" {
				mediaType = mediatype.OCI1LayerGzip
			}
			tmp, err := os.CreateTemp("", "cairn-push-*.tar.gz")
			if err != nil {
				return layers, cleanup, err
			}
			l.src, l.temp, l.directory = tmp.Name(), true, true
			digester := digest.Canonical.Digester()
			counter := &countWriter{}
			tarDigest, err := packDir(p, title, io.MultiWriter(tmp, digester.Hash(), counter))
			if cerr := tmp.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				if errors.Is(err, os.ErrPermission) {
					return layers, cleanup, fmt.Errorf("cannot read directory %s: %w%.0w", p, err, ErrInvalidInput)
				}
				return layers, cleanup, fmt.Errorf("packing %s: %w", p, err)
			}
			ann[annotationUnpack] = "true"
			ann[annotationContentDigest] = tarDigest.String()
			l.desc = descriptor.Descriptor{MediaType: mediaType, Digest: digester.Digest(), Size: counter.n, Annotations: ann}
		case fi.Mode().IsRegular():
			if mediaType == "" {
				mediaType = guessMediaType(p)
			}
			dig, size, err := hashFile(p)
			if err != nil {
				return layers, cleanup, fmt.Errorf("cannot read %s: %w%.0w", p, err, ErrInvalidInput)
			}
			l.desc = descriptor.Descriptor{MediaType: mediaType, Digest: dig, Size: size, Annotations: ann}
		default:
			return layers, cleanup, fmt.Errorf("%s is neither a file nor a directory%.0w", p, ErrInvalidInput)
		}
	}
	return layers, cleanup, nil
}

// splitMediaType splits "FILE:MEDIATYPE"; a path that exists as given, or
// whose suffix after the last ':' is not type/subtype, is taken whole.
func splitMediaType(arg string) (string, string) {
	if _, err := os.Lstat(arg); err == nil {
		return arg, ""
	}
	i := strings.LastIndexByte(arg, ':')
	if i <= 0 {
		return arg, ""
	}
	if mt := arg[i+1:]; strings.Count(mt, "/") == 1 && !strings.ContainsAny(mt, " \\") {
		return arg[:i], mt
	}
	return arg, ""
}

// layerTitle is the path as given, cleaned and with forward slashes, when
// it stays below the working directory (so pull recreates it there), or
// else its base name.
func layerTitle(p string) string {
	clean := filepath.Clean(p)
	if filepath.IsLocal(clean) {
		return filepath.ToSlash(clean)
	}
	return filepath.Base(clean)
}

// mediaTypes covers the data formats mime's table does not know.
var mediaTypes = map[string]string{
	".json":        "application/json",
	".jsonl":       "application/jsonl",
	".ndjson":      "application/x-ndjson",
	".csv":         "text/csv",
	".tsv":         "text/tab-separated-values",
	".txt":         "text/plain",
	".md":          "text/markdown",
	".yaml":        "application/yaml",
	".yml":         "application/yaml",
	".parquet":     "application/vnd.apache.parquet",
	".arrow":       "application/vnd.apache.arrow.file",
	".npy":         "application/x-npy",
	".npz":         "application/x-npz",
	".safetensors": "application/vnd.cairn.safetensors",
	".gguf":        "application/vnd.cairn.gguf",
	".onnx":        "application/vnd.cairn.onnx",
	".pt":          "application/vnd.cairn.pytorch",
	".db":          "application/vnd.sqlite3",
	".sqlite":      "application/vnd.sqlite3",
	".gz":          "application/gzip",
	".zst":         "application/zstd",
	".tar":         "application/x-tar",
	".zip":         "application/zip",
}

// guessMediaType guesses a file's media type from its extension.
func guessMediaType(p string) string {
	ext := strings.ToLower(path.Ext(p))
	if mt, ok := mediaTypes[ext]; ok {
		return mt
	}
	if mt := mime.TypeByExtension(ext); mt != "" {
		if base, _, err := mime.ParseMediaType(mt); err == nil {
			return base
		}
	}
	return "application/octet-stream"
}

func hashFile(p string) (digest.Digest, int64, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	d := digest.Canonical.Digester()
	n, err := io.Copy(d.Hash(), f)
	if err != nil {
		return "", 0, err
	}
	return d.Digest(), n, nil
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// pushLayer uploads one layer unless the registry has it.
func (r *Registry) pushLayer(ctx context.Context, target ref.Ref, l *pushLayer, mountFrom []string, progress ProgressFunc) error {
	title := l.desc.Annotations[AnnotationTitle]
	emit := func(ev ProgressEvent) {
		if progress != nil {
			ev.Title, ev.Digest, ev.Total = title, l.desc.Digest, l.desc.Size
			progress(ev)
		}
	}
	emit(ProgressEvent{State: "start"})
	f, err := os.Open(l.src)
	if err != nil {
		emit(ProgressEvent{State: "error"})
		return err
	}
	defer f.Close()
	statusp := &l.status
	err = r.putBlob(ctx, target, l.desc, f, mountFrom, func(done int64) {
		emit(ProgressEvent{State: "progress", Done: done})
	}, statusp)
	if err != nil {
		emit(ProgressEvent{State: "error"})
		return registryFailure("push", target, "layer "+title, err)
	}
	emit(ProgressEvent{State: "done", Done: l.desc.Size, Status: l.status})
	return nil
}

// putBlob makes sure the repository holds the blob: HEAD first, then a
// mount from each known repository, then an upload from rdr (or d.Data).
func (r *Registry) putBlob(ctx context.Context, target ref.Ref, d descriptor.Descriptor, rdr io.ReadSeeker, mountFrom []string, onBytes func(int64), status ...*string) error {
	set := func(s string) {
		for _, p := range status {
			*p = s
		}
	}
	if _, err := r.rc.BlobHead(ctx, target, d); err == nil {
		set("exists")
		return nil
	}
	seen := map[string]bool{target.Repository: true}
	for _, repo := range mountFrom {
		if seen[repo] {
			continue
		}
		seen[repo] = true
		src := target.SetTag("")
		src.Repository = repo
		if err := r.rc.BlobMount(ctx, src, target, d); err == nil {
			set("mounted")
			return nil
		}
	}
	if rdr == nil {
		rdr = strings.NewReader(string(d.Data))
	}
	body := io.ReadSeeker(rdr)
	if onBytes != nil {
		body = &progressReader{r: rdr, on: onBytes}
	}
	put := d
	put.Data, put.Annotations = nil, nil
	if _, err := r.rc.BlobPut(ctx, target, put, body); err != nil {
		return err
	}
	set("uploaded")
	return nil
}

// progressReader reports the position as bytes are read, and follows a
// seek back when a failed upload is retried.
type progressReader struct {
	r    io.ReadSeeker
	on   func(int64)
	pos  int64
	last time.Time
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.pos += int64(n)
	if now := time.Now(); now.Sub(p.last) > 100*time.Millisecond || err != nil {
		p.last = now
		p.on(p.pos)
	}
	return n, err
}

func (p *progressReader) Seek(off int64, whence int) (int64, error) {
	pos, err := p.r.Seek(off, whence)
	if err == nil {
		p.pos = pos
		p.on(pos)
	}
	return pos, err
}
