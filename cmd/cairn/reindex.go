package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/cairn-dev/cairn/registry"
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
		trust, err := loadTrust(cfg.Trust)
		if err != nil {
			return err
		}
		core, err := registry.New(log.WithOptions(zap.IncreaseLevel(zap.WarnLevel)), engine, store, registry.WithTrust(trust))
		if err != nil {
			return err
		}
		start := time.Now()
		res, err := core.Reindex(ctx, args)
		if err != nil {
			return err
		}
		cmd.Printf("reindexed %d repositories, %d manifests (%d skipped) in %s\n", res.Repositories, res.Manifests, res.Skipped, time.Since(start).Round(time.Millisecond))
		// Signature records follow the manifests they verify.
		return core.SyncTrust(ctx, true)
	}
	return cmd
}
