package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/cairn-dev/cairn/config"
)

// setting ties a flag to its environment variable and its place in the
// configuration, so that precedence (flag > environment > file > default)
// is applied in one loop.
type setting struct {
	flag  string
	usage string
	str   *string
	dur   *time.Duration
	bool  *bool
}

func (s setting) env() string {
	return "CAIRN_" + strings.ToUpper(strings.ReplaceAll(s.flag, "-", "_"))
}

// serveSettings are the flags of cairn serve and reindex.
func serveSettings(c *config.Config) []setting {
	return []setting{
		{flag: "addr", usage: "listen address", str: &c.Addr},
		{flag: "data-dir", usage: "data directory: embedded storage, upload secret, SQLite catalog", str: &c.DataDir},
		{flag: "catalog", usage: "catalog DSN: a SQLite file (default DATA_DIR/catalog.db) or postgres://…", str: &c.Catalog},
		{flag: "catalog-memory-index", usage: "keep an in-memory index of a SQLite catalog for the catalog API's queries (about 1 KB an artifact)", bool: &c.CatalogMemoryIndex},
		{flag: "upstream", usage: "URL of a registry to front instead of the embedded engine, e.g. http://zot:5000", str: &c.Upstream.URL},
		{flag: "upstream-username", usage: "username cairn sends to the upstream", str: &c.Upstream.Username},
		{flag: "upstream-password", usage: "password cairn sends to the upstream (prefer CAIRN_UPSTREAM_PASSWORD)", str: &c.Upstream.Password},
		{flag: "upstream-ca-file", usage: "PEM file of CAs to trust for the upstream", str: &c.Upstream.TLS.CAFile},
		{flag: "upstream-cert-file", usage: "client certificate for the upstream", str: &c.Upstream.TLS.CertFile},
		{flag: "upstream-key-file", usage: "client key for the upstream", str: &c.Upstream.TLS.KeyFile},
		{flag: "upstream-insecure-skip-verify", usage: "do not verify the upstream's TLS certificate", bool: &c.Upstream.TLS.InsecureSkipVerify},
		{flag: "upstream-timeout", usage: "how long to wait for the upstream's response headers", dur: &c.Upstream.Timeout},
		{flag: "log-level", usage: "debug, info, warn or error", str: &c.Log.Level},
		{flag: "log-format", usage: "console or json", str: &c.Log.Format},
		{flag: "shutdown-timeout", usage: "how long in-flight requests may finish after SIGTERM", dur: &c.ShutdownTimeout},
		{flag: "reconcile-interval", usage: "upstream mode: how often to walk the upstream and reconcile the catalog with it (0: at start only)", dur: &c.ReconcileInterval},
		{flag: "allow-delete-with-dependents", usage: "allow deleting a manifest that other artifacts were derived from or are attached to", bool: &c.AllowDeleteWithDependents},
		{flag: "auth", usage: "turn access control on: tokens for every push, and for pulls outside auth.public", bool: &c.Auth.Enabled},
		{flag: "repair-interval", usage: "how often repositories the catalog missed (catalog down during a push) are reindexed", dur: &c.RepairInterval},
	}
}

// flagValues holds the parsed flags until precedence is applied.
type flagValues struct {
	configFile string
	strs       map[string]*string
	durs       map[string]*time.Duration
	bools      map[string]*bool
}

func addServeFlags(cmd *cobra.Command) *flagValues {
	def := config.Default()
	fv := &flagValues{strs: map[string]*string{}, durs: map[string]*time.Duration{}, bools: map[string]*bool{}}
	fs := cmd.Flags()
	fs.StringVar(&fv.configFile, "config", "", "YAML configuration file (env CAIRN_CONFIG)")
	for _, s := range serveSettings(&def) {
		usage := fmt.Sprintf("%s (env %s)", s.usage, s.env())
		switch {
		case s.str != nil:
			fv.strs[s.flag] = fs.String(s.flag, *s.str, usage)
		case s.dur != nil:
			fv.durs[s.flag] = fs.Duration(s.flag, *s.dur, usage)
		case s.bool != nil:
			fv.bools[s.flag] = fs.Bool(s.flag, *s.bool, usage)
		}
	}
	return fv
}

// load builds the configuration: defaults, then the file, then the
// environment, then the flags given on the command line.
func (fv *flagValues) load(fs *pflag.FlagSet) (config.Config, error) {
	c := config.Default()
	file := fv.configFile
	if !fs.Changed("config") {
		file = os.Getenv("CAIRN_CONFIG")
	}
	if file != "" {
		if err := c.LoadFile(file); err != nil {
			return c, err
		}
	}
	for _, s := range serveSettings(&c) {
		if !fs.Changed(s.flag) {
			if v, ok := os.LookupEnv(s.env()); ok {
				if err := s.set(v); err != nil {
					return c, fmt.Errorf("%s: %w", s.env(), err)
				}
			}
			continue
		}
		switch {
		case s.str != nil:
			*s.str = *fv.strs[s.flag]
		case s.dur != nil:
			*s.dur = *fv.durs[s.flag]
		case s.bool != nil:
			*s.bool = *fv.bools[s.flag]
		}
	}
	return c, c.Validate()
}

func (s setting) set(v string) error {
	switch {
	case s.str != nil:
		*s.str = v
	case s.dur != nil:
		d, err := time.ParseDuration(v)
		if err != nil {
			return err
		}
		*s.dur = d
	case s.bool != nil:
		b, err := strconv.ParseBool(v)
		if err != nil {
			return err
		}
		*s.bool = b
	}
	return nil
}
