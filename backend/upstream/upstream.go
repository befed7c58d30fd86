// Package upstream fronts an OCI registry reached over HTTP (zot in
// production, or any OCI 1.1 registry): every /v2/ request is passed
// through with blobs streamed both ways, upload Locations are rewritten so
// clients keep talking to cairn, and cairn's own credentials for the
// upstream go to that host only.
package upstream

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"time"

	"go.uber.org/zap"

	"github.com/cairn-dev/cairn/backend"
	"github.com/cairn-dev/cairn/errcode"
)

// Config configures the upstream.
type Config struct {
	URL      string
	Username string
	Password string
	// CAFile, CertFile and KeyFile set up TLS to the upstream.
	CAFile, CertFile, KeyFile string
	InsecureSkipVerify        bool
	// Timeout bounds the wait for response headers (0: 60s).
	Timeout time.Duration
}

// Registry is an upstream registry.
type Registry struct {
	base   *url.URL
	cfg    Config
	client *http.Client
	proxy  *httputil.ReverseProxy
	log    *zap.Logger
}

// The abilities the upstream declares (see package backend); Walker in
// walk.go.
var _ backend.Backend = (*Registry)(nil)

// New returns a pass-through to the registry at cfg.URL. It does not
// contact it: Ready does.
func New(log *zap.Logger, cfg Config) (*Registry, error) {
	base, err := url.Parse(cfg.URL)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("upstream %q is not an http:// or https:// URL", cfg.URL)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 60 * time.Second
	}
	tlsConf, err := tlsConfig(cfg)
	if err != nil {
		return nil, err
	}
	transport := &http.Transport{
		Proxy:                 nil, // the upstream is reached directly, never through an environment proxy
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       tlsConf,
		ForceAttemptHTTP2:     true,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: cfg.Timeout,
		ExpectContinueTimeout: time.Second,
	}
	u := &Registry{base: base, cfg: cfg, log: log,
		client: &http.Client{
			Transport: transport,
			Timeout:   cfg.Timeout,
			// Never follow a redirect: cairn's credentials stay with the upstream.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}}
	u.proxy = &httputil.ReverseProxy{
		Rewrite:        u.rewrite,
		Transport:      transport,
		ModifyResponse: u.modifyResponse,
		ErrorHandler:   u.errorHandler,
		FlushInterval:  -1,
	}
	return u, nil
}

func tlsConfig(cfg Config) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: cfg.InsecureSkipVerify} //nolint:gosec // an explicit setting
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("upstream CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("upstream CA file %s holds no PEM certificate", cfg.CAFile)
		}
		tc.RootCAs = pool
	}
	if cfg.CertFile != "" || cfg.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("upstream client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// rewrite points a client's request at the upstream with cairn's own
// credentials; the client's are not the upstream's business.
func (u *Registry) rewrite(pr *httputil.ProxyRequest) {
	pr.SetURL(u.base)
	pr.Out.Host = u.base.Host
	pr.Out.Header.Del("Authorization")
	pr.Out.Header.Del("Cookie")
	if u.cfg.Username != "" || u.cfg.Password != "" {
		pr.Out.SetBasicAuth(u.cfg.Username, u.cfg.Password)
	}
}

// modifyResponse keeps clients on cairn: Locations on the upstream become
// relative, and an upstream that refuses cairn's credentials is cairn's
// misconfiguration, not a login the client can do.
func (u *Registry) modifyResponse(res *http.Response) error {
	if loc := res.Header.Get("Location"); loc != "" {
		if l, err := url.Parse(loc); err == nil && l.IsAbs() && l.Host == u.base.Host {
			rel := &url.URL{Path: l.Path, RawPath: l.RawPath, RawQuery: l.RawQuery}
			res.Header.Set("Location", rel.String())
		}
	}
	if res.StatusCode == http.StatusUnauthorized {
		return errUpstreamAuth // the error handler writes a fresh answer
	}
	return nil
}

var errUpstreamAuth = errors.New("upstream refused cairn's credentials")

func (u *Registry) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	u.log.Warn("upstream request failed", zap.String("upstream", u.base.Host), zap.String("path", r.URL.Path), zap.Error(err))
	errcode.WriteOCI(w, u.classify(err))
}

// classify turns a transport error into the answer a client gets.
func (u *Registry) classify(err error) *errcode.Error {
	var ne net.Error
	switch {
	case errors.Is(err, errUpstreamAuth):
		return errcode.New(errcode.UpstreamUnreachable, "upstream registry %s refused cairn's credentials; check the upstream username and password in cairn's configuration", u.base.Host)
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return errcode.New(errcode.UpstreamTimeout, "upstream registry %s did not answer in time", u.base.Host)
	case errors.Is(err, context.Canceled):
		return errcode.New(errcode.UpstreamUnreachable, "request cancelled while waiting for upstream registry %s", u.base.Host)
	default:
		return errcode.New(errcode.UpstreamUnreachable, "upstream registry %s cannot be reached: %v", u.base.Host, err)
	}
}

// ServeHTTP passes a request through to the upstream.
func (u *Registry) ServeHTTP(w http.ResponseWriter, r *http.Request) { u.proxy.ServeHTTP(w, r) }

// Name is "upstream".
func (u *Registry) Name() string { return "upstream" }

// NativeReferrers is true: cairn asks the upstream first and answers from
// its catalog only when the upstream has no referrers API.
func (u *Registry) NativeReferrers() bool { return true }

// MonolithicUploads is true: a single-request upload is passed through as
// it came, and the upstream answers it as the spec lets it (storing the
// blob, or opening a session the client goes on with).
func (u *Registry) MonolithicUploads() bool { return true }

// Reconciled is true: pushes may reach the upstream without passing
// through cairn (directly, or by the upstream's own sync).
func (u *Registry) Reconciled() bool { return true }

// Ready checks that the upstream answers /v2/ with cairn's credentials.
func (u *Registry) Ready(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.base.JoinPath("/v2/").String(), nil)
	if err != nil {
		return err
	}
	if u.cfg.Username != "" || u.cfg.Password != "" {
		req.SetBasicAuth(u.cfg.Username, u.cfg.Password)
	}
	res, err := u.client.Do(req)
	if err != nil {
		return fmt.Errorf("upstream %s: %w", u.base.Host, err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("upstream %s answered /v2/ with %s", u.base.Host, res.Status)
	}
	return nil
}

// Close releases idle connections.
func (u *Registry) Close() error {
	u.client.CloseIdleConnections()
	return nil
}
