package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "cairn.yaml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestDefaultValidates(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatalf("Default().Validate() = %v", err)
	}
	if c.Upstream.URL != "" {
		t.Errorf("default upstream = %q, want the embedded engine", c.Upstream.URL)
	}
}

func TestLoadFile(t *testing.T) {
	path := writeFile(t, `
addr: 0.0.0.0:6000
data_dir: /var/lib/cairn
catalog: postgres://cairn@db/cairn
upstream:
  url: https://zot.internal:5000
  username: cairn
  password: pw
  timeout: 5s
  tls:
    ca_file: /etc/cairn/ca.pem
    insecure_skip_verify: true
log:
  level: debug
shutdown_timeout: 1m
trust:
  - prefix: models/
    keys: [/etc/cairn/keys/team.pub, /etc/cairn/keys/ci.pub]
    require_signature: true
  - prefix: ""
    keys: [/etc/cairn/keys/ci.pub]
`)
	c := Default()
	if err := c.LoadFile(path); err != nil {
		t.Fatalf("LoadFile: %v", err)
	}
	want := Default()
	want.Addr = "0.0.0.0:6000"
	want.DataDir = "/var/lib/cairn"
	want.Catalog = "postgres://cairn@db/cairn"
	want.Upstream = Upstream{URL: "https://zot.internal:5000", Username: "cairn", Password: "pw", Timeout: 5 * time.Second,
		TLS: TLS{CAFile: "/etc/cairn/ca.pem", InsecureSkipVerify: true}}
	want.Log.Level = "debug"
	want.ShutdownTimeout = time.Minute
	if c.Addr != want.Addr || c.DataDir != want.DataDir || c.Catalog != want.Catalog ||
		c.Upstream != want.Upstream || c.Log != want.Log || c.ShutdownTimeout != want.ShutdownTimeout {
		t.Errorf("LoadFile gave\n%+v\nwant\n%+v", c, want)
	}
	wantTrust := []TrustRule{
		{Prefix: "models/", Keys: []string{"/etc/cairn/keys/team.pub", "/etc/cairn/keys/ci.pub"}, RequireSignature: true},
		{Prefix: "", Keys: []string{"/etc/cairn/keys/ci.pub"}},
	}
	if !reflect.DeepEqual(c.Trust, wantTrust) {
		t.Errorf("trust = %+v, want %+v", c.Trust, wantTrust)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

func TestLoadFileKeepsUnsetDefaults(t *testing.T) {
	c := Default()
	if err := c.LoadFile(writeFile(t, "addr: :7000\n")); err != nil {
		t.Fatal(err)
	}
	def := Default()
	if c.Addr != ":7000" || c.DataDir != def.DataDir || c.Log != def.Log ||
		c.ShutdownTimeout != def.ShutdownTimeout || c.Upstream.Timeout != def.Upstream.Timeout {
		t.Errorf("got %+v; want the defaults apart from addr", c)
	}
}

func TestLoadFileErrors(t *testing.T) {
	for _, tc := range []struct {
		name, content string
		want          []string
	}{
		{"unknown top-level key", "addr: :5000\nlisten: :6000\n", []string{"listen"}},
		{"misspelt nested key", "upstream:\n  url: http://zot\n  pasword: x\n", []string{"pasword"}},
		{"bad duration", "shutdown_timeout: soon\n", []string{"soon"}},
		{"not YAML", "addr: [\n", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, tc.content)
			c := Default()
			err := c.LoadFile(path)
			if err == nil {
				t.Fatalf("LoadFile succeeded on %q", tc.content)
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q should name the file %s", err, path)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q should mention %q", err, w)
				}
			}
		})
	}
	t.Run("missing file", func(t *testing.T) {
		c := Default()
		missing := filepath.Join(t.TempDir(), "nope.yaml")
		err := c.LoadFile(missing)
		if err == nil || !strings.Contains(err.Error(), "nope.yaml") {
			t.Fatalf("LoadFile(missing) = %v, want an error naming the file", err)
		}
	})
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		modify func(*Config)
		want   string // empty: valid
	}{
		{"default", func(*Config) {}, ""},
		{"http upstream", func(c *Config) { c.Upstream.URL = "http://zot:5000" }, ""},
		{"https upstream", func(c *Config) { c.Upstream.URL = "https://zot.example" }, ""},
		{"filesystem storage", func(c *Config) {
			c.Storage = map[string]map[string]any{"filesystem": {"rootdirectory": "/data"}}
		}, ""},
		{"log level debug", func(c *Config) { c.Log.Level = "debug" }, ""},
		{"log level warn", func(c *Config) { c.Log.Level = "warn" }, ""},
		{"log level error", func(c *Config) { c.Log.Level = "error" }, ""},
		{"json format", func(c *Config) { c.Log.Format = "json" }, ""},
		{"bad log level", func(c *Config) { c.Log.Level = "verbose" }, `log level "verbose"`},
		{"empty log level", func(c *Config) { c.Log.Level = "" }, "log level"},
		{"bad log format", func(c *Config) { c.Log.Format = "xml" }, `log format "xml"`},
		{"trust rule without keys", func(c *Config) { c.Trust = []TrustRule{{Prefix: "models/", RequireSignature: true}} }, `prefix "models/") names no key file`},
		{"ftp upstream", func(c *Config) { c.Upstream.URL = "ftp://zot" }, `upstream "ftp://zot" is not an http:// or https:// URL`},
		{"upstream without scheme", func(c *Config) { c.Upstream.URL = "zot:5000" }, `upstream "zot:5000"`},
		{"upstream without host", func(c *Config) { c.Upstream.URL = "http://" }, `upstream "http://"`},
		{"upstream with storage", func(c *Config) {
			c.Upstream.URL = "http://zot:5000"
			c.Storage = map[string]map[string]any{"filesystem": {"rootdirectory": "/data"}}
		}, "storage is for the embedded engine"},
		{"two storage drivers", func(c *Config) {
			c.Storage = map[string]map[string]any{"filesystem": {}, "s3": {"bucket": "b"}}
		}, "more than one driver"},
		{"empty addr", func(c *Config) { c.Addr = "" }, "addr is empty"},
		{"empty data dir", func(c *Config) { c.DataDir = "" }, "data_dir is empty"},
		{"negative shutdown timeout", func(c *Config) { c.ShutdownTimeout = -time.Second }, "shutdown_timeout is negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			tc.modify(&c)
			err := c.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Validate() = %v, want nil", err)
			case tc.want != "" && err == nil:
				t.Fatalf("Validate() = nil, want an error mentioning %q", tc.want)
			case tc.want != "" && !strings.Contains(err.Error(), tc.want):
				t.Fatalf("Validate() = %q, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestValidateReportsAllProblems(t *testing.T) {
	c := Default()
	c.Addr = ""
	c.Log.Level = "loud"
	c.Log.Format = "xml"
	err := c.Validate()
	if err == nil {
		t.Fatal("Validate() = nil")
	}
	for _, w := range []string{"addr is empty", `log level "loud"`, `log format "xml"`} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q should mention %q", err, w)
		}
	}
}

