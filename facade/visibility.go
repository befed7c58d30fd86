package facade

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/opencontainers/go-digest"
	"go.uber.org/zap"

	"github.com/cairn-dev/cairn/auth"
	"github.com/cairn-dev/cairn/catalog"
	"github.com/cairn-dev/cairn/errcode"
)

// VisibilityHeader carries the visibility of what a read answered with,
// when access control is on.
const VisibilityHeader = "Cairn-Visibility"

// readRoute reports whether a /v2/ request reads artifacts: those are
// checked per artifact, by its owner and visibility.
func readRoute(r *http.Request, rt v2Route) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	switch rt.kind {
	case routeManifest, routeBlob, routeTags, routeReferrers:
		return true
	}
	return false
}

// viewerOf is what the request's caller sees in the catalog: nil with
// access control off.
func (s *Server) viewerOf(r *http.Request, byDigest bool) *catalog.Viewer {
	if s.access == nil {
		return nil
	}
	return s.access.viewer(principalFrom(r), byDigest)
}

// hidden answers a read of something the caller may not see as the
// registry answers for what is not there. Callers with no name are asked
// to log in first: clients send the credentials they hold only when
// challenged, so a 404 would hide content from its own owner's pulls.
func (s *Server) hidden(w http.ResponseWriter, r *http.Request, rt v2Route) error {
	p := principalFrom(r)
	s.logger(r.Context()).Info("access denied: not visible", zap.String("user", p.user), zap.String("repo", rt.name), zap.String("reference", rt.ref), zap.String("action", "pull"))
	mayPull := s.access.may(p, rt.name, auth.Pull)
	switch {
	case p.unnamed():
		return s.challenge(w, "repository:"+rt.name+":pull", "", fmt.Sprintf("authentication required to pull %s: log in (oras login, docker login, regctl registry login) with a cairn token that may", rt.name))
	case !mayPull:
		return errNameUnknown(rt.name)
	case rt.kind == routeManifest:
		return errManifestUnknown(rt.name, rt.ref)
	case rt.kind == routeBlob:
		return errcode.New(errcode.BlobUnknown, "blob %s is not in repository %s", rt.ref, rt.name).WithDetail(map[string]string{"digest": rt.ref})
	}
	return errNameUnknown(rt.name)
}

// admitRead lets a read of a manifest or blob through, with its
// visibility in VisibilityHeader, or answers as hidden() does.
func (s *Server) admitRead(w http.ResponseWriter, r *http.Request, rt v2Route) error {
	var vis catalog.Visibility
	var ok bool
	var err error
	if rt.kind == routeBlob {
		vis, ok, err = s.blobVisibility(r.Context(), principalFrom(r), rt.name, digest.Digest(rt.ref))
	} else {
		vis, ok, err = s.manifestVisibility(r, rt)
	}
	switch {
	case err != nil:
		return err
	case !ok:
		return s.hidden(w, r, rt)
	}
	w.Header().Set(VisibilityHeader, string(vis))
	return nil
}

func errManifestUnknown(repo, ref string) error {
	return errcode.New(errcode.ManifestUnknown, "manifest %s is not in repository %s", ref, repo).WithDetail(map[string]string{"name": repo, "reference": ref})
}

// manifestVisibility is the visibility of the manifest a read names, if
// the caller may see it. A manifest the catalog does not hold (not yet
// indexed, or named by a digest the catalog does not key it by) goes by
// Access.unindexed. Referrers ask it of their subject too.
func (s *Server) manifestVisibility(r *http.Request, rt v2Route) (vis catalog.Visibility, ok bool, err error) {
	ctx, p := r.Context(), principalFrom(r)
	byRule := func() (catalog.Visibility, bool, error) {
		vis, ok := s.access.unindexed(p, rt.name)
		return vis, ok, nil
	}
	dgst := digest.Digest(rt.ref)
	if !isDigest(rt.ref) {
		d, err := s.store.ResolveTag(ctx, rt.name, rt.ref)
		switch {
		case errors.Is(err, catalog.ErrNotFound):
			return byRule()
		case err != nil:
			return "", false, errcode.Wrap(errcode.Unavailable, err, "who may read %s:%s cannot be checked: the catalog is unavailable; try again", rt.name, rt.ref)
		}
		dgst = d
	}
	owner, own, err := s.store.Ownership(ctx, rt.name, dgst)
	switch {
	case errors.Is(err, catalog.ErrNotFound):
		return byRule()
	case err != nil:
		return "", false, errcode.Wrap(errcode.Unavailable, err, "who may read %s@%s cannot be checked: the catalog is unavailable; try again", rt.name, dgst)
	}
	return s.access.effective(rt.name, own), s.access.viewer(p, isDigest(rt.ref)).Sees(rt.name, owner, own), nil
}

