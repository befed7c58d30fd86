package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/regclient/regclient"
	"github.com/regclient/regclient/scheme"
	"github.com/regclient/regclient/types/descriptor"
	"github.com/regclient/regclient/types/errs"
	"github.com/regclient/regclient/types/manifest"
	"github.com/regclient/regclient/types/mediatype"
	v1 "github.com/regclient/regclient/types/oci/v1"
	"github.com/regclient/regclient/types/ref"

	"github.com/cairn-dev/cairn/signing"
)

// ErrNoValidSignature: no signature of the content verifies with the keys
// given.
var ErrNoValidSignature = errors.New("no valid signature")

// maxPayload bounds a signature payload read from a registry.
const maxPayload = 1 << 20

// SignOptions are the choices of Sign.
type SignOptions struct {
	// Annotations go into the signed payload (cosign's -a).
	Annotations map[string]string
	// LegacyTag also adds the signature to the manifest under cosign's
	// legacy tag sha256-<hex>.sig (appending to the signatures already
	// there), where verifiers that do not read referrers look.
	LegacyTag bool
}

// SignResult says what Sign pushed.
type SignResult struct {
	Reference string        `json:"reference"`
	Digest    digest.Digest `json:"digest"` // of the signed manifest
	KeyID     string        `json:"keyId"`
	// Signature is the digest of the signature manifest pushed.
	Signature digest.Digest `json:"signature"`
	// Tag is the legacy tag also written, when asked for.
	Tag string `json:"tag,omitempty"`
}

// Sign signs the manifest reference names and pushes the signature as an
// OCI 1.1 referrer of it, the way cosign does in its referrers mode: an
// image manifest of artifactType signing.ArtifactType over the empty
// config, whose one layer is the simple signing payload with the signature
// in its annotations. The manifest is resolved with HEAD only, so a
// registry that refuses to serve unsigned content can still have it signed.
func (r *Registry) Sign(ctx context.Context, reference string, signer *signing.Signer, opts SignOptions) (*SignResult, error) {
	src, err := r.parseFor("sign", reference)
	if err != nil {
		return nil, err
	}
	fail := func(what string, err error) (*SignResult, error) {
		return nil, registryFailure("sign", src, what, err)
	}
	head, err := r.rc.ManifestHead(ctx, src, regclient.WithManifestRequireDigest())
	if err != nil {
		return fail("manifest", err)
	}
	subject := head.GetDescriptor()
	var ann map[string]any
	if len(opts.Annotations) > 0 {
		ann = map[string]any{}
		for k, v := range opts.Annotations {
			ann[k] = v
		}
	}
	payload, err := signing.NewPayload(src.Registry+"/"+src.Repository, subject.Digest, ann)
	if err != nil {
		return fail("", fmt.Errorf("%w%.0w", err, ErrInvalidInput))
	}
	sig, err := signer.Sign(payload)
	if err != nil {
		return fail("", err)
	}
	target := src.SetTag("")
	payloadDesc := descriptor.Descriptor{MediaType: signing.PayloadMediaType, Digest: digest.FromBytes(payload), Size: int64(len(payload))}
	if err := r.putBlob(ctx, target, payloadDesc, bytes.NewReader(payload), nil, nil); err != nil {
		return fail("signature payload", err)
	}
	configDesc := descriptor.Descriptor{MediaType: mediatype.OCI1Empty, Digest: digest.FromBytes(emptyConfig), Size: int64(len(emptyConfig)), Data: emptyConfig}
	if err := r.putBlob(ctx, target, configDesc, bytes.NewReader(emptyConfig), nil, nil); err != nil {
		return fail("empty config", err)
	}
	configDesc.Data = nil
	payloadDesc.Annotations = map[string]string{signing.SignatureAnnotation: sig}
	om := v1.Manifest{
		Versioned:    v1.ManifestSchemaVersion,
		MediaType:    mediatype.OCI1Manifest,
		ArtifactType: signing.ArtifactType,
		Config:       configDesc,
		Layers:       []descriptor.Descriptor{payloadDesc},
		Subject:      &descriptor.Descriptor{MediaType: subject.MediaType, Digest: subject.Digest, Size: subject.Size},
		Annotations:  map[string]string{ocispec.AnnotationCreated: time.Now().UTC().Format(time.RFC3339)},
	}
	m, err := manifest.New(manifest.WithOrig(om))
	if err != nil {
		return fail("signature manifest", err)
	}
	d := m.GetDescriptor().Digest
	if err := r.rc.ManifestPut(ctx, target.SetDigest(d.String()), m); err != nil {
		return fail("signature manifest", err)
	}
	res := &SignResult{Reference: src.CommonName(), Digest: subject.Digest, KeyID: signer.Key.ID, Signature: d}
	if opts.LegacyTag {
		if res.Tag, err = r.appendLegacy(ctx, target, subject.Digest, configDesc, payloadDesc); err != nil {
			return fail("signature tag", err)
		}
	}
	return res, nil
}

