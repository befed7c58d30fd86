// Package client holds cairn's two clients.
//
// Client talks to a cairn server's catalog API (/api/v1): it searches the
// artifacts cairn has indexed and resolves content ids (hash://sha256/<hex>)
// to bytes whose digest it verifies while they stream. Errors the server
// answers are *Error values carrying the API's code; a server that cannot
// be reached is an *UnreachableError.
//
// Registry talks to any OCI registry (cairn, zot, a cloud registry) over
// the distribution API, through regclient: Push files and directories as
// one artifact, Pull them back atomically and verified, Inspect, Tags, Tag,
// Copy and Delete. Its errors are *RegistryError values that wrap one of
// ErrInvalidInput, ErrNotFound, ErrDenied, ErrUnreachable,
// ErrDigestMismatch or ErrRequirement. It does not talk to the catalog.
package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
)

// DefaultServer is where a cairn server listens unless told otherwise.
const DefaultServer = "http://127.0.0.1:5000"

// Client talks to one cairn server. It is safe for concurrent use.
type Client struct {
	base  *url.URL
	hc    *http.Client
	ua    string
	token string
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient makes the client send its requests with hc (the default is
// a client without an overall timeout, since blobs can be large; bound
// requests with their context).
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) {
		if hc != nil {
			c.hc = hc
		}
	}
}

// WithUserAgent sets the User-Agent header of every request.
func WithUserAgent(ua string) Option {
	return func(c *Client) { c.ua = ua }
}

// WithAPIToken sends a cairn API token (cairn token issue makes one) with
// every request, for a server with access control on. Without one the
// client sees what anonymous callers see: public content.
func WithAPIToken(token string) Option {
	return func(c *Client) { c.token = token }
}

// New returns a client of the cairn server at baseURL, such as
// http://127.0.0.1:5000 (a URL without a scheme is taken to be http).
func New(baseURL string, opts ...Option) (*Client, error) {
	raw := strings.TrimSpace(baseURL)
	if raw == "" {
		return nil, errors.New("no server URL given")
	}
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("server URL %q: %w", baseURL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("server URL %q: scheme %q is not http or https", baseURL, u.Scheme)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("server URL %q names no host", baseURL)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("server URL %q has a query or fragment; give the server's base URL", baseURL)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	c := &Client{base: u, hc: &http.Client{}, ua: "cairn-client"}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// BaseURL returns the server's URL as the client uses it.
func (c *Client) BaseURL() string { return c.base.String() }

// url returns the URL of path (which starts with /) under the base URL.
func (c *Client) url(path string, q url.Values) string {
	u := *c.base
	u.Path += path
	u.RawQuery = q.Encode()
	return u.String()
}

// get sends GET with the Accept header and returns the response when its
// status is 2xx; any other answer is turned into an *Error.
func (c *Client) get(ctx context.Context, u, accept string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	req.Header.Set("Accept", accept)
	return c.do(ctx, req)
}

// do sends req with the client's headers and returns the response when
// its status is 2xx; any other answer is turned into an *Error.
func (c *Client) do(ctx context.Context, req *http.Request) (*http.Response, error) {
	if c.ua != "" {
		req.Header.Set("User-Agent", c.ua)
	}
	if c.token != "" {
		// Go drops it on a redirect to another host.
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	u := req.URL.String()
	res, err := c.hc.Do(req)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, fmt.Errorf("%s %s: %w", req.Method, u, ctxErr)
		}
		cause := err
		var ue *url.Error
		if errors.As(err, &ue) {
			cause = ue.Err
		}
		return nil, &UnreachableError{URL: c.BaseURL(), Err: cause}
	}
	if res.StatusCode < 200 || res.StatusCode > 299 {
		defer res.Body.Close()
		return nil, readError(res)
	}
	return res, nil
}

// getJSON GETs u and decodes the JSON answer into v.
func (c *Client) getJSON(ctx context.Context, u string, v any) error {
	res, err := c.get(ctx, u, "application/json")
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if ct := res.Header.Get("Content-Type"); ct != "" {
		if mt, _, _ := mime.ParseMediaType(ct); mt != "application/json" {
			return fmt.Errorf("GET %s: the answer is %s, not JSON; is %s a cairn server?", u, mt, c.BaseURL())
		}
	}
	if err := json.NewDecoder(res.Body).Decode(v); err != nil {
		return fmt.Errorf("GET %s: decoding the answer: %w", u, err)
	}
	return nil
}

// drain discards what is left of a body, so the connection can be reused.
func drain(r io.Reader) { _, _ = io.Copy(io.Discard, io.LimitReader(r, 64<<10)) }
