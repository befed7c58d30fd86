package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/cairn-dev/cairn/client"
)

// Exit codes of the registry commands (push, pull, inspect, ls, tag, copy,
// delete, sign, verify), documented in the README so scripts can test them.
const (
	exitFailure     = 1   // anything else
	exitUsage       = 2   // bad flags, reference, file or directory
	exitNotFound    = 3   // no such repository, tag, manifest or layer
	exitDenied      = 4   // credentials refused
	exitUnreachable = 5   // registry down, wrong host, TLS vs plain HTTP
	exitIntegrity   = 6   // a digest or size did not match
	exitRequirement = 7   // pull --require refused the content
	exitUnsigned    = 8   // verify, pull --verify-key: no valid signature
	exitInterrupted = 130 // SIGINT or SIGTERM
)

// usageError marks an error in how the command was called.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// exitCode is the process's exit code for the error a command returned.
func exitCode(err error) int {
	var usage usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, context.Canceled):
		return exitInterrupted
	case errors.As(err, &usage), errors.Is(err, client.ErrInvalidInput):
		return exitUsage
	case errors.Is(err, client.ErrRequirement):
		return exitRequirement
	case errors.Is(err, client.ErrNoValidSignature):
		return exitUnsigned
	case errors.Is(err, client.ErrDigestMismatch):
		return exitIntegrity
	case errors.Is(err, client.ErrDenied):
		return exitDenied
	case errors.Is(err, client.ErrUnreachable):
		return exitUnreachable
	case errors.Is(err, client.ErrNotFound):
		return exitNotFound
	}
	return exitFailure
}

// registryFlags are the flags every registry command shares.
type registryFlags struct {
	username, password, token string
	plainHTTP                 bool
	chunkSize                 string // push only
}

func addRegistryFlags(cmd *cobra.Command) *registryFlags {
	rf := &registryFlags{}
	f := cmd.Flags()
	f.StringVarP(&rf.username, "username", "u", "", "registry user name (env CAIRN_USERNAME)")
	f.StringVarP(&rf.password, "password", "p", "", "registry password (env CAIRN_PASSWORD)")
	f.StringVar(&rf.token, "token", "", "registry identity token, instead of a password (env CAIRN_TOKEN)")
	f.BoolVar(&rf.plainHTTP, "plain-http", false, "talk plain HTTP, without TLS (env CAIRN_PLAIN_HTTP=true, or a comma-separated list of hosts)")
	return rf
}

// registry returns a registry client for the references a command names,
// with credentials from, in order: flags, the environment (and a .env file
// in the working directory), docker's config.json and credential helpers.
func (rf *registryFlags) registry(refs ...string) (*client.Registry, error) {
	env := environment()
	defRegistry := env("CAIRN_REGISTRY")
	probe := client.NewRegistry(client.WithDefaultRegistry(defRegistry), client.WithDockerConfig(false))
	var hosts []string
	for _, s := range refs {
		r, err := probe.ParseReference(s)
		if err != nil {
			return nil, err
		}
		hosts = append(hosts, r.Registry)
	}
	opts := []client.RegistryOption{
		client.WithDefaultRegistry(defRegistry),
		client.WithRegistryUserAgent("cairn/" + version),
	}
	if rf.chunkSize != "" {
		n, err := parseSize(rf.chunkSize)
		if err != nil || n < 1<<20 || n > 1<<30 {
			return nil, usageError{fmt.Errorf("--chunk-size %q: give a size from 1MiB to 1GiB, such as 16MiB", rf.chunkSize)}
		}
		opts = append(opts, client.WithChunking(n, n))
	}
	if b, _ := strconv.ParseBool(env("CAIRN_DEBUG")); b {
		// regclient's own log of every request, for finding out why a
		// registry answers as it does.
		opts = append(opts, client.WithLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	}
	user, pass, token := first(rf.username, env("CAIRN_USERNAME")), first(rf.password, env("CAIRN_PASSWORD")), first(rf.token, env("CAIRN_TOKEN"))
	if pass != "" && user == "" {
		return nil, usageError{errors.New("a password was given without a user name; add --username (or CAIRN_USERNAME)")}
	}
	for _, h := range hosts {
		if user != "" {
			opts = append(opts, client.WithCredentials(h, user, pass))
		}
		if token != "" {
			opts = append(opts, client.WithToken(h, token))
		}
	}
	plain := env("CAIRN_PLAIN_HTTP")
	switch b, err := strconv.ParseBool(plain); {
	case rf.plainHTTP, err == nil && b:
		opts = append(opts, client.WithPlainHTTP(hosts...))
	case plain != "" && err != nil:
		opts = append(opts, client.WithPlainHTTP(strings.Split(plain, ",")...))
	}
	return client.NewRegistry(opts...), nil
}

func first(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// environment returns a lookup of CAIRN_* settings: the process's
// environment first, then a .env file in the working directory.
func environment() func(string) string {
	dotenv := readDotEnv(".env")
	return func(key string) string {
		// An empty variable counts as unset, so that KEY= cannot hide .env.
		if v := os.Getenv(key); v != "" {
			return v
		}
		return dotenv[key]
	}
}

// readDotEnv reads KEY=VALUE lines (optionally "export KEY=VALUE", values
// optionally in single or double quotes, # comments), keeping the CAIRN_
// keys. A missing or unreadable file is no settings.
func readDotEnv(path string) map[string]string {
	out := map[string]string{}
	f, err := os.Open(path)
	if err != nil {
		return out
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		k, v, ok := strings.Cut(line, "=")
		k = strings.TrimSpace(k)
		if !ok || !strings.HasPrefix(k, "CAIRN_") {
			continue
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		} else if i := strings.Index(v, " #"); i >= 0 {
			v = strings.TrimSpace(v[:i])
		}
		out[k] = v
	}
	return out
}

// commandContext ends when the command is interrupted.
func commandContext(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
}

// parseKV parses repeatable key=value flags.
func parseKV(flag string, vals []string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range vals {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, usageError{fmt.Errorf("--%s %q: give KEY=VALUE", flag, kv)}
		}
		out[strings.TrimSpace(k)] = v
	}
	return out, nil
}

// usageArgs marks a wrong number of arguments as a usage error.
func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return usageError{err}
		}
		return nil
	}
}

// parseSize parses a byte count with an optional binary unit: 1048576,
// 512KiB, 16MiB, 1GiB.
func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"B", 1}} {
		if v, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = strings.TrimSpace(v), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a size", s)
	}
	return n * mult, nil
}
