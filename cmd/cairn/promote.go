package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

func newPromoteCmd() *cobra.Command {
	var to string
	cmd := &cobra.Command{
		Use:   "promote REPOSITORY@DIGEST|REPOSITORY:TAG --to unlisted|public",
		Short: "Make an artifact visible to more people (owner or admin only)",
		Long: `Move an artifact up the visibility ladder of a cairn server with access control
on (POST /api/v1/artifacts/…/promote): staged (its owner and admins), private
(also whoever may pull the repository), unlisted (also anyone who names its
digest), public (anyone, listed). Visibility never moves down: a lower target
is refused. The manifests of an index and the artifact's signatures and
attachments move with it. Only the artifact's owner (who pushed it) or an admin
of the repository may promote it; the token is read from CAIRN_TOKEN, or from
CAIRN_PASSWORD when that holds a cairn token.`,
		Example: `  CAIRN_TOKEN=cairn_… cairn promote datasets/abstracts@sha256:3b1c… --to public
  cairn promote datasets/abstracts:2024 --to unlisted`,
		Args: cobra.ExactArgs(1),
	}
	server := addServerFlag(cmd)
	cmd.Flags().StringVar(&to, "to", "", "private, unlisted or public (required)")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if to == "" {
			return usageError{fmt.Errorf("--to is required: private, unlisted or public")}
		}
		c, ctx, cancel, err := newClient(cmd, *server)
		if err != nil {
			return err
		}
		defer cancel()
		p, err := c.Promote(ctx, args[0], to)
		if err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "%s@%s is %s\n", p.Repository, p.Digest, p.Visibility)
		var with []string
		for _, ref := range p.Changed {
			if ref != p.Repository+"@"+p.Digest.String() {
				with = append(with, ref)
			}
		}
		if len(with) > 0 {
			fmt.Fprintf(cmd.OutOrStdout(), "moved with it: %s\n", strings.Join(with, ", "))
		}
		return nil
	}
	return cmd
}
