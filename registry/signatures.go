package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"go.uber.org/zap"

	"github.com/cairn-dev/cairn/auth"
	"github.com/cairn-dev/cairn/catalog"
	"github.com/cairn-dev/cairn/errcode"
	"github.com/cairn-dev/cairn/signing"
)

// maxPayloadSize bounds a signature payload read from the engine: cosign's
// are a few hundred bytes.
const maxPayloadSize = 64 << 10

// trustSetting is the catalog setting holding the fingerprint of the trust
// policy the signature records were computed with.
const trustSetting = "trust-fingerprint"

// signatureSubjects returns the manifests whose signature records a push of
// m (under tag, "" for none) changes.
func signatureSubjects(m catalog.Manifest, tag string) []digest.Digest {
	var out []digest.Digest
	if m.ArtifactType == signing.ArtifactType && m.Subject != "" {
		out = append(out, m.Subject)
	}
	if d, ok := signing.ParseLegacyTag(tag); ok {
		out = append(out, d)
	}
	return out
}

// refreshSignatures recomputes the signature records of repo@dgst: every
// payload layer of every signature manifest that reaches it (referrers of
// cosign's artifactType, and the manifest under its legacy tag), checked
// against the keys trusted for repo. A manifest the catalog does not hold
// has no records to keep.
func (r *Registry) refreshSignatures(ctx context.Context, repo string, dgst digest.Digest) error {
	rule, _ := r.trust.For(repo)
	type source struct {
		m    catalog.Manifest
		form signing.Form
	}
	var sources []source
	refs, err := r.store.Referrers(ctx, repo, dgst, signing.ArtifactType)
	if err != nil {
		return err
	}
	for _, m := range refs {
		sources = append(sources, source{m, signing.FormReferrer})
	}
	switch legacy, err := r.store.ResolveTag(ctx, repo, signing.LegacyTag(dgst)); {
	case errors.Is(err, catalog.ErrNotFound):
	case err != nil:
		return err
	default:
		m, err := r.store.Manifest(ctx, repo, legacy)
		if err != nil {
			return err
		}
		sources = append(sources, source{m, signing.FormTag})
	}

	records := []catalog.Signature{}
	for _, src := range sources {
		for i, l := range src.m.Layers {
			if l.Kind != "layer" || l.MediaType != signing.PayloadMediaType {
				continue
			}
			rec := catalog.Signature{Manifest: src.m.Digest, Position: i, Form: string(src.form), SignedAt: signedAt(src.m)}
			payload, err := r.readPayload(ctx, repo, l)
			var res signing.Result
			switch {
			case err != nil:
				res.Err = fmt.Errorf("payload %s cannot be read: %w", l.Digest, err)
			case len(rule.Keys) == 0:
				res.Err = fmt.Errorf("no key is trusted for repository %s; configure one under trust", repo)
			default:
				res = signing.Verify(payload, l.Annotations[signing.SignatureAnnotation], dgst, rule.Keys)
			}
			rec.KeyID, rec.Verified = res.KeyID, res.Verified
			if res.Err != nil {
				rec.Error = res.Err.Error()
			}
			records = append(records, rec)
		}
	}
	err = r.store.SetSignatures(ctx, repo, dgst, records)
	if errors.Is(err, catalog.ErrNotFound) {
		return nil
	}
	return err
}

// signedAt is when a signature manifest says it was made, or else when it
// reached the registry: cosign's key-based signatures carry no time of
// their own outside a transparency log.
func signedAt(m catalog.Manifest) time.Time {
	if t, err := time.Parse(time.RFC3339, m.Annotations[ocispec.AnnotationCreated]); err == nil {
		return t.UTC()
	}
	return m.PushedAt
}

// readPayload reads the signature payload layer l of repo from the engine
// and checks its digest. A payload is a few hundred bytes: one whose
// descriptor claims more than maxPayloadSize is refused before anything is
// fetched, and the read stops as soon as the engine sends more than that,
// whatever the descriptor said, so a push cannot make the server hold a
// large blob in memory.
func (r *Registry) readPayload(ctx context.Context, repo string, l catalog.Layer) ([]byte, error) {
	if l.Size > maxPayloadSize {
		return nil, fmt.Errorf("its descriptor says %d bytes; a signature payload is at most %d", l.Size, maxPayloadSize)
	}
	if err := l.Digest.Validate(); err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "/v2/"+repo+"/blobs/"+l.Digest.String(), nil)
	if err != nil {
		return nil, err
	}
	w := &limitedAnswer{header: http.Header{}, limit: maxPayloadSize}
	r.engine.ServeHTTP(w, req)
	switch {
	case w.over:
		return nil, fmt.Errorf("blob is over %d bytes", maxPayloadSize)
	case w.status != 0 && w.status != http.StatusOK:
		return nil, fmt.Errorf("the engine answered %d", w.status)
	}
	b := w.body
	if l.Digest.Algorithm().FromBytes(b) != l.Digest {
		return nil, errors.New("blob does not match its digest")
	}
	return b, nil
}

// errPayloadTooLarge stops the engine's copy of a blob past the limit.
var errPayloadTooLarge = errors.New("signature payload over the size limit")

// limitedAnswer holds an engine's answer up to limit bytes of body and
// refuses the rest.
type limitedAnswer struct {
	header http.Header
	status int
	body   []byte
	limit  int
	over   bool
}

