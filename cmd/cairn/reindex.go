package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/cairn-dev/cairn/backend"
	"github.com/cairn-dev/cairn/catalog"
	"github.com/cairn-dev/cairn/facade"
)

func newReindexCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "reindex [REPOSITORY…]",
		Short: "Rebuild the catalog from the engine's storage",
		Long: `Rebuild the catalog from what the engine holds, for the named repositories
or for all of them: the embedded engine's storage, or a walk of the upstream's
API (its catalog, tags, index children and referrers; a manifest neither
tagged nor referred to is not reachable that way). The engine is the truth:
catalog entries it lacks are removed. Safe to run while cairn serve runs.`,
	}
	fv := addServeFlags(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		cfg, err := fv.load(cmd.Flags())
		if err != nil {
			return err
		}
		log, err := newLogger(cfg.Log)
		if err != nil {
			return err
		}
		ctx := cmd.Context()
		store, _, err := openStore(ctx, cfg.CatalogDSN(), false, false, false)
		if err != nil {
			return fmt.Errorf("catalog: %w", err)
		}
		defer store.Close()
		engine, err := openEngine(ctx, log, cfg)
		if err != nil {
			return err
		}
		defer engine.Close()
		w, ok := engine.(backend.Walker)
		if !ok {
			return errors.New("this engine's content cannot be walked")
		}
		start := time.Now()
		res, err := catalog.Reindex(ctx, log.WithOptions(zap.IncreaseLevel(zap.WarnLevel)), store, w, args)
		if err != nil {
			return err
		}
		cmd.Printf("reindexed %d repositories, %d manifests (%d skipped) in %s\n", res.Repositories, res.Manifests, res.Skipped, time.Since(start).Round(time.Millisecond))
		// Signature records follow the manifests they verify.
		trust, err := loadTrust(cfg.Trust)
		if err != nil {
			return err
		}
		srv, err := facade.New(log, engine, store, facade.WithTrust(trust))
		if err != nil {
			return err
		}
		return srv.SyncTrust(ctx, true)
	}
	return cmd
}
