package facade

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/opencontainers/go-digest"
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

// WithTrust sets the keys signatures are verified with and the repositories
// that require them.
func WithTrust(t *signing.Trust) Option { return func(s *Server) { s.trust = t } }

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
func (s *Server) refreshSignatures(ctx context.Context, repo string, dgst digest.Digest) error {
	rule, _ := s.trust.For(repo)
	type source struct {
		m    catalog.Manifest
		form signing.Form
	}
	var sources []source
	refs, err := s.store.Referrers(ctx, repo, dgst, signing.ArtifactType)
	if err != nil {
		return err
	}
	for _, m := range refs {
		sources = append(sources, source{m, signing.FormReferrer})
	}
	switch legacy, err := s.store.ResolveTag(ctx, repo, signing.LegacyTag(dgst)); {
	case errors.Is(err, catalog.ErrNotFound):
	case err != nil:
		return err
	default:
		m, err := s.store.Manifest(ctx, repo, legacy)
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
			payload, err := s.readBlob(ctx, repo, l.Digest, maxPayloadSize)
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
	err = s.store.SetSignatures(ctx, repo, dgst, records)
	if errors.Is(err, catalog.ErrNotFound) {
		return nil
	}
	return err
}

// signedAt is when a signature manifest says it was made, or else when it
// reached the registry: cosign's key-based signatures carry no time of
// their own outside a transparency log.
func signedAt(m catalog.Manifest) time.Time {
	if t, err := time.Parse(time.RFC3339, m.Annotations["org.opencontainers.image.created"]); err == nil {
		return t.UTC()
	}
	return m.PushedAt
}

// readBlob reads a small blob of repo from the engine and checks its
// digest.
func (s *Server) readBlob(ctx context.Context, repo string, dgst digest.Digest, limit int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "/v2/"+repo+"/blobs/"+dgst.String(), nil)
	if err != nil {
		return nil, err
	}
	res := s.forward(req)
	if res.status != http.StatusOK {
		return nil, fmt.Errorf("the engine answered %d", res.status)
	}
	if int64(res.body.Len()) > limit {
		return nil, fmt.Errorf("blob is over %d bytes", limit)
	}
	b := res.body.Bytes()
	if err := dgst.Validate(); err != nil {
		return nil, err
	}
	if dgst.Algorithm().FromBytes(b) != dgst {
		return nil, errors.New("blob does not match its digest")
	}
	return b, nil
}

// refreshAfterPush updates the signature records a push changed; a failure
// is logged, not answered: the push itself succeeded, and a reindex or
// restart recomputes the records.
func (s *Server) refreshAfterPush(ctx context.Context, log *zap.Logger, repo string, subjects []digest.Digest) {
	for _, d := range subjects {
		if err := s.refreshSignatures(ctx, repo, d); err != nil {
			log.Warn("signature records not updated", zap.Stringer("signed", d), zap.Error(err))
		}
	}
}

// RefreshSignatures recomputes the signature records of every signed
// manifest of repo ("" for every repository).
func (s *Server) RefreshSignatures(ctx context.Context, repo string) error {
	subjects, err := s.store.SignatureSubjects(ctx, repo, signing.ArtifactType)
	if err != nil {
		return err
	}
	var errs []error
	for _, n := range subjects {
		if err := s.refreshSignatures(ctx, n.Repository, n.Digest); err != nil {
			errs = append(errs, fmt.Errorf("%s@%s: %w", n.Repository, n.Digest, err))
		}
	}
	return errors.Join(errs...)
}

// SyncTrust recomputes every signature record when the trust policy
// differs from the one they were computed with (a key added or removed),
// or when force is set (the catalog was rebuilt).
func (s *Server) SyncTrust(ctx context.Context, force bool) error {
	fp := s.trust.Fingerprint()
	old, err := s.store.Setting(ctx, trustSetting)
	if err != nil {
		return err
	}
	if old == fp && !force {
		return nil
	}
	start := time.Now()
	if err := s.RefreshSignatures(ctx, ""); err != nil {
		return err
	}
	s.log.Info("signature records recomputed", zap.Bool("trust_changed", old != fp), zap.Duration("took", time.Since(start)))
	return s.store.SetSetting(ctx, trustSetting, fp)
}

