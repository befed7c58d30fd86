package client

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"

	"github.com/opencontainers/go-digest"
	"github.com/regclient/regclient"
	"github.com/regclient/regclient/types/descriptor"
	"github.com/regclient/regclient/types/manifest"
	"github.com/regclient/regclient/types/ref"
	"golang.org/x/sync/errgroup"
)

// Inspection is a manifest as a registry holds it, with its referrers.
type Inspection struct {
	Reference    string            `json:"reference"`
	Digest       digest.Digest     `json:"digest"`
	MediaType    string            `json:"mediaType"`
	ArtifactType string            `json:"artifactType,omitempty"`
	Size         int64             `json:"size"`      // of the manifest
	TotalSize    int64             `json:"totalSize"` // manifest, config and layers
	Annotations  map[string]string `json:"annotations,omitempty"`
	Subject      *Descriptor       `json:"subject,omitempty"`
	Config       *Descriptor       `json:"config,omitempty"`
	Layers       []Descriptor      `json:"layers,omitempty"`
	Manifests    []Descriptor      `json:"manifests,omitempty"`
	Referrers    []Descriptor      `json:"referrers"`
	// Manifest is the manifest's JSON as the registry served it.
	Manifest json.RawMessage `json:"manifest"`
}

// Inspect fetches a manifest and lists its referrers.
func (r *Registry) Inspect(ctx context.Context, reference string) (*Inspection, error) {
	src, err := r.parseFor("inspect", reference)
	if err != nil {
		return nil, err
	}
	m, err := r.rc.ManifestGet(ctx, src)
	if err != nil {
		return nil, registryFailure("inspect", src, "manifest", err)
	}
	raw, err := m.RawBody()
	if err != nil {
		return nil, registryFailure("inspect", src, "manifest", err)
	}
	d := m.GetDescriptor()
	in := &Inspection{Reference: src.CommonName(), Digest: d.Digest, MediaType: d.MediaType, Size: d.Size, TotalSize: d.Size, Manifest: raw}
	var body struct {
		ArtifactType string `json:"artifactType"`
	}
	_ = json.Unmarshal(raw, &body)
	in.ArtifactType = body.ArtifactType
	if a, ok := m.(manifest.Annotator); ok {
		in.Annotations, _ = a.GetAnnotations()
	}
	if s, ok := m.(manifest.Subjecter); ok {
		if sd, err := s.GetSubject(); err == nil && sd != nil {
			in.Subject = descOf(*sd)
		}
	}
	if img, ok := m.(manifest.Imager); ok && !m.IsList() {
		if cd, err := img.GetConfig(); err == nil {
			in.Config = descOf(cd)
			in.TotalSize += cd.Size
		}
		layers, _ := img.GetLayers()
		for _, l := range layers {
			in.Layers = append(in.Layers, *descOf(l))
			in.TotalSize += l.Size
		}
	}
	if idx, ok := m.(manifest.Indexer); ok {
		children, _ := idx.GetManifestList()
		for _, c := range children {
			in.Manifests = append(in.Manifests, *descOf(c))
		}
	}
	rl, err := r.rc.ReferrerList(ctx, src.SetDigest(d.Digest.String()))
	if err != nil {
		return nil, registryFailure("inspect", src, "referrers", err)
	}
	in.Referrers = []Descriptor{}
	for _, rd := range rl.Descriptors {
		in.Referrers = append(in.Referrers, *descOf(rd))
	}
	return in, nil
}

func descOf(d descriptor.Descriptor) *Descriptor {
	return &Descriptor{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size, ArtifactType: d.ArtifactType, Title: d.Annotations[AnnotationTitle], Annotations: d.Annotations}
}

func (r *Registry) parseFor(op, reference string) (ref.Ref, error) {
	p, err := r.ParseReference(reference)
	if err != nil {
		return ref.Ref{}, &RegistryError{Op: op, Ref: reference, Kind: ErrInvalidInput, Msg: err.Error(), Err: err}
	}
	return p, nil
}

