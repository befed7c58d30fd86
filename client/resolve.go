package client

import (
	"context"
	_ "crypto/sha256" // digest algorithms the content ids name
	_ "crypto/sha512"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/cairn-dev/cairn/api"
)

// ContentID returns the content id of a digest: hash://sha256/<hex>.
func ContentID(d digest.Digest) string {
	return "hash://" + string(d.Algorithm()) + "/" + d.Encoded()
}

// ParseContentID parses a content id, hash://sha256/<hex> (or sha384,
// sha512); a digest (sha256:<hex>) is accepted too.
func ParseContentID(id string) (digest.Digest, error) {
	var s string
	if rest, ok := strings.CutPrefix(id, "hash://"); ok {
		alg, hex, ok := strings.Cut(rest, "/")
		if !ok {
			return "", fmt.Errorf("content id %q is not of the form hash://sha256/<hex>", id)
		}
		s = alg + ":" + hex
	} else if strings.Contains(id, ":") && !strings.Contains(id, "/") {
		s = id
	} else {
		return "", fmt.Errorf("content id %q is not of the form hash://sha256/<hex>", id)
	}
	d, err := digest.Parse(s)
	if err != nil {
		return "", fmt.Errorf("content id %q: %w", id, err)
	}
	return d, nil
}

// resolveAccept is sent with a resolve, which may lead to a manifest: every
// manifest type, then anything (a blob).
const resolveAccept = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, " +
	"application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json, */*;q=0.8"

// Resolve asks the server where the content id is held
// (GET /api/v1/resolve?id=…), follows the redirect, and returns the bytes
// with the digest they must have. The reader verifies them as they stream:
// at the end it returns an error wrapping ErrDigestMismatch instead of
// io.EOF if they do not hash to the digest. An id no repository holds is an
// *Error with code CodeBlobUnknown.
func (c *Client) Resolve(ctx context.Context, id string) (io.ReadCloser, digest.Digest, error) {
	d, err := ParseContentID(id)
	if err != nil {
		return nil, "", err
	}
	res, err := c.get(ctx, c.url("/api/v1/resolve", url.Values{api.ParamID: {ContentID(d)}}), resolveAccept)
	if err != nil {
		return nil, d, err
	}
	if res.StatusCode != http.StatusOK {
		drain(res.Body)
		res.Body.Close()
		return nil, d, fmt.Errorf("resolving %s: the server answered %d %s, not the content", ContentID(d), res.StatusCode, http.StatusText(res.StatusCode))
	}
	if h := res.Header.Get("Docker-Content-Digest"); h != "" && h != d.String() {
		res.Body.Close()
		return nil, d, fmt.Errorf("%w: the server answered %s for %s", ErrDigestMismatch, h, ContentID(d))
	}
	return &verifier{rc: res.Body, want: d, h: d.Algorithm().Hash()}, d, nil
}

// verifier hashes what it reads and checks the digest at the end.
type verifier struct {
	rc   io.ReadCloser
	want digest.Digest
	h    hash.Hash
	err  error // sticky
}

func (v *verifier) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	n, err := v.rc.Read(p)
	v.h.Write(p[:n])
	switch {
	case err == io.EOF:
		if got := digest.NewDigest(v.want.Algorithm(), v.h); got != v.want {
			err = digestMismatch(v.want, got)
		}
		v.err = err
	case err != nil:
		err = fmt.Errorf("reading %s: %w", ContentID(v.want), err)
		v.err = err
	}
	return n, err
}

func (v *verifier) Close() error { return v.rc.Close() }