// appendLegacy adds the payload layer to the manifest under the legacy
// signature tag of signed, making one if there is none, as cosign does.
func (r *Registry) appendLegacy(ctx context.Context, repo ref.Ref, signed digest.Digest, config, layer descriptor.Descriptor) (string, error) {
	tag := signing.LegacyTag(signed)
	target := repo.SetTag(tag)
	om := v1.Manifest{Versioned: v1.ManifestSchemaVersion, MediaType: mediatype.OCI1Manifest, Config: config}
	old, err := r.rc.ManifestGet(ctx, target)
	switch {
	case err == nil:
		img, ok := old.(manifest.Imager)
		if !ok || old.IsList() {
			return "", fmt.Errorf("%s holds an index, not cosign signatures; it is left as it is", tag)
		}
		if om.Config, err = img.GetConfig(); err != nil {
			return "", err
		}
		if om.Layers, err = img.GetLayers(); err != nil {
			return "", err
		}
		if om.MediaType = manifest.GetMediaType(old); om.MediaType != mediatype.OCI1Manifest && om.MediaType != mediatype.Docker2Manifest {
			return "", fmt.Errorf("%s is a %s, not an image manifest of signatures", tag, om.MediaType)
		}
	case !errors.Is(err, errs.ErrNotFound):
		return "", err
	}
	om.Layers = append(om.Layers, layer)
	m, err := manifest.New(manifest.WithOrig(om))
	if err != nil {
		return "", err
	}
	return tag, r.rc.ManifestPut(ctx, target, m)
}

// FoundSignature is one signature of a manifest and how it verified.
type FoundSignature struct {
	// Manifest is the signature manifest; Position the payload layer.
	Manifest digest.Digest `json:"manifest"`
	Position int           `json:"position"`
	Form     signing.Form  `json:"form"`
	// SignedAt is the signature manifest's creation annotation, zero when
	// it has none (cosign's own manifests do not say).
	SignedAt time.Time `json:"signedAt,omitzero"`
	KeyID    string    `json:"keyId,omitempty"`
	Verified bool      `json:"verified"`
	Error    string    `json:"error,omitempty"`
}

// Verification is every signature found for a manifest.
type Verification struct {
	Reference  string           `json:"reference"`
	Digest     digest.Digest    `json:"digest"`
	KeyIDs     []string         `json:"keyIds"`
	Signatures []FoundSignature `json:"signatures"`
}

// Valid returns the signatures that verified.
func (v *Verification) Valid() []FoundSignature {
	var out []FoundSignature
	for _, s := range v.Signatures {
		if s.Verified {
			out = append(out, s)
		}
	}
	return out
}

// Verify finds the signatures of the manifest reference names, both as
// referrers of signing.ArtifactType and under cosign's legacy tag, and
// checks each against keys. It returns an error wrapping
// ErrNoValidSignature, with the Verification, unless one verifies.
func (r *Registry) Verify(ctx context.Context, reference string, keys []*signing.PublicKey) (*Verification, error) {
	src, err := r.parseFor("verify", reference)
	if err != nil {
		return nil, err
	}
	v, err := r.verify(ctx, src, keys)
	if err != nil {
		return nil, registryFailure("verify", src, "signatures", err)
	}
	if len(v.Valid()) == 0 {
		return v, &RegistryError{Op: "verify", Ref: src.CommonName(), Kind: ErrNoValidSignature, Msg: noValidSignature(v)}
	}
	return v, nil
}

