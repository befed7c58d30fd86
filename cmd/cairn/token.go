package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/cairn-dev/cairn/auth"
	"github.com/cairn-dev/cairn/catalog"
	"github.com/cairn-dev/cairn/client"
)

// newTokenCmd manages API tokens in the catalog a server uses. It opens
// the catalog as cairn serve does (same flags, environment and file).
func newTokenCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Issue, list and revoke API tokens",
		Long: `Manage the API tokens of the catalog cairn serve uses (give the same
--config, --catalog or --data-dir). A token's secret is printed once, when it
is issued; the catalog keeps only its SHA-256 hash.

Tokens take effect when cairn serve runs with --auth: clients log in with a
token's secret as the password, or exchange it for bearer tokens at
/auth/token.`,
	}
	cmd.AddCommand(newTokenIssueCmd(), newTokenListCmd(), newTokenRevokeCmd())
	return cmd
}

// withCatalog runs fn with the catalog the serve settings of cmd name.
func withCatalog(cmd *cobra.Command, fv *flagValues, fn func(catalog.Store) error) error {
	store, err := openCatalog(cmd, fv)
	if err != nil {
		return err
	}
	defer store.Close()
	return fn(store)
}

// openCatalog opens the catalog the serve settings of cmd name.
func openCatalog(cmd *cobra.Command, fv *flagValues) (catalog.Store, error) {
	cfg, err := fv.load(cmd.Flags())
	if err != nil {
		return nil, err
	}
	// Tokens may be issued before the server first starts.
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	store, _, err := openStore(cmd.Context(), cfg.CatalogDSN(), false, false, false)
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	return store, nil
}

func newTokenIssueCmd() *cobra.Command {
	var (
		scopes  []string
		expires string
	)
	cmd := &cobra.Command{
		Use:   "issue USER",
		Short: "Issue a token for USER and print its secret, once",
		Example: `  cairn token issue pipeline --scope datasets/:pull,push --expires 90d
  cairn token issue ana --scope :admin`,
		Args: usageArgs(cobra.ExactArgs(1)),
	}
	fv := addServeFlags(cmd)
	cmd.Flags().StringArrayVar(&scopes, "scope", nil, "PREFIX:ACTIONS the token grants, actions from pull, push, delete, admin (repeatable; ':pull' is every repository)")
	cmd.Flags().StringVar(&expires, "expires", "90d", "lifetime: days (90d) or a duration (12h); 0 never expires")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		var ss auth.Scopes
		for _, s := range scopes {
			sc, err := auth.ParseScope(s)
			if err != nil {
				return usageError{err}
			}
			ss = append(ss, sc)
		}
		ttl, err := auth.ParseTTL(expires)
		if err != nil {
			return usageError{err}
		}
		secret, tok, err := auth.NewToken(args[0], ss, time.Now(), ttl)
		if err != nil {
			return usageError{err}
		}
		err = withCatalog(cmd, fv, func(store catalog.Store) error {
			return store.CreateToken(cmd.Context(), catalog.Token{ID: tok.ID, User: tok.User, Scopes: tok.Scopes.String(), Hash: tok.Hash, CreatedAt: tok.CreatedAt, ExpiresAt: tok.ExpiresAt})
		})
		if err != nil {
			return err
		}
		out := cmd.OutOrStdout()
		fmt.Fprintln(out, secret)
		exp := "never"
		if !tok.ExpiresAt.IsZero() {
			exp = tok.ExpiresAt.Format(time.RFC3339)
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "token %s for %s (%s), expires %s; the secret above is not shown again\n", tok.ID, tok.User, tok.Scopes, exp)
		return nil
	}
	return cmd
}

func newTokenListCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the tokens (never their secrets)",
		Args:  usageArgs(cobra.NoArgs),
	}
	fv := addServeFlags(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		var ts []catalog.Token
		err := withCatalog(cmd, fv, func(store catalog.Store) (err error) {
			ts, err = store.Tokens(cmd.Context())
			return err
		})
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tUSER\tSCOPES\tCREATED\tLAST USED\tEXPIRES\tSTATE")
		when := func(t time.Time, none string) string {
			if t.IsZero() {
				return none
			}
			return t.Format(time.RFC3339)
		}
		for _, t := range ts {
			state := "active"
			if err := (auth.Token{ExpiresAt: t.ExpiresAt, RevokedAt: t.RevokedAt}).Usable(time.Now()); err != nil {
				state = strings.TrimPrefix(err.Error(), "the token ")
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.User, t.Scopes, when(t.CreatedAt, "-"), when(t.LastUsedAt, "never"), when(t.ExpiresAt, "never"), state)
		}
		return tw.Flush()
	}
	return cmd
}

func newTokenRevokeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a token; it fails from its next request on",
		Args:  usageArgs(cobra.ExactArgs(1)),
	}
	fv := addServeFlags(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		err := withCatalog(cmd, fv, func(store catalog.Store) error {
			return store.RevokeToken(cmd.Context(), args[0], time.Now())
		})
		if errors.Is(err, catalog.ErrNotFound) {
			return fmt.Errorf("no token has id %q; cairn token list shows them%.0w", args[0], client.ErrNotFound)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "revoked %s\n", args[0])
		return nil
	}
	return cmd
}
