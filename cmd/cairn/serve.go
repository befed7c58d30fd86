package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/cairn-dev/cairn/auth"
	"github.com/cairn-dev/cairn/backend"
	"github.com/cairn-dev/cairn/backend/embedded"
	"github.com/cairn-dev/cairn/backend/upstream"
	"github.com/cairn-dev/cairn/catalog"
	"github.com/cairn-dev/cairn/catalog/postgres"
	"github.com/cairn-dev/cairn/catalog/sqlite"
	"github.com/cairn-dev/cairn/config"
	"github.com/cairn-dev/cairn/facade"
	"github.com/cairn-dev/cairn/registry"
	"github.com/cairn-dev/cairn/signing"
)

func newServeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the OCI registry API and the catalog",
		Long: `Serve the OCI distribution API on --addr, backed by the embedded engine
(storage under --data-dir) or by --upstream, indexing every manifest into the
catalog. Settings come from flags, CAIRN_* variables and --config, in that
order of precedence.`,
		Args: cobra.NoArgs,
	}
	fv := addServeFlags(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		cfg, err := fv.load(cmd.Flags())
		if err != nil {
			return err
		}
		return serve(cmd.Context(), cfg)
	}
	return cmd
}

func newLogger(c config.Log) (*zap.Logger, error) {
	lvl, err := zapcore.ParseLevel(c.Level)
	if err != nil {
		return nil, err
	}
	zc := zap.NewProductionConfig()
	if c.Format == "console" {
		zc = zap.NewDevelopmentConfig()
		zc.Development = false
		zc.DisableStacktrace = true
		zc.EncoderConfig.EncodeLevel = zapcore.CapitalLevelEncoder
	}
	zc.Level = zap.NewAtomicLevelAt(lvl)
	zc.Sampling = nil
	return zc.Build()
}

// openStore opens the catalog store a DSN names. Serving, SQLite keeps
// its in-memory index for the catalog API's queries when memoryIndex
// asks, or else trims the change log nothing replays; skipMarkSync: see
// sqlite.SkipMarkSync.
func openStore(ctx context.Context, dsn string, serving, memoryIndex, skipMarkSync bool) (catalog.Store, string, error) {
	if config.IsPostgres(dsn) {
		st, err := postgres.Open(ctx, dsn)
		return st, "postgres", err
	}
	path := strings.TrimPrefix(dsn, "sqlite://")
	var opts []sqlite.Option
	switch {
	case memoryIndex:
		opts = append(opts, sqlite.InMemoryIndex())
	case serving:
		opts = append(opts, sqlite.TrimChangeLog())
	}
	if skipMarkSync {
		opts = append(opts, sqlite.SkipMarkSync())
	}
	st, err := sqlite.Open(ctx, path, opts...)
	return st, "sqlite", err
}

// openEngine starts the engine the configuration names.
func openEngine(ctx context.Context, log *zap.Logger, cfg config.Config) (backend.Backend, error) {
	if cfg.Upstream.URL != "" {
		return upstream.New(log.Named("upstream"), upstream.Config{
			URL:                cfg.Upstream.URL,
			Username:           cfg.Upstream.Username,
			Password:           cfg.Upstream.Password,
			CAFile:             cfg.Upstream.TLS.CAFile,
			CertFile:           cfg.Upstream.TLS.CertFile,
			KeyFile:            cfg.Upstream.TLS.KeyFile,
			InsecureSkipVerify: cfg.Upstream.TLS.InsecureSkipVerify,
			Timeout:            cfg.Upstream.Timeout,
		})
	}
	return embedded.New(ctx, log, embedded.Config{DataDir: cfg.DataDir, Storage: cfg.Storage})
}

// marksNeedNoSync reports whether an SQLite catalog's pending marks are
// made durable, or made unnecessary, by the engine: a reconciled engine
// is walked at every start; an engine that syncs its storage's filesystem
// before answering covers the catalog file when it is on that filesystem
// (the embedded engine's default: both in the data directory).
func marksNeedNoSync(engine backend.Backend, dsn string) bool {
	if engine.Reconciled() {
		return true
	}
	fs, ok := engine.(backend.FilesystemSyncer)
	return ok && !config.IsPostgres(dsn) && fs.SyncCovers(filepath.Dir(strings.TrimPrefix(dsn, "sqlite://")))
}

