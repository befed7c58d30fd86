package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/regclient/regclient"
	"github.com/regclient/regclient/config"
	"github.com/regclient/regclient/scheme/reg"
	"github.com/regclient/regclient/types/errs"
	"github.com/regclient/regclient/types/ref"
)

// Registry pushes, pulls and inspects artifacts in any OCI registry (cairn,
// zot, a cloud registry) over the distribution API, through regclient. It is
// safe for concurrent use.
type Registry struct {
	rc              *regclient.RegClient
	defaultRegistry string
}

// RegistryOption configures a Registry.
type RegistryOption func(*registryConfig)

type registryConfig struct {
	hosts           map[string]*config.Host
	dockerConfig    bool
	userAgent       string
	defaultRegistry string
	chunkSize       int64
	chunkThreshold  int64
	retries         int
	logger          *slog.Logger
}

func (c *registryConfig) host(name string) *config.Host {
	if h, ok := c.hosts[name]; ok {
		return h
	}
	h := config.HostNewName(name)
	c.hosts[name] = h
	return h
}

// WithCredentials logs in to the registry host (host:port as in references)
// with a user name and password. These take precedence over docker's
// config.json.
func WithCredentials(host, username, password string) RegistryOption {
	return func(c *registryConfig) {
		h := c.host(host)
		h.User, h.Pass = username, password
	}
}

// WithToken sends an identity token (an OAuth2 refresh token or a
// registry's access token, as `docker login` with an identity token stores
// it) to the registry host instead of a password.
func WithToken(host, token string) RegistryOption {
	return func(c *registryConfig) { c.host(host).Token = token }
}

// WithPlainHTTP talks HTTP without TLS to the named registry hosts, for
// registries such as a local `cairn serve` that listen without TLS.
func WithPlainHTTP(hosts ...string) RegistryOption {
	return func(c *registryConfig) {
		for _, name := range hosts {
			if name = strings.TrimSpace(name); name != "" {
				c.host(name).TLS = config.TLSDisabled
			}
		}
	}
}

// WithDockerConfig reads logins and credential helpers from docker's
// config.json ($DOCKER_CONFIG or ~/.docker), as regclient does; explicit
// credentials given with WithCredentials or WithToken take precedence. The
// default is on.
func WithDockerConfig(on bool) RegistryOption {
	return func(c *registryConfig) { c.dockerConfig = on }
}

// WithDefaultRegistry names the registry of references that name none
// ("datasets/abstracts:2024"), instead of docker.io.
func WithDefaultRegistry(host string) RegistryOption {
	return func(c *registryConfig) { c.defaultRegistry = strings.TrimSpace(host) }
}

// WithRegistryUserAgent sets the User-Agent of registry requests.
func WithRegistryUserAgent(ua string) RegistryOption {
	return func(c *registryConfig) { c.userAgent = ua }
}

// WithChunking uploads blobs larger than threshold in chunks of size bytes,
// each retried and resumed from the offset the registry acknowledged. The
// default (threshold < 0) sends each blob in one streaming PUT, and falls
// back to chunks of 16 MiB, restarting from the first byte, only when that
// PUT fails: chunked uploads measured 1.4 to 2 times slower against cairn
// serve, and a chunk is held in memory while it is sent.
func WithChunking(threshold, size int64) RegistryOption {
	return func(c *registryConfig) { c.chunkThreshold, c.chunkSize = threshold, size }
}

// WithRetries sets how often a failed request is retried (default 2). A
// registry that is down fails after the retries, so keep it small for
// interactive use.
func WithRetries(n int) RegistryOption {
	return func(c *registryConfig) { c.retries = n }
}

// WithLogger sends regclient's own debug log to logger.
func WithLogger(logger *slog.Logger) RegistryOption {
	return func(c *registryConfig) { c.logger = logger }
}

// defaultConcurrency is how many blobs move at once, as oras does.
const defaultConcurrency = 5

// Defaults of chunked uploads (see WithChunking): none unless a whole-blob
// PUT fails, then chunks of 16 MiB.
const (
	defaultChunkThreshold = -1
	defaultChunkSize      = 16 << 20
)