func (r *Registry) verify(ctx context.Context, src ref.Ref, keys []*signing.PublicKey) (*Verification, error) {
	head, err := r.rc.ManifestHead(ctx, src, regclient.WithManifestRequireDigest())
	if err != nil {
		return nil, err
	}
	d := head.GetDescriptor().Digest
	v := &Verification{Reference: src.CommonName(), Digest: d, Signatures: []FoundSignature{}}
	for _, k := range keys {
		v.KeyIDs = append(v.KeyIDs, k.ID)
	}
	subject := src.SetDigest(d.String())
	type sigManifest struct {
		ref  ref.Ref
		form signing.Form
	}
	var found []sigManifest
	rl, err := r.rc.ReferrerList(ctx, subject, scheme.WithReferrerMatchOpt(descriptor.MatchOpt{ArtifactType: signing.ArtifactType}))
	if err != nil {
		return nil, err
	}
	for _, rd := range rl.Descriptors {
		found = append(found, sigManifest{subject.SetDigest(rd.Digest.String()), signing.FormReferrer})
	}
	legacy := subject.SetTag(signing.LegacyTag(d))
	if _, err := r.rc.ManifestHead(ctx, legacy); err == nil {
		found = append(found, sigManifest{legacy, signing.FormTag})
	} else if !errors.Is(err, errs.ErrNotFound) {
		return nil, err
	}
	for _, f := range found {
		m, err := r.rc.ManifestGet(ctx, f.ref)
		if err != nil {
			return nil, err
		}
		img, ok := m.(manifest.Imager)
		if !ok {
			continue
		}
		layers, err := img.GetLayers()
		if err != nil {
			return nil, err
		}
		var signedAt time.Time
		if a, ok := m.(manifest.Annotator); ok {
			ann, _ := a.GetAnnotations()
			signedAt, _ = time.Parse(time.RFC3339, ann[ocispec.AnnotationCreated])
		}
		for i, l := range layers {
			if l.MediaType != signing.PayloadMediaType {
				continue
			}
			fs := FoundSignature{Manifest: m.GetDescriptor().Digest, Position: i + 1, Form: f.form, SignedAt: signedAt}
			payload, err := r.readPayload(ctx, subject, l)
			var res signing.Result
			if err != nil {
				res.Err = err
			} else {
				res = signing.Verify(payload, l.Annotations[signing.SignatureAnnotation], d, keys)
			}
			fs.KeyID, fs.Verified = res.KeyID, res.Verified
			if res.Err != nil {
				fs.Error = res.Err.Error()
			}
			v.Signatures = append(v.Signatures, fs)
		}
	}
	return v, nil
}

// readPayload reads a payload layer, bounded and digest-checked.
func (r *Registry) readPayload(ctx context.Context, repo ref.Ref, l descriptor.Descriptor) ([]byte, error) {
	if l.Size > maxPayload {
		return nil, fmt.Errorf("payload %s is %d bytes, over %d", l.Digest, l.Size, maxPayload)
	}
	rd, err := r.rc.BlobGet(ctx, repo, l)
	if err != nil {
		return nil, fmt.Errorf("payload %s: %w", l.Digest, err)
	}
	defer rd.Close()
	b, err := io.ReadAll(io.LimitReader(rd, maxPayload+1))
	if err != nil {
		return nil, fmt.Errorf("payload %s: %w", l.Digest, err)
	}
	if l.Digest.Validate() != nil || l.Digest.Algorithm().FromBytes(b) != l.Digest {
		return nil, fmt.Errorf("payload %s does not match its digest", l.Digest)
	}
	return b, nil
}

// noValidSignature says why verification failed, for a person.
func noValidSignature(v *Verification) string {
	keys := make([]string, len(v.KeyIDs))
	for i, k := range v.KeyIDs {
		keys[i] = strings.TrimPrefix(k, "sha256:")[:12]
	}
	if len(v.Signatures) == 0 {
		return fmt.Sprintf("%s has no signatures (looked for referrers of type %s and the tag %s)", v.Digest, signing.ArtifactType, signing.LegacyTag(v.Digest))
	}
	reasons := map[string]int{}
	var order []string
	for _, s := range v.Signatures {
		if reasons[s.Error] == 0 {
			order = append(order, s.Error)
		}
		reasons[s.Error]++
	}
	var why []string
	for _, e := range order {
		why = append(why, fmt.Sprintf("%d: %s", reasons[e], e))
	}
	return fmt.Sprintf("none of the %d signatures of %s verifies with key %s (%s)", len(v.Signatures), v.Digest, strings.Join(keys, ", "), strings.Join(why, "; "))
}
