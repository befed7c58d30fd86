package facade

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"

	"github.com/opencontainers/go-digest"

	"github.com/cairn-dev/cairn/api"
	"github.com/cairn-dev/cairn/errcode"
	"github.com/cairn-dev/cairn/registry"
)

// putManifest answers a manifest PUT with the core's push.
func (s *registryAPI) putManifest(w http.ResponseWriter, r *http.Request, rt v2Route) error {
	body, err := readManifest(w, r)
	if err != nil {
		return err
	}
	p := registry.ManifestPush{Repository: rt.name, MediaType: mediaTypeOf(r.Header.Get("Content-Type")), Body: body, By: principalFrom(r)}
	if p.Digest, p.Tag, err = splitReference(rt.ref); err != nil {
		return err
	}
	res, err := s.core.PushManifest(r.Context(), p)
	if err != nil {
		return err
	}
	return res.CopyTo(w)
}

// deleteManifest answers a manifest or tag DELETE with the core's delete;
// ?cascade=true deletes what is attached to the manifest too.
func (s *registryAPI) deleteManifest(w http.ResponseWriter, r *http.Request, rt v2Route) error {
	d := registry.ManifestDelete{Repository: rt.name, By: principalFrom(r)}
	var err error
	if d.Digest, d.Tag, err = splitReference(rt.ref); err != nil {
		return err
	}
	if d.Tag == "" {
		switch v := r.URL.Query().Get("cascade"); v {
		case "", "false":
		case "true":
			d.Cascade = true
		default:
			return errcode.New(errcode.Unsupported, "cascade=%q: give cascade=true to delete what is attached to the artifact by subject too", v)
		}
	}
	res, deleted, err := s.core.DeleteManifest(r.Context(), d)
	if err != nil {
		return err
	}
	if len(deleted) > 0 {
		// The registry answers 202 without a body: say what went too.
		body, _ := json.Marshal(api.Deleted{Deleted: deleted})
		res.SetBody("application/json", body)
	}
	return res.CopyTo(w)
}

// getManifest serves a manifest from the engine, holding back unsigned
// ones where the trust policy requires signatures. HEAD stays open, so that
// signers can resolve what they sign.
func (s *registryAPI) getManifest(w http.ResponseWriter, r *http.Request, rt v2Route) error {
	if s.policy != nil {
		if err := s.admitRead(w, r, rt); err != nil {
			return err
		}
	}
	if !s.core.RequiresSignature(rt.name) || r.Method != http.MethodGet {
		return s.passNamingUnknownRepos(w, r, rt)
	}
	res := s.forward(r)
	switch {
	case res.Status == http.StatusNotFound:
		return s.passNamingUnknownRepos(w, r, rt)
	case res.Status != http.StatusOK:
		return res.CopyTo(w)
	}
	if err := s.core.MayServe(r.Context(), principalFrom(r), rt.name, rt.ref, res.Body.Bytes()); err != nil {
		return err
	}
	return res.CopyTo(w)
}

// splitReference reads a manifest reference of a parsed route: a digest or
// a tag.
func splitReference(ref string) (digest.Digest, string, error) {
	if !isDigest(ref) {
		return "", ref, nil
	}
	d, err := parseDigest(ref)
	return d, "", err
}

// readManifest reads a manifest body, refusing one over the size limit
// before reading it whole.
func readManifest(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if r.ContentLength > maxManifestSize {
		return nil, errcode.New(errcode.TooLarge, "manifest is %d bytes; at most %d are accepted", r.ContentLength, maxManifestSize)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxManifestSize))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return nil, errcode.New(errcode.TooLarge, "manifest is over %d bytes", maxManifestSize)
	case err != nil:
		return nil, errcode.Wrap(errcode.ManifestInvalid, err, "reading the manifest failed: %v", err)
	case len(body) == 0:
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
