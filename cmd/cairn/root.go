package main

import (
	"github.com/spf13/cobra"
)

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "cairn",
		Short:         "cairn is an OCI v1.1 registry façade for models and data",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newServeCmd(), newReindexCmd(), newVersionCmd())
	root.AddCommand(newSearchCmd(), newResolveCmd(), newLineageCmd(), newPromoteCmd())
	root.AddCommand(newPushCmd(), newPullCmd(), newInspectCmd(), newLsCmd(), newTagCmd(), newCopyCmd(), newDeleteCmd())
	root.AddCommand(newKeygenCmd(), newSignCmd(), newVerifyCmd(), newTokenCmd())
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	return root
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print cairn's version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cmd.Printf("cairn %s %s\n", version, revision)
			return nil
		},
	}
}