func serve(ctx context.Context, cfg config.Config) error {
	log, err := newLogger(cfg.Log)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()

	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	engine, err := openEngine(ctx, log, cfg)
	if err != nil {
		return err
	}
	defer engine.Close()
	store, storeKind, err := openStore(ctx, cfg.CatalogDSN(), true, cfg.CatalogMemoryIndex, marksNeedNoSync(engine, cfg.CatalogDSN()))
	if err != nil {
		return fmt.Errorf("catalog: %w", err)
	}
	defer store.Close()

	trust, err := loadTrust(cfg.Trust)
	if err != nil {
		return err
	}
	coreOpts := []registry.Option{registry.WithTrust(trust), registry.WithDeleteProtection(!cfg.AllowDeleteWithDependents),
		registry.WithRepairJournal(filepath.Join(cfg.DataDir, "catalog-repairs"))}
	var opts []facade.Option
	if cfg.Auth.Enabled {
		key, err := auth.LoadOrCreateKey(cfg.Auth.SigningKey)
		if err != nil {
			return err
		}
		var rules []registry.RepositoryRule
		for _, p := range cfg.Auth.Public {
			rules = append(rules, registry.RepositoryRule{Prefix: p, Public: true})
		}
		for _, p := range cfg.Auth.Prefixes {
			rules = append(rules, registry.RepositoryRule{Prefix: p.Prefix, Public: p.Visibility == "public", Staging: p.Staging})
		}
		coreOpts = append(coreOpts, registry.WithPolicy(&registry.AccessPolicy{Rules: rules}))
		opts = append(opts, facade.WithAuthenticator(&facade.Authenticator{
			Issuer:   auth.NewIssuer(key, "cairn", cfg.Auth.Service, cfg.Auth.TokenTTL),
			Realm:    cfg.Auth.Realm,
			Service:  cfg.Auth.Service,
			TokenTTL: cfg.Auth.TokenTTL,
		}))
		log.Info("access control on", zap.String("realm", cfg.Auth.Realm), zap.Strings("public", cfg.Auth.Public), zap.Any("prefixes", cfg.Auth.Prefixes))
	}
	opts = append(opts, facade.WithVersion(facade.VersionInfo{Version: version, Revision: revision, Catalog: storeKind}))
	resyncSignatures := false
	w, walkable := engine.(backend.Walker)
	if engine.Reconciled() && !walkable {
		return fmt.Errorf("the %s engine is written to behind cairn's back but cannot be walked to keep the catalog in step", engine.Name())
	}
	if walkable && !engine.Reconciled() { // a reconciled engine's walk below covers it
		start := time.Now()
		res, err := catalog.ReindexIfBehind(ctx, log, store, w)
		if err != nil {
			// Serving goes on: the engine has the bytes; reindex can run later.
			log.Error("catalog repair at start failed; run cairn reindex", zap.Error(err))
		} else if res.Repositories > 0 {
			log.Info("catalog repaired", zap.Int("repositories", res.Repositories), zap.Int("manifests", res.Manifests), zap.Duration("took", time.Since(start)))
			resyncSignatures = true
		}
	}

	core, err := registry.New(log, engine, store, coreOpts...)
	if err != nil {
		return err
	}
	srv, err := facade.New(log, core, engine, store, opts...)
	if err != nil {
		return err
	}
	// Before serving: a key removed from the trust policy must stop
	// counting before any require_signature check relies on it.
	if err := core.SyncTrust(ctx, resyncSignatures); err != nil {
		log.Error("signature records not recomputed; they may reflect an earlier trust policy", zap.Error(err))
	}
	repairCtx, stopRepairs := context.WithCancel(ctx)
	defer stopRepairs()
	go core.RunRepairs(repairCtx, cfg.RepairInterval)
	if engine.Reconciled() {
		// Pushes may reach the engine without passing through cairn.
		go reconcile(repairCtx, log, core, cfg.ReconcileInterval)
	}

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	hs := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          zap.NewStdLog(log.Named("http")),
	}
	log.Info("cairn serving",
		zap.String("addr", "http://"+ln.Addr().String()),
		zap.String("engine", engine.Name()),
		zap.String("data_dir", cfg.DataDir),
		zap.String("catalog", storeKind),
		zap.String("version", version))

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case sig := <-sigs:
		log.Info("shutting down: finishing in-flight requests", zap.String("signal", sig.String()), zap.Duration("timeout", cfg.ShutdownTimeout))
	}
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		log.Warn("shutdown timed out; closing open connections", zap.Error(err))
		_ = hs.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("stopped")
	return nil
}

// reconcile walks the upstream and makes the catalog match it, at start
// and then every interval (never again when interval is 0).
func reconcile(ctx context.Context, log *zap.Logger, core *registry.Registry, interval time.Duration) {
	for {
		start := time.Now()
		res, err := core.Reindex(ctx, nil)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			log.Warn("reconciling the catalog with the upstream failed; will retry", zap.Error(err))
		} else {
			log.Info("catalog reconciled with the upstream", zap.Int("repositories", res.Repositories), zap.Int("manifests", res.Manifests), zap.Duration("took", time.Since(start)))
			// Signatures pushed straight to the upstream are verified here.
			if err := core.RefreshSignatures(ctx, ""); err != nil {
				log.Warn("signature records not recomputed after reconciling", zap.Error(err))
			}
		}
		if interval == 0 {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}

// loadTrust reads the trust policy's key files.
func loadTrust(rules []config.TrustRule) (*signing.Trust, error) {
	var out []signing.PrefixTrust
	for _, r := range rules {
		rule := signing.PrefixTrust{Prefix: r.Prefix, RequireSignature: r.RequireSignature}
		for _, path := range r.Keys {
			k, err := signing.LoadPublicKey(path)
			if err != nil {
				return nil, fmt.Errorf("trust (prefix %q): %w", r.Prefix, err)
			}
			rule.Keys = append(rule.Keys, k)
		}
		out = append(out, rule)
	}
	return signing.NewTrust(out)
}
