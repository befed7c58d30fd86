package registry

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/opencontainers/go-digest"
	"go.uber.org/zap"

	"github.com/cairn-dev/cairn/annotations"
	"github.com/cairn-dev/cairn/auth"
	"github.com/cairn-dev/cairn/backend"
	"github.com/cairn-dev/cairn/catalog"
	"github.com/cairn-dev/cairn/errcode"
)

// ManifestPush is one manifest write as a client sent it.
type ManifestPush struct {
	Repository string
	// Tag or Digest is the reference the client pushed to: a tag, or the
	// digest (of any algorithm) the body must have.
	Tag    string
	Digest digest.Digest
	// MediaType is the request's Content-Type, without parameters ("" if
	// none was sent).
	MediaType string
	Body      []byte
	By        auth.Principal
}

// reference is the push's reference as the URL spelled it.
func (p ManifestPush) reference() string {
	if p.Tag != "" {
		return p.Tag
	}
	return p.Digest.String()
}

// PushManifest checks a manifest, hands it to the engine and, once the
// engine has stored it, records it in the catalog before answering, so that
// a client that pushes and then asks for referrers sees its push. It
// returns the engine's answer (with the headers cairn adds) for the client;
// an error is a manifest refused before the engine saw it. A push the
// engine stored is never answered as failed because the catalog failed:
// the repository is queued for repair instead.
func (r *Registry) PushManifest(ctx context.Context, p ManifestPush) (*backend.Answer, error) {
	entry, err := r.checkManifest(ctx, p)
	if err != nil {
		return nil, err
	}
	dgst := entry.Digest
	log := r.logger(ctx).With(zap.String("repo", p.Repository), zap.Stringer("digest", dgst))
	defer r.locks.lock(p.Repository)()
	pending, markErr := r.store.MarkPending(ctx, p.Repository)
	if markErr != nil {
		log.Warn("catalog unavailable before manifest write; reindex will repair", zap.Error(markErr))
	}

	// The embedded engine stores manifests under sha256 only: push it so,
	// then give it the client's digest as an alias.
	aliaser, _ := r.engine.(backend.DigestAliaser)
	engineRef := p.reference()
	if p.Tag == "" && dgst.Algorithm() != digest.Canonical && aliaser != nil {
		engineRef = digest.Canonical.FromBytes(p.Body).String()
	}
	res, err := r.engineRequest(ctx, http.MethodPut, "/v2/"+p.Repository+"/manifests/"+engineRef, entry.MediaType, p.Body)
	if err != nil {
		return nil, errcode.Wrap(errcode.Unknown, err, "the manifest could not be handed to the engine")
	}
	if res.Status == http.StatusCreated {
		if engineRef != p.reference() {
			if err := aliaser.LinkManifestAlias(ctx, p.Repository, dgst, digest.Digest(engineRef)); err != nil {
				return nil, errcode.Wrap(errcode.Unknown, err, "storing the %s alias of the manifest failed; push again", dgst.Algorithm())
			}
			res.Header().Set("Docker-Content-Digest", dgst.String())
			res.Header().Set("Location", "/v2/"+p.Repository+"/manifests/"+dgst.String())
		}
		if entry.Subject != "" {
			res.Header().Set("OCI-Subject", entry.Subject.String())
		}
		if err := r.store.IndexPush(ctx, entry, p.Tag, pending); err != nil || markErr != nil {
			// The bytes are stored: the push succeeded. The pending mark
			// stays, and the repository is queued for repair.
			log.Error("manifest stored but not indexed; queued for repair", zap.Error(errors.Join(err, markErr)))
			r.NeedsRepair(ctx, p.Repository)
		} else {
			log.Info("manifest stored", zap.String("tag", p.Tag), zap.String("artifact_type", entry.ArtifactType))
			r.refreshAfterWrite(ctx, p.Repository, signatureSubjects(entry, p.Tag))
		}
		pending = 0 // cleared with the index, or left for the repair
	}
	if pending != 0 {
		if err := r.store.ClearPending(ctx, pending); err != nil {
			log.Warn("clearing pending mark", zap.Error(err))
		}
	}
	return res, nil
}

// checkManifest reads what p pushes into its catalog entry, refusing what
// the catalog or the spec would not take.
func (r *Registry) checkManifest(ctx context.Context, p ManifestPush) (catalog.Manifest, error) {
	var head struct {
		MediaType string `json:"mediaType"`
	}
	if err := json.Unmarshal(p.Body, &head); err != nil {
		return catalog.Manifest{}, errcode.New(errcode.ManifestInvalid, "manifest is not a JSON object: %v", err)
	}
	contentType := p.MediaType
	if head.MediaType != "" && contentType != "" && head.MediaType != contentType {
		return catalog.Manifest{}, errcode.New(errcode.ManifestInvalid, "manifest mediaType %q disagrees with Content-Type %q; send the same media type in both", head.MediaType, contentType)
	}
	if contentType == "" {
		contentType = head.MediaType
	}
	dgst := digest.Canonical.FromBytes(p.Body)
	if p.Tag == "" {
		if got := p.Digest.Algorithm().FromBytes(p.Body); got != p.Digest {
			return catalog.Manifest{}, errcode.New(errcode.DigestInvalid, "manifest digest is %s, not %s as the URL says; push by the digest of the exact bytes sent", got, p.Digest).WithDetail(map[string]string{"digest": p.Digest.String()})
		}
		dgst = p.Digest
	}
	entry, err := catalog.ParseManifest(p.Repository, dgst, contentType, p.Body, r.now())
	if err != nil {
		return catalog.Manifest{}, errcode.Wrap(errcode.ManifestInvalid, err, "manifest cannot be read: %v", err)
	}
	if r.policy != nil {
		entry.Owner = p.By.User
		entry.Visibility = r.pushVisibility(ctx, p.By, entry, p.Tag)
	}
	// A lineage link the catalog could not read would be lost silently.
	if v, ok := entry.Annotations[annotations.DerivedFrom]; ok {
		if _, err := annotations.ParseDerivedFrom(v); err != nil {
			return catalog.Manifest{}, errcode.Wrap(errcode.ManifestInvalid, err, "%v", err)
		}
	}
	return entry, nil
}