func TestCatalogDSN(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ dataDir, catalog, want string }{
		{dir, "", filepath.Join(dir, "catalog.db")},
		{"./data", "", filepath.Join("data", "catalog.db")},
		{dir, "/srv/cat.db", "/srv/cat.db"},
		{dir, "postgres://cairn@db/cairn", "postgres://cairn@db/cairn"},
	} {
		c := Default()
		c.DataDir, c.Catalog = tc.dataDir, tc.catalog
		if got := c.CatalogDSN(); got != tc.want {
			t.Errorf("CatalogDSN(data_dir %q, catalog %q) = %q, want %q", tc.dataDir, tc.catalog, got, tc.want)
		}
	}
}

func TestIsPostgres(t *testing.T) {
	for dsn, want := range map[string]bool{
		"postgres://cairn@db:5432/cairn?sslmode=disable": true,
		"postgresql://cairn@db/cairn":                    true,
		"data/catalog.db":                                false,
		"/var/lib/cairn/catalog.db":                      false,
		"sqlite:///var/lib/cairn/catalog.db":             false,
		"./postgres/catalog.db":                          false,
		"":                                               false,
	} {
		if got := IsPostgres(dsn); got != want {
			t.Errorf("IsPostgres(%q) = %v, want %v", dsn, got, want)
		}
	}
}
