// Package config holds cairn serve's settings: their defaults (Default),
// the YAML file they are read from (LoadFile, unknown keys refused) and
// their checks (Validate). The CAIRN_* environment variables and flags
// that take precedence over the file are laid over it by cmd/cairn
// (flag > environment > file > default).
package config

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is everything cairn serve reads at start.
type Config struct {
	// Addr is the listen address.
	Addr string `yaml:"addr"`
	// DataDir holds the embedded engine's storage, the upload secret and the
	// default SQLite catalog.
	DataDir string `yaml:"data_dir"`
	// Catalog is the catalog store's DSN: a SQLite file path (or
	// sqlite://PATH), or postgres://…; empty means DataDir/catalog.db.
	Catalog string `yaml:"catalog"`
	// CatalogMemoryIndex keeps an in-memory index of a SQLite catalog for
	// the catalog API's queries (catalog/postings: about 1 KB an artifact
	// of eight annotations); off, SQL answers them, slower at scale.
	// PostgreSQL plans its own queries and ignores it.
	CatalogMemoryIndex bool `yaml:"catalog_memory_index"`
	// Upstream, when its URL is set, makes cairn a façade over that registry
	// instead of the embedded engine.
	Upstream Upstream `yaml:"upstream"`
	// Storage is the embedded engine's storage section, in the distribution
	// library's form: one driver name with its parameters.
	Storage map[string]map[string]any `yaml:"storage"`
	Log     Log                       `yaml:"log"`
	// ShutdownTimeout bounds how long in-flight requests may finish after
	// SIGTERM.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// RepairInterval is how often repositories whose catalog entries fell
	// behind the engine (catalog down during a push) are reindexed.
	RepairInterval time.Duration `yaml:"repair_interval"`
	// ReconcileInterval is how often, in upstream mode, the catalog is
	// reconciled with a walk of the upstream (pushes may bypass cairn);
	// 0 walks only at start.
	ReconcileInterval time.Duration `yaml:"reconcile_interval"`
	// AllowDeleteWithDependents lets a manifest be deleted although other
	// artifacts were derived from it or are attached to it (they are left
	// pointing at nothing); by default such deletes are refused.
	AllowDeleteWithDependents bool `yaml:"allow_delete_with_dependents"`
	// Trust lists the keys cosign signatures are verified with, by
	// repository prefix; the longest prefix a repository starts with
	// decides.
	Trust []TrustRule `yaml:"trust"`
	// Auth is access control; off unless Enabled.
	Auth Auth `yaml:"auth"`
}

// Auth configures access control.
type Auth struct {
	Enabled bool `yaml:"enabled"`
	// Realm is the URL clients fetch bearer tokens from; by default
	// http://ADDR/auth/token when ADDR names a host.
	Realm string `yaml:"realm"`
	// Service names this registry in tokens (their audience).
	Service string `yaml:"service"`
	// TokenTTL is how long a bearer token of the token flow lasts.
	TokenTTL time.Duration `yaml:"token_ttl"`
	// SigningKey is the PEM P-256 key bearer tokens are signed with,
	// created on first start; default DATA_DIR/token-signing.key.
	SigningKey string `yaml:"signing_key"`
	// Public lists repository prefixes anyone may pull without a token
	// (short for prefixes with visibility public).
	Public []string `yaml:"public"`
	// Prefixes set the visibility of repositories by prefix (the longest
	// that matches wins) and whether new pushes there start staged.
	Prefixes []PrefixRule `yaml:"prefixes"`
}

// PrefixRule is the access policy of the repositories under one prefix.
type PrefixRule struct {
	// Prefix selects repositories by the start of their names; "" is all.
	Prefix string `yaml:"prefix"`
	// Visibility of what is pushed there: "public" (anyone may pull) or
	// "private" (the default: tokens that may pull).
	Visibility string `yaml:"visibility"`
	// Staging makes every new push staged: seen by its owner and admins
	// only until promoted.
	Staging bool `yaml:"staging"`
}

// TrustRule is the trust policy of the repositories under one prefix.
type TrustRule struct {
	// Prefix selects repositories by the start of their names; "" is all.
	Prefix string `yaml:"prefix"`
	// Keys are PEM public key files (cosign.pub).
	Keys []string `yaml:"keys"`
	// RequireSignature refuses to serve manifests (GET) without a verified
	// signature from one of Keys.
	RequireSignature bool `yaml:"require_signature"`
}

// Upstream is the registry cairn fronts in upstream mode.
type Upstream struct {
	URL      string `yaml:"url"`
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	TLS      TLS    `yaml:"tls"`
	// Timeout bounds waiting for the upstream's response headers.
	Timeout time.Duration `yaml:"timeout"`
}