// NewRegistry returns a registry client.
func NewRegistry(opts ...RegistryOption) *Registry {
	cfg := &registryConfig{
		hosts:          map[string]*config.Host{},
		dockerConfig:   true,
		userAgent:      "cairn",
		chunkSize:      defaultChunkSize,
		chunkThreshold: defaultChunkThreshold,
		retries:        2,
	}
	for _, o := range opts {
		o(cfg)
	}
	def := config.HostNewName("default")
	def.BlobChunk, def.BlobMax = cfg.chunkSize, cfg.chunkThreshold
	// As many requests in flight to one registry as layers move at once
	// (regclient's default is 3).
	def.ReqConcurrent = defaultConcurrency
	rcOpts := []regclient.Opt{
		regclient.WithUserAgent(cfg.userAgent),
		regclient.WithConfigHostDefault(*def),
		regclient.WithRegOpts(
			reg.WithRetryLimit(cfg.retries),
			reg.WithDelay(200*time.Millisecond, 2*time.Second),
			reg.WithBlobSize(cfg.chunkSize, cfg.chunkThreshold),
		),
	}
	if cfg.logger != nil {
		rcOpts = append(rcOpts, regclient.WithSlog(cfg.logger))
	}
	// Docker's logins first, so that the explicit ones loaded after them
	// take precedence (regclient merges later settings over earlier ones).
	if cfg.dockerConfig {
		rcOpts = append(rcOpts, regclient.WithDockerCreds())
	}
	for _, h := range cfg.hosts {
		rcOpts = append(rcOpts, regclient.WithConfigHost(*h))
	}
	return &Registry{rc: regclient.New(rcOpts...), defaultRegistry: cfg.defaultRegistry}
}

// ParseReference parses an OCI reference (registry/repository:tag or
// @digest), filling in the default registry when the reference names none.
func (r *Registry) ParseReference(s string) (ref.Ref, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return ref.Ref{}, fmt.Errorf("empty reference; give REGISTRY/REPOSITORY[:TAG|@DIGEST]%.0w", ErrInvalidInput)
	}
	if strings.Contains(s, "://") {
		return ref.Ref{}, fmt.Errorf("reference %q has a URL scheme; give REGISTRY/REPOSITORY[:TAG], such as 127.0.0.1:5000/datasets/abstracts:2024%.0w", s, ErrInvalidInput)
	}
	if r.defaultRegistry != "" && !namesRegistry(s) {
		s = r.defaultRegistry + "/" + s
	}
	parsed, err := ref.New(s)
	if err != nil {
		return ref.Ref{}, fmt.Errorf("reference %q is not REGISTRY/REPOSITORY[:TAG|@DIGEST] (names are lower case; tags are at most 128 of A-Z a-z 0-9 . _ -)%.0w", s, ErrInvalidInput)
	}
	if parsed.Scheme != "reg" {
		return ref.Ref{}, fmt.Errorf("reference %q is not a registry reference%.0w", s, ErrInvalidInput)
	}
	return parsed, nil
}

// namesRegistry reports whether a reference starts with a registry host, by
// docker's rule: the first component has a dot or a port, or is localhost.
func namesRegistry(s string) bool {
	first, _, ok := strings.Cut(s, "/")
	return ok && (strings.ContainsAny(first, ".:") || first == "localhost")
}

// Close releases the registry client's resources (idle connections are
// closed by the garbage collector; Close is here for symmetry and future
// use).
func (r *Registry) Close() error { return nil }

// Sentinel errors of registry operations; test for them with errors.Is.
// The cairn command turns each into its own exit code.
var (
	// ErrInvalidInput: a bad reference, flag, file or directory.
	ErrInvalidInput = errors.New("invalid input")
	// ErrNotFound: the registry has no such repository, tag, manifest or blob.
	ErrNotFound = errors.New("not found")
	// ErrDenied: the registry refused the credentials, or gave none the right.
	ErrDenied = errors.New("access denied")
	// ErrUnreachable: the registry did not answer.
	ErrUnreachable = errors.New("registry unreachable")
	// ErrRequirement: the content's annotations do not match what was required.
	ErrRequirement = errors.New("requirement not met")
)

// RegistryError is a failed registry operation: what was being done, to
// which reference, and what to try.
type RegistryError struct {
	Op   string // "push", "pull", …
	Ref  string
	Kind error // one of the sentinel errors above, or nil
	Msg  string
	Hint string
	Err  error
}

func (e *RegistryError) Error() string {
	var b strings.Builder
	b.WriteString(e.Op)
	if e.Ref != "" {
		b.WriteString(" " + e.Ref)
	}
	b.WriteString(": " + e.Msg)
	if e.Hint != "" {
		b.WriteString("; " + e.Hint)
	}
	return oneLine(b.String())
}

// Unwrap exposes both the sentinel kind and the cause.
func (e *RegistryError) Unwrap() []error {
	var out []error
	if e.Kind != nil {
		out = append(out, e.Kind)
	}
	if e.Err != nil {
		out = append(out, e.Err)
	}
	return out
}

// oneLine keeps an error message on one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ")), " ")
}

