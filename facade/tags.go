package facade

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/cairn-dev/cairn/auth"
	"github.com/cairn-dev/cairn/errcode"
)

// tagsList answers a tags list with access control on: the engine's
// tags whose manifests the caller may see, paged here.
func (s *registryAPI) tagsList(w http.ResponseWriter, r *http.Request, rt v2Route) error {
	p := principalFrom(r)
	v := s.policy.Viewer(p, false)
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
	if res.Status != http.StatusOK {
		if res.Status == http.StatusNotFound && !s.policy.May(p, rt.name, auth.Pull) {
			return s.hidden(w, r, rt)
		}
		return res.CopyTo(w)
	}
	var body struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}
	if err := json.Unmarshal(res.Body.Bytes(), &body); err != nil {
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
	if len(tags) == 0 && len(visible) == 0 && !s.policy.May(p, rt.name, auth.Pull) {
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
