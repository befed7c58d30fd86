package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/cairn-dev/cairn/client"
	"github.com/cairn-dev/cairn/signing"
)

// password returns the key password: COSIGN_PASSWORD when set (empty
// included, as cosign reads it), else asked on a terminal (twice when
// confirm), else a usage error.
func password(cmd *cobra.Command, confirm bool) ([]byte, error) {
	if pw, ok := os.LookupEnv("COSIGN_PASSWORD"); ok {
		return []byte(pw), nil
	}
	fd := int(os.Stdin.Fd())
	if !isatty.IsTerminal(os.Stdin.Fd()) {
		return nil, usageError{errors.New("no password: set COSIGN_PASSWORD (empty for a key without one), or run on a terminal to be asked")}
	}
	fmt.Fprint(cmd.ErrOrStderr(), "Password for the private key: ")
	pw, err := term.ReadPassword(fd)
	fmt.Fprintln(cmd.ErrOrStderr())
	if err != nil {
		return nil, fmt.Errorf("reading the password: %w", err)
	}
	if confirm {
		fmt.Fprint(cmd.ErrOrStderr(), "Again: ")
		again, err := term.ReadPassword(fd)
		fmt.Fprintln(cmd.ErrOrStderr())
		if err != nil {
			return nil, fmt.Errorf("reading the password: %w", err)
		}
		if string(again) != string(pw) {
			return nil, usageError{errors.New("the passwords differ")}
		}
	}
	return pw, nil
}

func newKeygenCmd() *cobra.Command {
	var (
		prefix string
		force  bool
	)
	cmd := &cobra.Command{
		Use:   "keygen",
		Short: "Make a signing key pair in cosign's format",
		Long: `Write PREFIX.key (an ECDSA P-256 private key, encrypted with the password
from COSIGN_PASSWORD or asked on the terminal) and PREFIX.pub, in cosign's
format: cosign signs and verifies with them, and so does cairn. Existing
files are not overwritten unless --force.`,
		Example: `  COSIGN_PASSWORD=... cairn keygen
  cairn keygen --output-key-prefix release`,
		Args: usageArgs(cobra.NoArgs),
	}
	cmd.Flags().StringVar(&prefix, "output-key-prefix", "cosign", "write PREFIX.key and PREFIX.pub")
	cmd.Flags().BoolVar(&force, "force", false, "overwrite existing key files")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		privPath, pubPath := prefix+".key", prefix+".pub"
		if !force {
			for _, p := range []string{privPath, pubPath} {
				if _, err := os.Stat(p); err == nil {
					return usageError{fmt.Errorf("%s exists; give --force to overwrite it, or another --output-key-prefix", p)}
				}
			}
		}
		pw, err := password(cmd, true)
		if err != nil {
			return err
		}
		priv, pub, err := signing.GenerateKeyPair(pw)
		if err != nil {
			return err
		}
		if err := os.WriteFile(privPath, priv, 0o600); err != nil {
			return usageError{fmt.Errorf("writing the private key: %w", err)}
		}
		if err := os.WriteFile(pubPath, pub, 0o644); err != nil {
			return usageError{fmt.Errorf("writing the public key: %w", err)}
		}
		k, err := signing.ParsePublicKey(pub)
		if err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "Private key written to %s\nPublic key written to %s\nKey id %s\n", privPath, pubPath, k.ID)
		return nil
	}
	return cmd
}

