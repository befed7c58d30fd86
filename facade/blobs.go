package facade

import (
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	"go.uber.org/zap"

	"github.com/cairn-dev/cairn/auth"
	"github.com/cairn-dev/cairn/backend"
	"github.com/cairn-dev/cairn/errcode"
)

// getBlob serves a blob from the engine. The embedded engine answers a
// sha512 blob under its sha256 name; the header it sets only when empty is
// set here to the digest the client asked for.
func (s *registryAPI) getBlob(w http.ResponseWriter, r *http.Request, rt v2Route) error {
	if s.policy != nil {
		if err := s.admitRead(w, r, rt); err != nil {
			return err
		}
	}
	if o, ok := s.engine.(backend.BlobOpener); ok {
		f, ok := o.OpenBlob(rt.name, digest.Digest(rt.ref))
		if !ok && r.Method == http.MethodHead {
			f, ok = s.dedupe(r, o, rt.name, digest.Digest(rt.ref))
		}
		if !ok && r.Method == http.MethodHead && o.LacksBlob(rt.name, digest.Digest(rt.ref)) {
			// The common answer while pushing (is this blob here yet?),
			// given without the engine's handlers.
			if rc, ok := s.engine.(backend.RepositoryChecker); ok {
				if exists, err := rc.RepositoryExists(r.Context(), rt.name); err == nil && !exists {
					return errNameUnknown(rt.name)
				}
			}
			return errcode.New(errcode.BlobUnknown, "blob %s is not in %s", rt.ref, rt.name)
		}
		if ok {
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
	if _, ok := s.engine.(backend.DigestAliaser); ok {
		// Its own header would name the sha256 the content is stored under.
		w.Header().Set("Docker-Content-Digest", rt.ref)
	}
	return s.passNamingUnknownRepos(w, r, rt)
}

func (s *registryAPI) deleteBlob(w http.ResponseWriter, r *http.Request, rt v2Route) error {
	res := s.forward(r)
	if res.Status == http.StatusAccepted {
		s.logger(r.Context()).Info("blob deleted", zap.String("repo", rt.name), zap.String("digest", rt.ref))
	}
	return res.CopyTo(w)
}

// startUpload opens an upload session, or mounts a blob from another
// repository. Mounts of non-sha256 blobs go through their sha256 name on
// engines that store only that.
func (s *registryAPI) startUpload(w http.ResponseWriter, r *http.Request, rt v2Route) error {
	q := r.URL.Query()
	if d := q.Get("digest"); d != "" {
		if _, err := parseDigest(d); err != nil {
			return err
		}
		if !s.engine.MonolithicUploads() && r.ContentLength != 0 {
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
	aliaser, ok := s.engine.(backend.DigestAliaser)
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
	if res.Status == http.StatusCreated {
		if err := aliaser.LinkBlobAlias(r.Context(), rt.name, alias, canonical); err != nil {
			return errcode.Wrap(errcode.Unknown, err, "mounting the %s blob failed; upload it instead", alias.Algorithm())
		}
		res.Header().Set("Docker-Content-Digest", alias.String())
		res.Header().Set("Location", "/v2/"+rt.name+"/blobs/"+alias.String())
	}
	return res.CopyTo(w)
}

// monolithicUpload answers a POST that carries the whole blob (the spec's
// single-request upload), which the embedded engine does not take: it opens
// a session and completes it with the body, streamed.
func (s *registryAPI) monolithicUpload(w http.ResponseWriter, r *http.Request, rt v2Route) error {
	open := r.Clone(r.Context())
	open.URL.RawQuery = ""
	open.Body = http.NoBody
	open.ContentLength = 0
	opened := s.forward(open)
	if opened.Status != http.StatusAccepted {
		return opened.CopyTo(w)
	}
	loc, err := url.Parse(opened.Header().Get("Location"))
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
func (s *registryAPI) finishUpload(w http.ResponseWriter, r *http.Request, rt v2Route) error {
	d := r.URL.Query().Get("digest")
	if d == "" {
		return errcode.New(errcode.DigestInvalid, "completing an upload needs ?digest=<algorithm>:<hex> of the whole blob")
	}
	want, err := parseDigest(d)
	if err != nil {
		return err
	}
	res := s.forward(r)
	if res.Status == http.StatusCreated && want.Algorithm() != digest.Canonical {
		res.Header().Set("Docker-Content-Digest", want.String())
		res.Header().Set("Location", "/v2/"+rt.name+"/blobs/"+want.String())
	}
	if res.Status == http.StatusCreated {
		s.logger(r.Context()).Info("blob stored", zap.String("repo", rt.name), zap.Stringer("digest", want))
	}
	return res.CopyTo(w)
}

// continueUpload passes a PATCH, status GET or cancel of an upload session
// to the engine, streaming the request body.
func (s *registryAPI) continueUpload(w http.ResponseWriter, r *http.Request, rt v2Route) error {
	return s.pass(w, r)
}

func errNameUnknown(repo string) error {
	return errcode.New(errcode.NameUnknown, "repository %s is not known to this registry; check the name, or push to create it", repo).WithDetail(map[string]string{"name": repo})
}

// dedupe answers a HEAD for a blob the repository lacks but another one
// the caller may read holds: it links the blob into the repository (as a
// mount would), so a client about to upload it finds it there and moves no
// bytes. Catalog-known blobs only (those some manifest uses); with access
// control on, only for callers who may push to the repository and read the
// other.
func (s *registryAPI) dedupe(r *http.Request, o backend.BlobOpener, repo string, d digest.Digest) (*os.File, bool) {
	l, ok := s.engine.(backend.BlobLinker)
	if !ok || d.Algorithm() != digest.SHA256 {
		return nil, false
	}
	if s.policy != nil && !s.policy.May(principalFrom(r), repo, auth.Push) {
		return nil, false
	}
	if !o.StoresBlob(r.Context(), d) {
		return nil, false // a new blob: nothing to link, no catalog query
	}
	uses, err := s.store.BlobUses(r.Context(), d, "", s.viewerOf(r, true), 20)
	if err != nil {
		return nil, false
	}
	for _, u := range uses {
		if u.Repository == repo {
			continue
		}
		src, ok := o.OpenBlob(u.Repository, d)
		if !ok {
			continue
		}
		src.Close()
		if err := l.LinkBlob(r.Context(), repo, d); err != nil {
			s.logger(r.Context()).Warn("linking a blob held elsewhere", zap.String("repo", repo), zap.Stringer("digest", d), zap.Error(err))
			return nil, false
		}
		s.logger(r.Context()).Info("blob linked from another repository", zap.String("repo", repo), zap.String("from", u.Repository), zap.Stringer("digest", d))
		return o.OpenBlob(repo, d)
	}
	return nil, false
}
