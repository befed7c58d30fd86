package facade

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"

	"github.com/opencontainers/go-digest"
	"go.uber.org/zap"

	"github.com/cairn-dev/cairn/annotations"
	"github.com/cairn-dev/cairn/catalog"
	"github.com/cairn-dev/cairn/errcode"
)

// putManifest checks a manifest, hands it to the engine and, once the
// engine has stored it, records it in the catalog before answering, so that
// a client that pushes and then asks for referrers sees its push.
func (s *Server) putManifest(w http.ResponseWriter, r *http.Request, rt v2Route) error {
	body, err := readManifest(r)
	if err != nil {
		return err
	}
	contentType := mediaTypeOf(r.Header.Get("Content-Type"))
	var head struct {
		MediaType string `json:"mediaType"`
	}
	if err := json.Unmarshal(body, &head); err != nil {
		return errcode.New(errcode.ManifestInvalid, "manifest is not a JSON object: %v", err)
	}
	if head.MediaType != "" && contentType != "" && head.MediaType != contentType {
		return errcode.New(errcode.ManifestInvalid, "manifest mediaType %q disagrees with Content-Type %q; send the same media type in both", head.MediaType, contentType)
	}
	if contentType == "" {
		contentType = head.MediaType
	}

	dgst := digest.Canonical.FromBytes(body)
	if isDigest(rt.ref) {
		want, err := parseDigest(rt.ref)
		if err != nil {
			return err
		}
		if got := want.Algorithm().FromBytes(body); got != want {
			return errcode.New(errcode.DigestInvalid, "manifest digest is %s, not %s as the URL says; push by the digest of the exact bytes sent", got, want).WithDetail(map[string]string{"digest": want.String()})
		}
		dgst = want
	}
	entry, err := catalog.ParseManifest(rt.name, dgst, contentType, body, s.now())
	if err != nil {
		return errcode.Wrap(errcode.ManifestInvalid, err, "manifest cannot be read: %v", err)
	}
	if s.access != nil {
		entry.Owner = principalFrom(r).user
		tag := ""
		if !isDigest(rt.ref) {
			tag = rt.ref
		}
		entry.Visibility = s.pushVisibility(r.Context(), principalFrom(r), entry, tag)
	}
	// A lineage link the catalog could not read would be lost silently.
	if v, ok := entry.Annotations[annotations.DerivedFrom]; ok {
		if _, err := annotations.ParseDerivedFrom(v); err != nil {
			return errcode.Wrap(errcode.ManifestInvalid, err, "%v", err)
		}
	}

	log := s.logger(r.Context()).With(zap.String("repo", rt.name), zap.Stringer("digest", dgst))
	defer s.manifestLocks.lock(rt.name)()
	pending, markErr := s.store.MarkPending(r.Context(), rt.name)
	if markErr != nil {
		log.Warn("catalog unavailable before manifest write; reindex will repair", zap.Error(markErr))
	}

	// The embedded engine stores manifests under sha256 only: push it so,
	// then give it the client's digest as an alias.
	aliaser, _ := s.engine.(digestAliaser)
	engineRef := rt.ref
	if isDigest(rt.ref) && dgst.Algorithm() != digest.Canonical && aliaser != nil {
		engineRef = digest.Canonical.FromBytes(body).String()
	}
	req := r.Clone(r.Context())
	req.URL.Path = "/v2/" + rt.name + "/manifests/" + engineRef
	req.URL.RawPath = ""
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.ContentLength = int64(len(body))
	req.Header.Set("Content-Type", contentType)
	res := s.forward(req)

	if res.status == http.StatusCreated {
		if engineRef != rt.ref {
			if err := aliaser.LinkManifestAlias(r.Context(), rt.name, dgst, digest.Digest(engineRef)); err != nil {
				return errcode.Wrap(errcode.Unknown, err, "storing the %s alias of the manifest failed; push again", dgst.Algorithm())
			}
			res.header.Set("Docker-Content-Digest", dgst.String())
			res.header.Set("Location", "/v2/"+rt.name+"/manifests/"+dgst.String())
		}
		if entry.Subject != "" {
			res.header.Set("OCI-Subject", entry.Subject.String())
		}
		tag := ""
		if !isDigest(rt.ref) {
			tag = rt.ref
		}
		if err := s.store.IndexPush(r.Context(), entry, tag, pending); err != nil || markErr != nil {
			// The bytes are stored: the push succeeded. The pending mark
			// stays, and the repository is queued for repair.
			log.Error("manifest stored but not indexed; queued for repair", zap.Error(errors.Join(err, markErr)))
			s.needsRepair(log, rt.name)
		} else {
			log.Info("manifest stored", zap.String("tag", tag), zap.String("artifact_type", entry.ArtifactType))
			s.refreshAfterPush(r.Context(), log, rt.name, signatureSubjects(entry, tag))
		}
		pending = 0 // cleared with the index, or left for the repair
	}
	if pending != 0 {
		if err := s.store.ClearPending(r.Context(), pending); err != nil {
			log.Warn("clearing pending mark", zap.Error(err))
		}
	}
	return res.copyTo(w)
}