// registryFailure turns a regclient error into a RegistryError saying what
// failed and what to try. what names the object ("manifest", "blob
// sha256:…"); errors that are already RegistryErrors pass unchanged.
func registryFailure(op string, r ref.Ref, what string, err error) error {
	if err == nil {
		return nil
	}
	var re *RegistryError
	if errors.As(err, &re) {
		return err
	}
	e := &RegistryError{Op: op, Ref: r.CommonName(), Err: err}
	host := r.Registry
	var dnsErr *net.DNSError
	var opErr *net.OpError
	var urlErr *url.Error
	switch {
	case errors.Is(err, context.Canceled):
		e.Msg = "interrupted"
		e.Kind = context.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		e.Msg = "timed out"
		e.Kind = context.DeadlineExceeded
	case errors.Is(err, ErrInvalidInput), errors.Is(err, ErrRequirement), errors.Is(err, ErrNotFound):
		e.Msg = err.Error()
	case errors.Is(err, ErrDigestMismatch):
		e.Msg = err.Error()
		e.Hint = "nothing was moved into place; retry, and report the registry if it persists"
	case errors.Is(err, errs.ErrDigestMismatch), errors.Is(err, errs.ErrShortRead), errors.Is(err, errs.ErrSizeLimitExceeded), errors.Is(err, errs.ErrMismatch):
		e.Kind = ErrDigestMismatch
		e.Msg = fmt.Sprintf("the registry served %s with the wrong content (%s)", what, strings.TrimSuffix(rootCause(err).Error(), ": EOF"))
		e.Hint = "nothing was moved into place; retry, and report the registry if it persists"
	case errors.Is(err, errs.ErrHTTPUnauthorized) && strings.Contains(err.Error(), "[http 403]") && registryMessage(err) != "":
		// Refused for a reason the registry gives (cairn refuses to delete
		// what others depend on): its words, not a guess about credentials.
		e.Kind = ErrDenied
		e.Msg = fmt.Sprintf("%s refused: %s", host, registryMessage(err))
	case errors.Is(err, errs.ErrHTTPUnauthorized):
		e.Kind = ErrDenied
		e.Msg = fmt.Sprintf("%s refused access to %s", host, what)
		e.Hint = "check --username/--password or --token (or CAIRN_USERNAME, CAIRN_PASSWORD, CAIRN_TOKEN, docker login)"
	case errors.Is(err, errs.ErrNotFound):
		e.Kind = ErrNotFound
		e.Msg = fmt.Sprintf("%s not found", what)
		e.Hint = fmt.Sprintf("check the name and tag (cairn ls %s/%s lists the tags)", host, r.Repository)
	case strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		e.Kind = ErrUnreachable
		e.Msg = fmt.Sprintf("%s speaks plain HTTP, not HTTPS", host)
		e.Hint = "add --plain-http (or list the host in CAIRN_PLAIN_HTTP)"
	case errors.As(err, &dnsErr):
		e.Kind = ErrUnreachable
		e.Msg = fmt.Sprintf("cannot resolve the registry host %s", host)
		e.Hint = "check the reference's registry name"
	case errors.Is(err, errs.ErrBackoffLimit), errors.Is(err, errs.ErrRetryLimitExceeded):
		// Answers that were not what regclient expects (a length that
		// disagrees with the manifest, repeated 5xx): it retried and gave up.
		e.Msg = fmt.Sprintf("the registry at %s kept failing on %s (%v)", host, what, rootCause(err))
		e.Hint = "retry later; CAIRN_DEBUG=1 logs every request"
	case errors.As(err, &opErr), errors.As(err, &urlErr):
		e.Kind = ErrUnreachable
		e.Msg = fmt.Sprintf("cannot reach the registry at %s (%v)", host, rootCause(err))
		e.Hint = "is it running? for a registry without TLS add --plain-http"
	case errors.Is(err, errs.ErrHTTPStatus):
		e.Msg = fmt.Sprintf("the registry at %s failed on %s (%v)", host, what, rootCause(err))
		e.Hint = "retry; if it persists, check the registry's log"
	default:
		e.Msg = err.Error()
	}
	return e
}

// rootCause returns the innermost error of a chain of single wraps, which
// is where regclient and net keep the short reason.
func rootCause(err error) error {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err
		}
		err = next
	}
}

// registryMessage returns the message of the first error in the
// distribution spec's JSON error body, which regclient keeps in the text of
// its error, or "".
func registryMessage(err error) string {
	text := err.Error()
	i := strings.Index(text, `{"errors"`)
	if i < 0 {
		return ""
	}
	var body struct {
		Errors []struct {
			Message string `json:"message"`
		} `json:"errors"`
	}
	if json.NewDecoder(strings.NewReader(text[i:])).Decode(&body) != nil || len(body.Errors) == 0 {
		return ""
	}
	return body.Errors[0].Message
}
