package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
)

func newResolveCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "resolve hash://sha256/<hex>",
		Short: "Fetch the bytes of a content id from a cairn server",
		Long: `Resolve a content id (hash://sha256/<hex>, or sha384, sha512) on a cairn
server, which redirects to a repository that holds it, and write the bytes to
standard output or to -o FILE, verifying their digest as they stream. FILE is
written through a temporary file in its directory and renamed into place only
once the digest matched; on any error FILE is left as it was.`,
		Example: `  cairn resolve hash://sha256/9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 -o abstracts.db`,
		Args:    cobra.ExactArgs(1),
	}
	server := addServerFlag(cmd)
	cmd.Flags().StringVarP(&output, "output", "o", "", "write to FILE instead of standard output")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		c, ctx, cancel, err := newClient(cmd, *server)
		if err != nil {
			return err
		}
		defer cancel()
		if output != "" && output != "-" {
			// Refuse a bad target before fetching anything.
			if err := checkTarget(output); err != nil {
				return err
			}
		}
		body, _, err := c.Resolve(ctx, args[0])
		if err != nil {
			return err
		}
		defer body.Close()
		if output == "" || output == "-" {
			_, err := io.Copy(cmd.OutOrStdout(), body)
			return err
		}
		if err := writeAtomic(output, body); err != nil {
			return fmt.Errorf("%w (%s was not written)", err, output)
		}
		return nil
	}
	return cmd
}

// checkTarget refuses a target that is not a regular file, or whose
// directory does not exist.
func checkTarget(path string) error {
	if fi, err := os.Stat(path); err == nil {
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("%s exists and is not a regular file", path)
		}
		return nil
	}
	dir := filepath.Dir(path)
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("cannot write %s: %s is not a directory", path, dir)
	}
	return nil
}

// writeAtomic writes what r yields to path: into a temporary file in the
// same directory, synced, and renamed over path only when r ended without
// error (for a verifying reader, when the digest matched). On error path is
// untouched and the temporary file removed. An existing file keeps its
// permissions; a new one gets 0644.
func writeAtomic(path string, r io.Reader) (err error) {
	mode := os.FileMode(0o644)
	if fi, err := os.Stat(path); err == nil {
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("%s exists and is not a regular file", path)
		}
		mode = fi.Mode().Perm()
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.cairn-tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	closed := false
	defer func() {
		if err != nil {
			if !closed {
				f.Close()
			}
			os.Remove(tmp)
		}
	}()
	if _, err := io.Copy(f, r); err != nil {
		return err
	}
	if err := f.Chmod(mode); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	closed = true
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	// Make the rename itself durable (best effort: the file is in place).
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