// blobVisibility is the visibility of blob d in repo to p: the highest of
// the artifacts there that use it and that p may see. A blob no artifact
// uses yet (an upload whose manifest is still to come) is for those who
// may push to the repository.
func (s *Server) blobVisibility(ctx context.Context, p principal, repo string, d digest.Digest) (catalog.Visibility, bool, error) {
	uses, err := s.store.BlobUses(ctx, d, repo, s.access.viewer(p, true), 100)
	if err != nil {
		return "", false, errcode.Wrap(errcode.Unavailable, err, "who may read blob %s cannot be checked: the catalog is unavailable; try again", d)
	}
	if len(uses) > 0 {
		best := catalog.Staged
		for _, u := range uses {
			if v := s.access.effective(repo, u.Visibility); v.Rank() > best.Rank() {
				best = v
			}
		}
		return best, true, nil
	}
	used, err := s.store.BlobUses(ctx, d, repo, nil, 1)
	if err != nil {
		return "", false, errcode.Wrap(errcode.Unavailable, err, "who may read blob %s cannot be checked: the catalog is unavailable; try again", d)
	}
	if len(used) > 0 {
		return "", false, nil
	}
	return catalog.Staged, s.access.may(p, repo, auth.Push), nil
}

// mayMount reports whether the caller may mount blob mount from repo
// from: whether they could read it there.
func (s *Server) mayMount(r *http.Request, from, mount string) bool {
	d, err := digest.Parse(mount)
	if err != nil || checkName(from) != nil {
		return false
	}
	_, ok, err := s.blobVisibility(r.Context(), principalFrom(r), from, d)
	return err == nil && ok
}

// tagsList answers a tags list with access control on: the engine's
// tags whose manifests the caller may see, paged here.
func (s *Server) tagsList(w http.ResponseWriter, r *http.Request, rt v2Route) error {
	p := principalFrom(r)
	v := s.access.viewer(p, false)
	q := r.URL.Query()
	n := -1
	if raw := q.Get("n"); raw != "" {
		var err error
		if n, err = strconv.Atoi(raw); err != nil || n < 0 {
			return errcode.New(errcode.Unsupported, "n=%q is not a count of tags", raw).WithDetail(map[string]string{"n": raw})
		}
	}
	last := q.Get("last")
	all := r.Clone(r.Context())
	all.URL.RawQuery = ""
	res := s.forward(all)
	if res.status != http.StatusOK {
		if res.status == http.StatusNotFound && !s.access.may(p, rt.name, auth.Pull) {
			return s.hidden(w, r, rt)
		}
		return res.copyTo(w)
	}
	var body struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}
	if err := json.Unmarshal(res.body.Bytes(), &body); err != nil {
		return errcode.Wrap(errcode.Unknown, err, "the engine's tags answer cannot be read")
	}
	visible, err := s.store.VisibleTags(r.Context(), rt.name, v)
	if err != nil {
		return errcode.Wrap(errcode.Unavailable, err, "who may read the tags of %s cannot be checked: the catalog is unavailable; try again", rt.name)
	}
	sees := map[string]bool{}
	for _, t := range visible {
		sees[t] = true
	}
	tags := []string{}
	for _, t := range body.Tags {
		if sees[t] && t > last {
			tags = append(tags, t)
		}
	}
	slices.Sort(tags)
	if len(tags) == 0 && len(visible) == 0 && !s.access.may(p, rt.name, auth.Pull) {
		return s.hidden(w, r, rt)
	}
	if n >= 0 && len(tags) > n {
		tags = tags[:n]
		if n > 0 {
			next := url.Values{"n": {strconv.Itoa(n)}, "last": {tags[n-1]}}
			w.Header().Set("Link", fmt.Sprintf(`</v2/%s/tags/list?%s>; rel="next"`, rt.name, next.Encode()))
		}
	}
	w.Header().Set("Content-Type", "application/json")
	return writeJSONAs(w, r, struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}{rt.name, tags})
}