// checkSignaturePolicy answers whether the manifest res (the engine's
// answer to a GET of repo/ref) may be served: in a repository that
// requires signatures, only if it has a verified signature or is itself a
// signature. It fails closed when the catalog cannot tell.
func (s *Server) checkSignaturePolicy(ctx context.Context, rule signing.Rule, repo, ref string, body []byte) error {
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
	if isDigest(ref) {
		dgst = digest.Digest(ref)
	}
	m, err := s.store.Manifest(ctx, repo, dgst)
	if err != nil && !errors.Is(err, catalog.ErrNotFound) {
		return errcode.Wrap(errcode.Unavailable, err, "repository %s requires signatures and the catalog that records them cannot be reached; try again", repo)
	}
	for _, sg := range m.Signatures {
		if sg.Verified {
			return nil
		}
	}
	return errcode.New(errcode.Denied, "%s@%s has no valid signature from a key trusted for repositories under %q, whose trust policy requires one (require_signature); sign it with a trusted key using cairn sign, which needs only HEAD (cosign sign reads the manifest first, which this policy refuses)",
		repo, dgst, rule.Prefix).WithDetail(map[string]any{"policy": rule.Prefix, "digest": dgst.String()})
}

// getManifest serves a manifest from the engine, holding back unsigned
// ones where the trust policy requires signatures. HEAD stays open, so that
// signers can resolve what they sign.
func (s *Server) getManifest(w http.ResponseWriter, r *http.Request, rt v2Route) error {
	if s.access != nil {
		if err := s.admitRead(w, r, rt); err != nil {
			return err
		}
	}
	rule, ok := s.trust.For(rt.name)
	if !ok || !rule.RequireSignature || r.Method != http.MethodGet {
		return s.passNamingUnknownRepos(w, r, rt)
	}
	res := s.forward(r)
	if res.status != http.StatusOK {
		if res.status == http.StatusNotFound {
			return s.passNamingUnknownRepos(w, r, rt)
		}
		return res.copyTo(w)
	}
	if err := s.checkSignaturePolicy(r.Context(), rule, rt.name, rt.ref, res.body.Bytes()); err != nil && !s.mayReadUnsigned(r, rt.name, res.body.Bytes()) {
		s.logger(r.Context()).Info("manifest withheld: no valid signature", zap.String("repo", rt.name), zap.String("reference", rt.ref))
		return err
	}
	return res.copyTo(w)
}

// trustJSON is what /api/v1/trust answers.
type trustJSON struct {
	Policies []policyJSON `json:"policies"`
}

type policyJSON struct {
	Prefix           string    `json:"prefix"`
	RequireSignature bool      `json:"requireSignature"`
	Keys             []keyJSON `json:"keys"`
}

type keyJSON struct {
	KeyID     string `json:"keyId"`
	Algorithm string `json:"algorithm"`
	PublicKey string `json:"publicKey"`
}

func (s *Server) apiTrust(w http.ResponseWriter, r *http.Request) error {
	if _, err := newParams(r.URL); err != nil {
		return err
	}
	out := trustJSON{Policies: []policyJSON{}}
	for _, rule := range s.trust.Rules() {
		p := policyJSON{Prefix: rule.Prefix, RequireSignature: rule.RequireSignature, Keys: []keyJSON{}}
		for _, k := range rule.Keys {
			p.Keys = append(p.Keys, keyJSON{KeyID: k.ID, Algorithm: k.Algorithm, PublicKey: string(bytes.TrimSpace(k.PEM)) + "\n"})
		}
		out.Policies = append(out.Policies, p)
	}
	return writeJSON(w, http.StatusOK, out)
}

// mayReadUnsigned reports whether the caller may read an unsigned manifest
// where signatures are required: with access control on, its owner and
// admins may, so that what was pushed can be signed (cosign sign reads the
// manifest it signs).
func (s *Server) mayReadUnsigned(r *http.Request, repo string, body []byte) bool {
	if s.access == nil {
		return false
	}
	p := principalFrom(r)
	if p.anonymous() {
		return false
	}
	if s.access.may(p, repo, auth.Admin) {
		return true
	}
	owner, _, err := s.store.Ownership(r.Context(), repo, digest.Canonical.FromBytes(body))
	return err == nil && owner != "" && owner == p.user
}
