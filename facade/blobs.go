package facade

import (
	"net/http"

	"github.com/opencontainers/go-digest"
	"go.uber.org/zap"

	"github.com/cairn-dev/cairn/errcode"
)

// getBlob serves a blob from the engine. The embedded engine answers a
// sha512 blob under its sha256 name; the header it sets only when empty is
// set here to the digest the client asked for.
func (s *Server) getBlob(w http.ResponseWriter, r *http.Request, rt v2Route) error {
	if _, ok := s.engine.(digestAliaser); ok {
		w.Header().Set("Docker-Content-Digest", rt.ref)
	}
	return s.pass(w, r)
}

func (s *Server) deleteBlob(w http.ResponseWriter, r *http.Request, rt v2Route) error {
	res := s.forward(r)
	if res.status == http.StatusAccepted {
		s.logger(r.Context()).Info("blob deleted", zap.String("repo", rt.name), zap.String("digest", rt.ref))
	}
	return res.copyTo(w)
}

// startUpload opens an upload session, or mounts a blob from another
// repository. Mounts of non-sha256 blobs go through their sha256 name on
// engines that store only that.
func (s *Server) startUpload(w http.ResponseWriter, r *http.Request, rt v2Route) error {
	q := r.URL.Query()
	if d := q.Get("digest"); d != "" {
		if _, err := parseDigest(d); err != nil {
			return err
		}
	}
	mount := q.Get("mount")
	if mount == "" {
		return s.pass(w, r)
	}
	alias, err := parseDigest(mount)
	if err != nil {
		return err
	}
	from := q.Get("from")
	if from != "" {
		if err := checkName(from); err != nil {
			return err
		}
	}
	aliaser, ok := s.engine.(digestAliaser)
	if !ok || alias.Algorithm() == digest.Canonical || from == "" {
		return s.pass(w, r)
	}
	canonical, err := aliaser.BlobAlias(r.Context(), from, alias)
	if err != nil {
		// Not mountable: the engine opens a plain upload session.
		return s.pass(w, r)
	}
	req := r.Clone(r.Context())
	q.Set("mount", canonical.String())
	req.URL.RawQuery = q.Encode()
	res := s.forward(req)
	if res.status == http.StatusCreated {
		if err := aliaser.LinkBlobAlias(r.Context(), rt.name, alias, canonical); err != nil {
			return errcode.Wrap(errcode.Unknown, err, "mounting the %s blob failed; upload it instead", alias.Algorithm())
		}
		res.header.Set("Docker-Content-Digest", alias.String())
		res.header.Set("Location", "/v2/"+rt.name+"/blobs/"+alias.String())
	}
	return res.copyTo(w)
}

// finishUpload completes an upload session. The engine verifies a
// non-sha256 digest but answers with the sha256 one; the answer is
// corrected to the digest the client named.
func (s *Server) finishUpload(w http.ResponseWriter, r *http.Request, rt v2Route) error {
	d := r.URL.Query().Get("digest")
	if d == "" {
		return errcode.New(errcode.DigestInvalid, "completing an upload needs ?digest=<algorithm>:<hex> of the whole blob")
	}
	want, err := parseDigest(d)
	if err != nil {
		return err
	}
	res := s.forward(r)
	if res.status == http.StatusCreated && want.Algorithm() != digest.Canonical {
		res.header.Set("Docker-Content-Digest", want.String())
		res.header.Set("Location", "/v2/"+rt.name+"/blobs/"+want.String())
	}
	if res.status == http.StatusCreated {
		s.logger(r.Context()).Debug("blob stored", zap.String("repo", rt.name), zap.Stringer("digest", want))
	}
	return res.copyTo(w)
}
