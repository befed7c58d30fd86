package facade

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cairn-dev/cairn/annotations"
	"github.com/cairn-dev/cairn/api"
	"github.com/cairn-dev/cairn/catalog"
	"github.com/cairn-dev/cairn/errcode"
)

const (
	defaultLimit = 50
	maxLimit     = 1000
	maxTextLen   = 1024
)

// params reads a catalog API query string strictly: every parameter must
// be known to the endpoint, and single-valued ones given once.
type params struct {
	v       url.Values
	allowed map[string]bool
}

func newParams(u *url.URL, allowed ...string) (*params, error) {
	v, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, errcode.New(errcode.InvalidParameter, "the query string does not parse: %v", err)
	}
	p := &params{v: v, allowed: map[string]bool{}}
	for _, a := range allowed {
		p.allowed[a] = true
	}
	names := make([]string, 0, len(v))
	for name := range v {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if !p.allowed[name] {
			known := make([]string, 0, len(allowed))
			known = append(known, allowed...)
			slices.Sort(known)
			return nil, invalidParam(name, "unknown parameter %q; this endpoint takes %s", name, strings.Join(known, ", "))
		}
		if name != api.ParamAnnotation && len(v[name]) > 1 {
			return nil, invalidParam(name, "parameter %q is given %d times; give it once", name, len(v[name]))
		}
		for _, value := range v[name] {
			if !utf8.ValidString(value) || strings.ContainsRune(value, 0) {
				return nil, invalidParam(name, "parameter %q is not valid UTF-8 text (or holds NUL)", name)
			}
		}
	}
	return p, nil
}

func invalidParam(name, format string, args ...any) error {
	return errcode.New(errcode.InvalidParameter, format, args...).WithDetail(map[string]string{"parameter": name})
}

func (p *params) get(name string) string { return p.v.Get(name) }

// limit reads limit= (default 50, 1 to 1000).
func (p *params) limit() (int, error) {
	s := p.get(api.ParamLimit)
	if s == "" {
		return defaultLimit, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > maxLimit {
		return 0, invalidParam(api.ParamLimit, "limit %q is not a whole number from 1 to %d", s, maxLimit)
	}
	return n, nil
}

// query reads the artifact filters, api.ArtifactFilters.
func (p *params) query() (catalog.Query, error) {
	var q catalog.Query
	if q.Repository = p.get(api.ParamRepository); q.Repository != "" {
		if err := checkName(q.Repository); err != nil {
			return q, invalidParam(api.ParamRepository, "%s", errcode.As(err).Message)
		}
	}
	q.RepositoryPrefix = p.get(api.ParamRepositoryPrefix)
	if len(q.RepositoryPrefix) > maxNameLength {
		return q, invalidParam(api.ParamRepositoryPrefix, "repository_prefix is longer than a repository name can be (%d)", maxNameLength)
	}
	q.ArtifactType = p.get(api.ParamArtifactType)
	q.MediaType = p.get(api.ParamMediaType)
	if q.Tag = p.get(api.ParamTag); q.Tag != "" && !tagRE.MatchString(q.Tag) {
		return q, invalidParam(api.ParamTag, "tag %q is not a valid tag", q.Tag)
	}
	for _, expr := range p.v[api.ParamAnnotation] {
		f, err := annotations.ParseFilter(expr)
		if err != nil {
			return q, invalidParam(api.ParamAnnotation, "annotation=%s: %v", expr, err)
		}
		q.Annotations = append(q.Annotations, f)
	}
	if q.Text = p.get(api.ParamText); len(q.Text) > maxTextLen {
		return q, invalidParam(api.ParamText, "q is %d bytes; at most %d", len(q.Text), maxTextLen)
	}
	if s := p.get(api.ParamSubject); s != "" {
		d, err := parseDigest(s)
		if err != nil {
			return q, invalidParam(api.ParamSubject, "subject: %s", errcode.As(err).Message)
		}
		q.Subject = d
	}
	if s := p.get(api.ParamHasSubject); s != "" {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return q, invalidParam(api.ParamHasSubject, "has_subject %q is not true or false", s)
		}
		q.HasSubject = &b
	}
	if s := p.get(api.ParamSigned); s != "" {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return q, invalidParam(api.ParamSigned, "signed %q is not true or false", s)
		}
		q.Signed = &b
	}
	for name, dst := range map[string]*time.Time{api.ParamPushedAfter: &q.PushedAfter, api.ParamPushedBefore: &q.PushedBefore} {
		if s := p.get(name); s != "" {
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				return q, invalidParam(name, "%s %q is not an RFC 3339 time such as 2024-06-01T00:00:00Z", name, s)
			}
			*dst = t
		}
	}
	return q, nil
}

// sort reads sort= (default -pushed, newest first).
func (p *params) sort() (catalog.Sort, error) {
	s := p.get(api.ParamSort)
	if s == "" {
		return catalog.Sort{Field: catalog.SortPushed, Desc: true}, nil
	}
	var out catalog.Sort
	name := s
	if rest, ok := strings.CutPrefix(s, "-"); ok {
		out.Desc, name = true, rest
	}
	switch {
	case name == "pushed":
		out.Field = catalog.SortPushed
	case name == "size":
		out.Field = catalog.SortSize
	case s == "repository":
		out.Field = catalog.SortRepository
	case strings.HasPrefix(name, "annotation:"):
		out.Field, out.Key = catalog.SortAnnotation, strings.TrimPrefix(name, "annotation:")
		if _, err := annotations.ParseFilter(out.Key); err != nil || strings.ContainsAny(out.Key, "!=<>^") {
			return out, invalidParam(api.ParamSort, "sort %q: %q is not an annotation key", s, out.Key)
		}
	default:
		return out, invalidParam(api.ParamSort, "sort %q is not one of pushed, -pushed, repository, size, -size, annotation:KEY, -annotation:KEY", s)
	}
	return out, nil
}

// fingerprint identifies a query (every parameter but the position and
// the page size), so that a page token is used only with its own query.
func (p *params) fingerprint(endpoint string) string {
	h := sha256.New()
	h.Write([]byte(endpoint))
	names := make([]string, 0, len(p.v))
	for name := range p.v {
		if name != api.ParamPageToken && name != api.ParamLimit {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		for _, v := range p.v[name] {
			h.Write([]byte{0})
			h.Write([]byte(name))
			h.Write([]byte{1})
			h.Write([]byte(v))
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}

var errNoToken = errors.New("no page token")

// position reads page_token= into position; errNoToken when absent.
func (p *params) position(endpoint string, position any) error {
	t := p.get(api.ParamPageToken)
	if t == "" {
		return errNoToken
	}
	return decodePageToken(t, p.fingerprint(endpoint), position)
}