func newSignCmd() *cobra.Command {
	var (
		keyPath string
		ann     []string
		asJSON  bool
		legacy  bool
	)
	cmd := &cobra.Command{
		Use:   "sign REF",
		Short: "Sign an artifact with a cosign key, on any OCI 1.1 registry",
		Long: `Sign the manifest REF names (a tag is resolved to its digest with HEAD) with a
private key in cosign's format, and push the signature as an OCI 1.1 referrer
of the manifest, as cosign does in its referrers mode: cosign verify
--experimental-oci11 accepts it, and cairn serve records it. --legacy-tag
adds it under cosign's legacy tag sha256-<hex>.sig too, where a plain
cosign verify looks. Nothing reaches
a transparency log. The key's password comes from COSIGN_PASSWORD or is
asked on the terminal.`,
		Example: `  cairn sign 127.0.0.1:5000/models/bert:v1 --key cosign.key
  cairn sign REG/datasets/abstracts@sha256:… --key release.key -a org.example.reviewed-by=ml-platform`,
		Args: usageArgs(cobra.ExactArgs(1)),
	}
	rf := addRegistryFlags(cmd)
	f := cmd.Flags()
	f.StringVar(&keyPath, "key", "", "private key file in cosign's format (cosign.key)")
	f.StringArrayVarP(&ann, "annotation", "a", nil, "KEY=VALUE to sign along (repeatable)")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON")
	f.BoolVar(&legacy, "legacy-tag", false, "also add the signature under cosign's legacy tag sha256-<hex>.sig, for verifiers that do not read referrers (plain cosign verify)")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if keyPath == "" {
			return usageError{errors.New("--key is required: the private key to sign with (cairn keygen makes one)")}
		}
		annotations, err := parseKV("annotation", ann)
		if err != nil {
			return err
		}
		reg, err := rf.registry(args[0])
		if err != nil {
			return err
		}
		pw, err := password(cmd, false)
		if err != nil {
			return err
		}
		signer, err := signing.LoadPrivateKey(keyPath, pw)
		if err != nil {
			return usageError{err}
		}
		ctx, cancel := commandContext(cmd)
		defer cancel()
		res, err := reg.Sign(ctx, args[0], signer, client.SignOptions{Annotations: annotations, LegacyTag: legacy})
		if err != nil {
			return err
		}
		if asJSON {
			return printJSON(cmd, res)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "Signed %s (%s) with key %s (%s)\nSignature %s\n", res.Reference, res.Digest, res.KeyID, signer.Key.Algorithm, res.Signature)
		if res.Tag != "" {
			fmt.Fprintf(cmd.OutOrStdout(), "Also under tag %s\n", res.Tag)
		}
		return nil
	}
	return cmd
}

func newVerifyCmd() *cobra.Command {
	var (
		keyPaths []string
		asJSON   bool
	)
	cmd := &cobra.Command{
		Use:   "verify REF",
		Short: "Check that an artifact carries a valid signature from a key",
		Long: `Find the cosign signatures of the manifest REF names, as OCI 1.1 referrers and
under cosign's legacy tag sha256-<hex>.sig, and check each with the public
key(s). Exit 0 only when one verifies (and names this manifest's digest);
exit 8 otherwise, saying what was found and why each failed. Offline: no
transparency log is consulted.`,
		Example: `  cairn verify 127.0.0.1:5000/models/bert:v1 --key cosign.pub`,
		Args:    usageArgs(cobra.ExactArgs(1)),
	}
	rf := addRegistryFlags(cmd)
	f := cmd.Flags()
	f.StringArrayVar(&keyPaths, "key", nil, "public key file (cosign.pub); repeatable, any one may verify")
	f.BoolVar(&asJSON, "json", false, "print every signature found as JSON")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		keys, err := loadPublicKeys("--key", keyPaths)
		if err != nil {
			return err
		}
		reg, err := rf.registry(args[0])
		if err != nil {
			return err
		}
		ctx, cancel := commandContext(cmd)
		defer cancel()
		v, err := reg.Verify(ctx, args[0], keys)
		if asJSON && v != nil {
			if werr := printJSON(cmd, v); werr != nil {
				return werr
			}
			return err
		}
		if err != nil {
			return err
		}
		out := cmd.OutOrStdout()
		for _, s := range v.Signatures {
			if !s.Verified {
				fmt.Fprintf(cmd.ErrOrStderr(), "not valid: %s (%s, layer %d): %s\n", s.Manifest, s.Form, s.Position, s.Error)
				continue
			}
			when := "time not recorded"
			if !s.SignedAt.IsZero() {
				when = s.SignedAt.Format(time.RFC3339)
			}
			fmt.Fprintf(out, "Verified %s (%s): signed by key %s (%s), %s; signature %s\n", v.Reference, v.Digest, s.KeyID, keyAlgorithm(keys, s.KeyID), when, s.Form)
		}
		return nil
	}
	return cmd
}

// loadPublicKeys reads the public key files a flag names.
func loadPublicKeys(flag string, paths []string) ([]*signing.PublicKey, error) {
	if len(paths) == 0 {
		return nil, usageError{fmt.Errorf("%s is required: the public key to verify with (cosign.pub)", flag)}
	}
	var keys []*signing.PublicKey
	for _, p := range paths {
		k, err := signing.LoadPublicKey(p)
		if err != nil {
			return nil, usageError{err}
		}
		keys = append(keys, k)
	}
	return keys, nil
}

func keyAlgorithm(keys []*signing.PublicKey, id string) string {
	for _, k := range keys {
		if k.ID == id {
			return k.Algorithm
		}
	}
	return "unknown key type"
}