// publicCatalog answers /v2/_catalog with access control on: the
// repositories where the caller may see an artifact, or holds pull.
func (s *Server) publicCatalog(w http.ResponseWriter, r *http.Request) error {
	p, err := s.principalOf(r)
	if err != nil {
		return err
	}
	res := s.forward(r)
	if res.status != http.StatusOK {
		return res.copyTo(w)
	}
	var body struct {
		Repositories []string `json:"repositories"`
	}
	if err := json.Unmarshal(res.body.Bytes(), &body); err != nil {
		return errcode.Wrap(errcode.Unknown, err, "the engine's catalog answer cannot be read")
	}
	v := s.access.viewer(p, false)
	seen := map[string]bool{}
	if v != nil {
		// Every repository with an artifact the caller sees, in pages.
		after := ""
		for {
			rs, err := s.store.RepositorySummaries(r.Context(), "", after, v, 1000)
			if err != nil {
				return errcode.Wrap(errcode.Unavailable, err, "which repositories you may see cannot be checked: the catalog is unavailable; try again")
			}
			for _, rep := range rs {
				seen[rep.Name] = true
			}
			if len(rs) < 1000 {
				break
			}
			after = rs[len(rs)-1].Name
		}
	}
	visible := []string{}
	for _, repo := range body.Repositories {
		if v == nil || seen[repo] || s.access.holds(p, repo, auth.Pull) {
			visible = append(visible, repo)
		}
	}
	body.Repositories = visible
	for k, vals := range res.header {
		if k != "Content-Length" {
			w.Header()[k] = vals
		}
	}
	return writeJSON(w, http.StatusOK, body)
}

// pushVisibility is the state a manifest pushed by p starts in: an
// attachment (a signature, an SBOM) pushed by its subject's owner or an
// admin takes its subject's, so that it is seen with it; anything else
// starts staged where the repository's rule says so.
func (s *Server) pushVisibility(ctx context.Context, p principal, m catalog.Manifest, tag string) catalog.Visibility {
	subjects := signatureSubjects(m, tag)
	if m.Subject != "" && attachmentTypes[m.ArtifactType] {
		subjects = append(subjects, m.Subject)
	}
	for _, subj := range subjects {
		owner, vis, err := s.store.Ownership(ctx, m.Repository, subj)
		if err == nil && ((owner != "" && owner == p.user) || s.access.may(p, m.Repository, auth.Admin)) {
			return vis
		}
	}
	if s.access.rule(m.Repository).Staging {
		return catalog.Staged
	}
	return catalog.Inherit
}

// maxPromoteBody bounds a promote request's JSON body.
const maxPromoteBody = 4 << 10

type promoteJSON struct {
	Repository string        `json:"repository"`
	Digest     digest.Digest `json:"digest"`
	Visibility string        `json:"visibility"`
	// Changed lists every artifact whose visibility moved: the one named,
	// the manifests of an index, and its signatures and attachments.
	Changed []string `json:"changed"`
}

// promote answers POST /api/v1/artifacts/{repository}@{digest}/promote:
// an artifact's owner or an admin moves it up the ladder.
func (s *Server) promote(w http.ResponseWriter, r *http.Request) error {
	ref, ok := strings.CutSuffix(strings.TrimPrefix(r.URL.EscapedPath(), "/api/v1/artifacts/"), "/promote")
	if !ok {
		return errcode.New(errcode.NotFound, "no endpoint %s %s; POST /api/v1/artifacts/{repository}@{digest}/promote changes an artifact's visibility", r.Method, r.URL.Path)
	}
	params, err := newParams(r.URL, "to")
	if err != nil {
		return err
	}
	to, err := promoteTarget(r, params.get("to"))
	if err != nil {
		return err
	}
	if s.access == nil {
		return errcode.New(errcode.Conflict, "access control is off: every artifact is readable by anyone, and visibility has no meaning; serve with --auth to use it")
	}
	p, err := s.principalOf(r)
	if err != nil {
		return err
	}
	if p.anonymous() {
		return s.challenge(w, "", "", "authentication required: promote with a cairn token (Authorization: Bearer cairn_…) of the artifact's owner or an admin")
	}
	repo, dgst, tag, err := parseArtifactRef(ref)
	if err != nil {
		return err
	}
	ctx, log := r.Context(), s.logger(r.Context()).With(zap.String("user", p.user), zap.String("repo", repo), zap.String("action", "promote"))
	defer s.manifestLocks.lock(repo)()
	if tag != "" {
		if dgst, err = s.store.ResolveTag(ctx, repo, tag); err != nil {
			return notFoundOr(err, "no tag %s in repository %s", tag, repo)
		}
	}
	m, err := s.store.Manifest(ctx, repo, dgst)
	if err != nil {
		return notFoundOr(err, "no artifact %s in repository %s", dgst, repo)
	}
	if !s.access.viewer(p, tag == "").Sees(repo, m.Owner, m.Visibility) {
		log.Info("access denied: not visible", zap.Stringer("digest", dgst))
		return errcode.New(errcode.NotFound, "no artifact %s in repository %s", dgst, repo)
	}
	if !s.access.may(p, repo, auth.Admin) && (m.Owner == "" || m.Owner != p.user) {
		log.Info("access denied: not the owner", zap.Stringer("digest", dgst), zap.String("owner", m.Owner))
		owner := m.Owner
		if owner == "" {
			owner = "nobody (pushed while access control was off)"
		}
		return errcode.New(errcode.Denied, "%s@%s belongs to %s: only its owner or an admin of the repository may promote it", repo, dgst, owner)
	}
	cur := s.access.effective(repo, m.Visibility)
	switch {
	case to.Rank() < cur.Rank():
		return errcode.New(errcode.Conflict, "%s@%s is %s and visibility only moves up (staged, private, unlisted, public): it cannot go back to %s; delete it and push it again to start over", repo, dgst, cur, to).WithDetail(map[string]string{"visibility": string(cur)})
	case to.Rank() == cur.Rank():
		return writeJSON(w, http.StatusOK, promoteJSON{Repository: repo, Digest: dgst, Visibility: string(cur), Changed: []string{}})
	}
	if rule, ok := s.trust.For(repo); ok && rule.RequireSignature && to == catalog.Public && !slices.ContainsFunc(m.Signatures, func(sg catalog.Signature) bool { return sg.Verified }) {
		return errcode.New(errcode.Conflict, "%s@%s has no valid signature, and repositories under %q require one to be public; sign it with a trusted key (cairn sign, cosign sign) and promote again", repo, dgst, rule.Prefix)
	}
	changed, err := s.raise(ctx, repo, m, to)
	if err != nil {
		return err
	}
	log.Info("promoted", zap.Stringer("digest", dgst), zap.String("from", string(cur)), zap.String("to", string(to)), zap.Strings("changed", changed))
	return writeJSON(w, http.StatusOK, promoteJSON{Repository: repo, Digest: dgst, Visibility: string(to), Changed: changed})
}