// TLS configures the connection to the upstream.
type TLS struct {
	CAFile             string `yaml:"ca_file"`
	CertFile           string `yaml:"cert_file"`
	KeyFile            string `yaml:"key_file"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
}

// Log configures logging.
type Log struct {
	Level  string `yaml:"level"`
	Format string `yaml:"format"`
}

// Default is the configuration of a plain `cairn serve`.
func Default() Config {
	return Config{
		Addr:               "127.0.0.1:5000",
		DataDir:            "./data",
		CatalogMemoryIndex: true,
		Log:                Log{Level: "info", Format: "console"},
		ShutdownTimeout:    30 * time.Second,
		RepairInterval:     30 * time.Second,
		ReconcileInterval:  10 * time.Minute,
		Upstream:           Upstream{Timeout: 60 * time.Second},
		Auth:               Auth{Service: "cairn", TokenTTL: 5 * time.Minute},
	}
}

// LoadFile reads a YAML file over c. Unknown keys are errors, so a misspelt
// setting is not silently ignored.
func (c *Config) LoadFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	dec.KnownFields(true)
	// An empty file is an empty configuration.
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	return nil
}

// Validate checks the settings and fills what follows from others.
func (c *Config) Validate() error {
	var errs []error
	if c.Addr == "" {
		errs = append(errs, errors.New("addr is empty; give host:port, e.g. 127.0.0.1:5000"))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("data_dir is empty"))
	}
	if c.Upstream.URL != "" {
		u, err := url.Parse(c.Upstream.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("upstream %q is not an http:// or https:// URL", c.Upstream.URL))
		}
		if len(c.Storage) > 0 {
			errs = append(errs, errors.New("storage is for the embedded engine; with an upstream, the upstream keeps the bytes"))
		}
	}
	if len(c.Storage) > 1 {
		errs = append(errs, errors.New("storage names more than one driver; give exactly one"))
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log level %q: use debug, info, warn or error", c.Log.Level))
	}
	switch c.Log.Format {
	case "json", "console":
	default:
		errs = append(errs, fmt.Errorf("log format %q: use json or console", c.Log.Format))
	}
	if c.ShutdownTimeout < 0 {
		errs = append(errs, errors.New("shutdown_timeout is negative"))
	}
	if c.ReconcileInterval < 0 {
		errs = append(errs, errors.New("reconcile_interval is negative"))
	}
	for i, r := range c.Trust {
		if len(r.Keys) == 0 {
			errs = append(errs, fmt.Errorf("trust[%d] (prefix %q) names no key file under keys", i, r.Prefix))
		}
	}
	if c.Auth.Enabled {
		if c.Auth.Realm == "" {
			host, _, err := net.SplitHostPort(c.Addr)
			if ip := net.ParseIP(host); err != nil || host == "" || (ip != nil && ip.IsUnspecified()) {
				errs = append(errs, fmt.Errorf("auth: addr %q names no host clients can reach; set auth.realm to the token endpoint's URL, e.g. https://registry.example.com/auth/token", c.Addr))
			} else {
				c.Auth.Realm = "http://" + c.Addr + "/auth/token"
			}
		} else if u, err := url.Parse(c.Auth.Realm); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("auth.realm %q is not an http:// or https:// URL", c.Auth.Realm))
		}
		if c.Auth.Service == "" {
			errs = append(errs, errors.New("auth.service is empty"))
		}
		if c.Auth.TokenTTL <= 0 {
			errs = append(errs, errors.New("auth.token_ttl must be positive"))
		}
		seen := map[string]bool{}
		for _, p := range c.Auth.Prefixes {
			if p.Visibility != "" && p.Visibility != "public" && p.Visibility != "private" {
				errs = append(errs, fmt.Errorf("auth.prefixes: prefix %q has visibility %q; give public or private (staged and unlisted are per artifact)", p.Prefix, p.Visibility))
			}
			if seen[p.Prefix] {
				errs = append(errs, fmt.Errorf("auth.prefixes: prefix %q is given twice", p.Prefix))
			}
			seen[p.Prefix] = true
		}
		if c.Auth.SigningKey == "" {
			c.Auth.SigningKey = filepath.Join(c.DataDir, "token-signing.key")
		}
	}
	if c.RepairInterval <= 0 {
		errs = append(errs, errors.New("repair_interval must be positive"))
	}
	return errors.Join(errs...)
}

// CatalogDSN is the catalog DSN with the default filled in.
func (c *Config) CatalogDSN() string {
	if c.Catalog == "" {
		return filepath.Join(c.DataDir, "catalog.db")
	}
	return c.Catalog
}

// IsPostgres reports whether a DSN names PostgreSQL.
func IsPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}
