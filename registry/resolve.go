package registry

import (
	"context"
	"fmt"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/cairn-dev/cairn/auth"
	"github.com/cairn-dev/cairn/errcode"
)

// ParseContentID reads a content id, hash://sha256/<hex> or
// hash://sha512/<hex>, into its digest.
func ParseContentID(id string) (digest.Digest, error) {
	rest, ok := strings.CutPrefix(id, "hash://")
	alg, hex, ok2 := strings.Cut(rest, "/")
	if !ok || !ok2 {
		return "", fmt.Errorf("content id %q is not of the form hash://sha256/<hex> or hash://sha512/<hex>", id)
	}
	d, err := digest.Parse(alg + ":" + hex)
	if err != nil {
		return "", fmt.Errorf("content id %q: %v; expected <algorithm>:<lower-case hex>, sha256 or sha512", id, err)
	}
	return d, nil
}

// Content is where the bytes of a content id are served from.
type Content struct {
	Repository string
	Digest     digest.Digest
	// Manifest: the content is a manifest (served under /manifests/),
	// not a blob.
	Manifest bool
}

// Path is the registry API path that serves the content.
func (c Content) Path() string {
	kind := "blobs"
	if c.Manifest {
		kind = "manifests"
	}
	return "/v2/" + c.Repository + "/" + kind + "/" + c.Digest.String()
}

// Resolve finds one repository holding d that p may read: content named
// by its digest, so unlisted content resolves too.
func (r *Registry) Resolve(ctx context.Context, p auth.Principal, d digest.Digest) (Content, error) {
	uses, err := r.store.BlobUses(ctx, d, "", r.policy.Viewer(p, true), 1)
	if err != nil {
		return Content{}, CatalogUnavailable(err)
	}
	if len(uses) == 0 {
		return Content{}, errcode.New(errcode.BlobUnknown, "no repository holds %s", "hash://"+string(d.Algorithm())+"/"+d.Encoded()).WithDetail(map[string]string{"digest": d.String()})
	}
	u := uses[0]
	return Content{Repository: u.Repository, Digest: d, Manifest: u.Kind == "manifest-self" || u.Kind == "manifest"}, nil
}