// raise moves m, the manifests of an index and what is attached to it
// (signatures in both forms, SBOMs, attestations) up to vis; what is
// already there or higher stays.
func (s *Server) raise(ctx context.Context, repo string, m catalog.Manifest, vis catalog.Visibility) ([]string, error) {
	targets := []digest.Digest{m.Digest}
	for _, l := range m.Layers {
		if l.Kind == "manifest" {
			targets = append(targets, l.Digest)
		}
	}
	for _, sg := range m.Signatures {
		targets = append(targets, sg.Manifest)
	}
	refs, err := s.store.Referrers(ctx, repo, m.Digest, "")
	if err != nil {
		return nil, catalogUnavailable(err)
	}
	for _, ref := range refs {
		if attachmentTypes[ref.ArtifactType] {
			targets = append(targets, ref.Digest)
		}
	}
	changed := []string{}
	seen := map[digest.Digest]bool{}
	for _, d := range targets {
		if seen[d] {
			continue
		}
		seen[d] = true
		_, own, err := s.store.Ownership(ctx, repo, d)
		switch {
		case errors.Is(err, catalog.ErrNotFound):
			continue // an index's child the catalog does not hold
		case err != nil:
			return changed, catalogUnavailable(err)
		}
		if s.access.effective(repo, own).Rank() >= vis.Rank() {
			continue
		}
		if err := s.store.SetVisibility(ctx, repo, d, vis); err != nil {
			return changed, catalogUnavailable(err)
		}
		changed = append(changed, repo+"@"+d.String())
	}
	return changed, nil
}

// promoteTarget reads where a promotion goes: ?to= or {"to": …}.
func promoteTarget(r *http.Request, query string) (catalog.Visibility, error) {
	to := query
	body, err := io.ReadAll(io.LimitReader(r.Body, maxPromoteBody+1))
	if err != nil {
		return "", errcode.Wrap(errcode.InvalidParameter, err, "reading the request body failed: %v", err)
	}
	if len(body) > maxPromoteBody {
		return "", errcode.New(errcode.BodyTooLarge, "the request body is over %d bytes; send {\"to\":\"public\"} or nothing", maxPromoteBody)
	}
	if len(strings.TrimSpace(string(body))) > 0 {
		var req struct {
			To string `json:"to"`
		}
		dec := json.NewDecoder(strings.NewReader(string(body)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			return "", invalidParam("body", "the body is not {\"to\": \"unlisted\"|\"public\"|\"private\"}: %v", err)
		}
		if to != "" && req.To != "" && to != req.To {
			return "", invalidParam("to", "to=%s in the query and %q in the body disagree; give one", to, req.To)
		}
		if req.To != "" {
			to = req.To
		}
	}
	if to == "" {
		return "", invalidParam("to", "to is required: private, unlisted or public")
	}
	v, err := catalog.ParseVisibility(to)
	if err != nil || v == catalog.Staged {
		return "", invalidParam("to", "to=%q: give private, unlisted or public (artifacts only move up from staged)", to)
	}
	return v, nil
}