// deleteManifest deletes a manifest or a tag in the engine, then in the
// catalog.
func (s *Server) deleteManifest(w http.ResponseWriter, r *http.Request, rt v2Route) error {
	log := s.logger(r.Context()).With(zap.String("repo", rt.name), zap.String("reference", rt.ref))
	defer s.manifestLocks.lock(rt.name)()
	if s.access != nil {
		target := digest.Digest(rt.ref)
		if !isDigest(rt.ref) {
			d, err := s.store.ResolveTag(r.Context(), rt.name, rt.ref)
			if err != nil && !errors.Is(err, catalog.ErrNotFound) {
				return errcode.Wrap(errcode.Unavailable, err, "the owner of %s:%s cannot be checked: the catalog is unavailable; try again", rt.name, rt.ref)
			}
			target = d
		}
		if target != "" {
			if err := s.checkOwner(r, rt.name, target); err != nil {
				return err
			}
		}
	}
	var plan deletePlan
	if isDigest(rt.ref) {
		cascade := false
		switch v := r.URL.Query().Get("cascade"); v {
		case "", "false":
		case "true":
			cascade = true
		default:
			return errcode.New(errcode.Unsupported, "cascade=%q: give cascade=true to delete what is attached to the artifact by subject too", v)
		}
		var err error
		plan, err = s.planDelete(r.Context(), rt.name, digest.Digest(rt.ref), cascade)
		switch {
		case err != nil:
			// The catalog cannot tell what depends on the artifact: the
			// registry's own rule (delete) holds, as for any repair.
			log.Warn("catalog unavailable; deleting without checking dependents", zap.Error(err))
		case len(plan.dependents) > 0 && !s.allowDeleteWithDependents:
			log.Info("delete refused: dependents", zap.Strings("dependents", plan.dependents))
			return refuseDelete(rt.name, digest.Digest(rt.ref), plan.dependents)
		}
	}
	// Deleting a signature changes what its subject's records say.
	var signed []digest.Digest
	if isDigest(rt.ref) {
		if old, err := s.store.Manifest(r.Context(), rt.name, digest.Digest(rt.ref)); err == nil {
			signed = signatureSubjects(old, "")
			for _, t := range old.Tags {
				signed = append(signed, signatureSubjects(catalog.Manifest{}, t)...)
			}
		}
	} else {
		signed = signatureSubjects(catalog.Manifest{}, rt.ref)
	}
	pending, markErr := s.store.MarkPending(r.Context(), rt.name)
	if markErr != nil {
		log.Warn("catalog unavailable before delete; reindex will repair", zap.Error(markErr))
	}
	var cascaded []string
	if len(plan.cascade) > 0 {
		var err error
		if cascaded, err = s.deleteCascade(r, rt.name, plan.cascade); err != nil {
			return err
		}
		log.Info("deleted with the artifact", zap.Strings("attached", cascaded))
	}
	res := s.forward(r)
	if res.status == http.StatusAccepted && len(cascaded) > 0 {
		// The registry answers 202 without a body: say what went too.
		body, _ := json.Marshal(map[string][]string{"deleted": append(cascaded, rt.name+"@"+rt.ref)})
		res.header.Set("Content-Type", "application/json")
		res.header.Set("Content-Length", strconv.Itoa(len(body)))
		res.body.Reset()
		res.body.Write(body)
	}
	if res.status == http.StatusAccepted {
		var err error
		if isDigest(rt.ref) {
			err = s.store.DeleteManifest(r.Context(), rt.name, digest.Digest(rt.ref))
		} else {
			err = s.store.DeleteTag(r.Context(), rt.name, rt.ref)
		}
		switch {
		case markErr == nil && (err == nil || errors.Is(err, catalog.ErrNotFound)):
			log.Info("deleted")
			s.refreshAfterPush(r.Context(), log, rt.name, signed)
		default:
			log.Error("deleted in the engine but not in the catalog; queued for repair", zap.Error(errors.Join(err, markErr)))
			s.needsRepair(log, rt.name)
			pending = 0
		}
	}
	if pending != 0 {
		if err := s.store.ClearPending(r.Context(), pending); err != nil {
			log.Warn("clearing pending mark", zap.Error(err))
		}
	}
	return res.copyTo(w)
}

// readManifest reads a manifest body, refusing one over the size limit
// before reading it whole.
func readManifest(r *http.Request) ([]byte, error) {
	if r.ContentLength > maxManifestSize {
		return nil, errcode.New(errcode.TooLarge, "manifest is %d bytes; at most %d are accepted", r.ContentLength, maxManifestSize)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxManifestSize+1))
	if err != nil {
		return nil, errcode.Wrap(errcode.ManifestInvalid, err, "reading the manifest failed: %v", err)
	}
	if len(body) > maxManifestSize {
		return nil, errcode.New(errcode.TooLarge, "manifest is over %d bytes", maxManifestSize)
	}
	if len(body) == 0 {
		return nil, errcode.New(errcode.ManifestInvalid, "manifest body is empty")
	}
	return body, nil
}

// mediaTypeOf strips parameters from a Content-Type.
func mediaTypeOf(ct string) string {
	if ct == "" {
		return ""
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return ct
	}
	return mt
}

// digestAliaser is what an engine that stores content under sha256 only
// offers, so that the façade can serve other digest algorithms over it.
type digestAliaser interface {
	// LinkManifestAlias makes alias name the manifest stored as canonical.
	LinkManifestAlias(ctx context.Context, repo string, alias, canonical digest.Digest) error
	// LinkBlobAlias makes alias name the blob stored as canonical in repo.
	LinkBlobAlias(ctx context.Context, repo string, alias, canonical digest.Digest) error
	// BlobAlias returns the canonical digest alias names in repo.
	BlobAlias(ctx context.Context, repo string, alias digest.Digest) (digest.Digest, error)
}