func (a *limitedAnswer) Header() http.Header { return a.header }

func (a *limitedAnswer) WriteHeader(code int) {
	if a.status == 0 {
		a.status = code
	}
}

func (a *limitedAnswer) Write(p []byte) (int, error) {
	a.WriteHeader(http.StatusOK)
	if len(a.body)+len(p) > a.limit {
		a.over = true
		return 0, errPayloadTooLarge
	}
	a.body = append(a.body, p...)
	return len(p), nil
}

// refreshAfterWrite updates the signature records a write changed; a
// failure is logged, not answered: the write itself succeeded, and a
// reindex or restart recomputes the records.
func (r *Registry) refreshAfterWrite(ctx context.Context, repo string, subjects []digest.Digest) {
	for _, d := range subjects {
		if err := r.refreshSignatures(ctx, repo, d); err != nil {
			r.logger(ctx).Warn("signature records not updated", zap.String("repo", repo), zap.Stringer("signed", d), zap.Error(err))
		}
	}
}

// RefreshSignatures recomputes the signature records of every signed
// manifest of repo ("" for every repository).
func (r *Registry) RefreshSignatures(ctx context.Context, repo string) error {
	subjects, err := r.store.SignatureSubjects(ctx, repo, signing.ArtifactType)
	if err != nil {
		return err
	}
	var errs []error
	for _, n := range subjects {
		if err := r.refreshSignatures(ctx, n.Repository, n.Digest); err != nil {
			errs = append(errs, fmt.Errorf("%s@%s: %w", n.Repository, n.Digest, err))
		}
	}
	return errors.Join(errs...)
}

// SyncTrust recomputes every signature record when the trust policy
// differs from the one they were computed with (a key added or removed),
// or when force is set (the catalog was rebuilt).
func (r *Registry) SyncTrust(ctx context.Context, force bool) error {
	fp := r.trust.Fingerprint()
	old, err := r.store.Setting(ctx, trustSetting)
	if err != nil {
		return err
	}
	if old == fp && !force {
		return nil
	}
	start := time.Now()
	if err := r.RefreshSignatures(ctx, ""); err != nil {
		return err
	}
	r.log.Info("signature records recomputed", zap.Bool("trust_changed", old != fp), zap.Duration("took", time.Since(start)))
	return r.store.SetSetting(ctx, trustSetting, fp)
}

// RequiresSignature reports whether manifests of repo are served only
// when signed (see MayServe).
func (r *Registry) RequiresSignature(repo string) bool {
	rule, ok := r.trust.For(repo)
	return ok && rule.RequireSignature
}

// MayServe answers whether the manifest body, read as repo/ref (ref a tag
// or digest), may be served to p where the trust policy requires
// signatures: only if it has a verified signature or is itself a
// signature, or (with access control on) to its owner and admins, so that
// what was pushed can be signed (cosign sign reads the manifest it signs).
// It fails closed when the catalog cannot tell.
func (r *Registry) MayServe(ctx context.Context, p auth.Principal, repo, ref string, body []byte) error {
	rule, ok := r.trust.For(repo)
	if !ok || !rule.RequireSignature {
		return nil
	}
	if _, ok := signing.ParseLegacyTag(ref); ok {
		return nil
	}
	var head struct {
		ArtifactType string `json:"artifactType"`
		Config       struct {
			MediaType string `json:"mediaType"`
		} `json:"config"`
	}
	if json.Unmarshal(body, &head) == nil && (head.ArtifactType == signing.ArtifactType || head.Config.MediaType == signing.ArtifactType) {
		return nil
	}
	dgst := digest.Canonical.FromBytes(body)
	if d, err := digest.Parse(ref); err == nil {
		dgst = d
	}
	m, err := r.store.Manifest(ctx, repo, dgst)
	switch {
	case err != nil && !errors.Is(err, catalog.ErrNotFound):
		err = errcode.Wrap(errcode.Unavailable, err, "repository %s requires signatures and the catalog that records them cannot be reached; try again", repo)
	case slices.ContainsFunc(m.Signatures, func(sg catalog.Signature) bool { return sg.Verified }):
		return nil
	default:
		err = errcode.New(errcode.Denied, "%s@%s has no valid signature from a key trusted for repositories under %q, whose trust policy requires one (require_signature); sign it with a trusted key using cairn sign, which needs only HEAD (cosign sign reads the manifest first, which this policy refuses)",
			repo, dgst, rule.Prefix).WithDetail(map[string]any{"policy": rule.Prefix, "digest": dgst.String()})
	}
	if r.mayReadUnsigned(ctx, p, repo, body) {
		return nil
	}
	r.logger(ctx).Info("manifest withheld: no valid signature", zap.String("repo", repo), zap.String("reference", ref))
	return err
}

// mayReadUnsigned reports whether p may read an unsigned manifest where
// signatures are required: with access control on, its owner and admins
// may.
func (r *Registry) mayReadUnsigned(ctx context.Context, p auth.Principal, repo string, body []byte) bool {
	if r.policy == nil || p.Anonymous() {
		return false
	}
	if r.policy.May(p, repo, auth.Admin) {
		return true
	}
	owner, _, err := r.store.Ownership(ctx, repo, digest.Canonical.FromBytes(body))
	return err == nil && owner != "" && owner == p.User
}
