package facade

import (
	"bytes"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	"go.uber.org/zap"

	"github.com/cairn-dev/cairn/errcode"
)

// getBlob serves a blob from the engine. The embedded engine answers a
// sha512 blob under its sha256 name; the header it sets only when empty is
// set here to the digest the client asked for.
func (s *Server) getBlob(w http.ResponseWriter, r *http.Request, rt v2Route) error {
	if o, ok := s.engine.(blobOpener); ok {
		if f, ok := o.OpenBlob(rt.name, digest.Digest(rt.ref)); ok {
			defer f.Close()
			h := w.Header()
			h.Set("Content-Type", "application/octet-stream")
			h.Set("Docker-Content-Digest", rt.ref)
			h.Set("Etag", `"`+rt.ref+`"`)
			h.Set("Cache-Control", "max-age=31536000")
			// Ranges, conditional requests and HEAD, from the file (with
			// sendfile where the connection allows).
			http.ServeContent(w, r, "", time.Time{}, f)
			return nil
		}
	}
	if _, ok := s.engine.(digestAliaser); ok {
		w.Header().Set("Docker-Content-Digest", rt.ref)
	}
	return s.passNamingUnknownRepos(w, r, rt)
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
		if _, embedded := s.engine.(digestAliaser); embedded && r.ContentLength != 0 {
			return s.monolithicUpload(w, r, rt)
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

// monolithicUpload answers a POST that carries the whole blob (the spec's
// single-request upload), which the embedded engine does not take: it opens
// a session and completes it with the body, streamed.
func (s *Server) monolithicUpload(w http.ResponseWriter, r *http.Request, rt v2Route) error {
	open := r.Clone(r.Context())
	open.URL.RawQuery = ""
	open.Body = http.NoBody
	open.ContentLength = 0
	opened := s.forward(open)
	if opened.status != http.StatusAccepted {
		return opened.copyTo(w)
	}
	loc, err := url.Parse(opened.header.Get("Location"))
	if err != nil || loc.Path == "" {
		return errcode.Wrap(errcode.Unknown, err, "the engine opened an upload session without a usable Location")
	}
	q := loc.Query()
	q.Set("digest", r.URL.Query().Get("digest"))
	put := r.Clone(r.Context())
	put.Method = http.MethodPut
	put.URL.Path = loc.Path
	put.URL.RawPath = ""
	put.URL.RawQuery = q.Encode()
	sessionID := loc.Path[strings.LastIndexByte(loc.Path, '/')+1:]
	return s.finishUpload(w, put, v2Route{kind: routeUpload, name: rt.name, ref: sessionID})
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
	if unknownUpload(res) {
		return errUnknownUpload(rt)
	}
	if res.status == http.StatusCreated && want.Algorithm() != digest.Canonical {
		res.header.Set("Docker-Content-Digest", want.String())
		res.header.Set("Location", "/v2/"+rt.name+"/blobs/"+want.String())
	}
	if res.status == http.StatusCreated {
		s.logger(r.Context()).Info("blob stored", zap.String("repo", rt.name), zap.Stringer("digest", want))
	}
	return res.copyTo(w)
}

// continueUpload passes a PATCH, status GET or cancel of an upload session
// to the engine, streaming the request body.
func (s *Server) continueUpload(w http.ResponseWriter, r *http.Request, rt v2Route) error {
	res := s.forward(r)
	if unknownUpload(res) {
		return errUnknownUpload(rt)
	}
	return res.copyTo(w)
}

// unknownUpload reports whether the engine refused an upload session id it
// did not issue for this repository (its answer is BLOB_UPLOAD_INVALID with a
// 404; the spec's code for an unknown session is BLOB_UPLOAD_UNKNOWN).
func unknownUpload(res *bufferedResponse) bool {
	return res.status == http.StatusNotFound && bytes.Contains(res.body.Bytes(), []byte(`"BLOB_UPLOAD_INVALID"`))
}

func errUnknownUpload(rt v2Route) error {
	return errcode.New(errcode.BlobUploadUnknown, "upload session %q is unknown in %s (expired, finished, or issued for another repository); start a new upload with POST /v2/%s/blobs/uploads/", rt.ref, rt.name, rt.name)
}

func errNameUnknown(repo string) error {
	return errcode.New(errcode.NameUnknown, "repository %s is not known to this registry; check the name, or push to create it", repo).WithDetail(map[string]string{"name": repo})
}

// blobOpener is what an engine that can hand out a blob's file offers, so
// that the façade serves it without the engine's per-request buffers.
type blobOpener interface {
	OpenBlob(repo string, d digest.Digest) (*os.File, bool)
}