// TagInfo is one tag of a repository.
type TagInfo struct {
	Tag       string        `json:"tag"`
	Digest    digest.Digest `json:"digest"`
	MediaType string        `json:"mediaType"`
	// Size is what a pull of the tag moves: manifest, config and layers
	// (for an index, the index alone).
	Size int64 `json:"size"`
}

// Tags lists a repository's tags with their digests and sizes.
func (r *Registry) Tags(ctx context.Context, repository string) ([]TagInfo, error) {
	repo, err := r.parseFor("ls", repository)
	if err != nil {
		return nil, err
	}
	if tagged, digested := refParts(repository); tagged || digested {
		return nil, &RegistryError{Op: "ls", Ref: repository, Kind: ErrInvalidInput, Msg: "give a repository, without a tag or digest"}
	}
	repo = repo.SetTag("")
	tl, err := r.rc.TagList(ctx, repo)
	if err != nil {
		return nil, registryFailure("ls", repo, "repository", err)
	}
	tags, err := tl.GetTags()
	if err != nil {
		return nil, registryFailure("ls", repo, "tag list", err)
	}
	slices.Sort(tags)
	out := make([]TagInfo, len(tags))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i, tag := range tags {
		g.Go(func() error {
			tref := repo.SetTag(tag)
			m, err := r.rc.ManifestGet(gctx, tref)
			if err != nil {
				return registryFailure("ls", tref, "manifest", err)
			}
			d := m.GetDescriptor()
			info := TagInfo{Tag: tag, Digest: d.Digest, MediaType: d.MediaType, Size: d.Size}
			if img, ok := m.(manifest.Imager); ok && !m.IsList() {
				if cd, err := img.GetConfig(); err == nil {
					info.Size += cd.Size
				}
				layers, _ := img.GetLayers()
				for _, l := range layers {
					info.Size += l.Size
				}
			}
			out[i] = info
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

// tagPattern is the OCI tag grammar.
var tagPattern = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$`)

// Tag gives the manifest reference names another tag in the same
// repository, and returns its digest.
func (r *Registry) Tag(ctx context.Context, reference, newTag string) (digest.Digest, error) {
	src, err := r.parseFor("tag", reference)
	if err != nil {
		return "", err
	}
	if !tagPattern.MatchString(newTag) {
		return "", &RegistryError{Op: "tag", Ref: src.CommonName(), Kind: ErrInvalidInput, Msg: fmt.Sprintf("%q is not a tag (at most 128 of A-Z a-z 0-9 . _ -, not starting with . or -)", newTag)}
	}
	m, err := r.rc.ManifestGet(ctx, src)
	if err != nil {
		return "", registryFailure("tag", src, "manifest", err)
	}
	dst := src.SetTag(newTag)
	if err := r.rc.ManifestPut(ctx, dst, m); err != nil {
		return "", registryFailure("tag", dst, "manifest", err)
	}
	return manifest.GetDigest(m), nil
}

// Copy copies a manifest with everything it references, and its referrers
// (signatures, SBOMs, attached data), to another repository or registry.
// It returns the digest copied.
func (r *Registry) Copy(ctx context.Context, from, to string) (digest.Digest, error) {
	src, err := r.parseFor("copy", from)
	if err != nil {
		return "", err
	}
	dst, err := r.parseFor("copy", to)
	if err != nil {
		return "", err
	}
	m, err := r.rc.ManifestHead(ctx, src, regclient.WithManifestRequireDigest())
	if err != nil {
		return "", registryFailure("copy", src, "manifest", err)
	}
	if _, digested := refParts(to); digested {
		return "", &RegistryError{Op: "copy", Ref: to, Kind: ErrInvalidInput, Msg: "copy to a tag or a repository, not a digest"}
	}
	if tagged, _ := refParts(to); !tagged {
		if src.Tag != "" {
			dst = dst.SetTag(src.Tag)
		} else {
			dst = dst.SetDigest(manifest.GetDigest(m).String())
		}
	}
	if err := r.rc.ImageCopy(ctx, src, dst, regclient.ImageWithReferrers()); err != nil {
		return "", registryFailure("copy", dst, "copy from "+src.CommonName(), err)
	}
	return manifest.GetDigest(m), nil
}

// Delete deletes the manifest a reference names (by tag or digest) and so
// every tag that points at it; it returns the digest deleted.
func (r *Registry) Delete(ctx context.Context, reference string) (digest.Digest, error) {
	src, err := r.parseFor("delete", reference)
	if err != nil {
		return "", err
	}
	m, err := r.rc.ManifestHead(ctx, src, regclient.WithManifestRequireDigest())
	if err != nil {
		return "", registryFailure("delete", src, "manifest", err)
	}
	dig := manifest.GetDigest(m)
	if err := r.rc.ManifestDelete(ctx, src.SetDigest(dig.String()), regclient.WithManifestCheckReferrers()); err != nil {
		return "", registryFailure("delete", src, "manifest", err)
	}
	return dig, nil
}

// Attached lists the digests of the manifests attached to reference by
// subject, and to those in turn, deepest first: what DeleteCascade
// deletes before the manifest itself. Cycles end.
func (r *Registry) Attached(ctx context.Context, reference string) (digest.Digest, []digest.Digest, error) {
	src, err := r.parseFor("delete", reference)
	if err != nil {
		return "", nil, err
	}
	m, err := r.rc.ManifestHead(ctx, src, regclient.WithManifestRequireDigest())
	if err != nil {
		return "", nil, registryFailure("delete", src, "manifest", err)
	}
	root := manifest.GetDigest(m)
	seen := map[digest.Digest]bool{root: true}
	var order []digest.Digest // breadth first
	frontier := []digest.Digest{root}
	for len(frontier) > 0 {
		var next []digest.Digest
		for _, d := range frontier {
			rl, err := r.rc.ReferrerList(ctx, src.SetDigest(d.String()))
			if err != nil {
				return "", nil, registryFailure("delete", src, "referrers", err)
			}
			for _, rd := range rl.Descriptors {
				if !seen[rd.Digest] {
					seen[rd.Digest] = true
					order = append(order, rd.Digest)
					next = append(next, rd.Digest)
				}
			}
		}
		frontier = next
	}
	slices.Reverse(order)
	return root, order, nil
}

// DeleteCascade deletes the manifests attached to reference by subject
// (Attached: deepest first, so none is left pointing at a deleted one),
// then the manifest itself. It returns the digests deleted, in order; on
// an error, those deleted before it.
func (r *Registry) DeleteCascade(ctx context.Context, reference string) ([]digest.Digest, error) {
	root, attached, err := r.Attached(ctx, reference)
	if err != nil {
		return nil, err
	}
	src, _ := r.parseFor("delete", reference)
	var deleted []digest.Digest
	for _, d := range append(attached, root) {
		if err := r.rc.ManifestDelete(ctx, src.SetDigest(d.String()), regclient.WithManifestCheckReferrers()); err != nil {
			return deleted, registryFailure("delete", src.SetDigest(d.String()), "manifest", err)
		}
		deleted = append(deleted, d)
	}
	return deleted, nil
}

// Resolve returns the digest a reference names now.
func (r *Registry) Resolve(ctx context.Context, reference string) (digest.Digest, error) {
	src, err := r.parseFor("resolve", reference)
	if err != nil {
		return "", err
	}
	m, err := r.rc.ManifestHead(ctx, src, regclient.WithManifestRequireDigest())
	if err != nil {
		return "", registryFailure("resolve", src, "manifest", err)
	}
	return manifest.GetDigest(m), nil
}
