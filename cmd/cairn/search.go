package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/spf13/cobra"

	"github.com/cairn-dev/cairn/annotations"
	"github.com/cairn-dev/cairn/auth"
	"github.com/cairn-dev/cairn/client"
)

// addServerFlag adds --server, defaulting to CAIRN_SERVER or the local
// server.
func addServerFlag(cmd *cobra.Command) *string {
	def := os.Getenv("CAIRN_SERVER")
	if def == "" {
		def = client.DefaultServer
	}
	return cmd.Flags().String("server", def, "URL of the cairn server (env CAIRN_SERVER)")
}

// apiToken is the cairn API token catalog commands send: CAIRN_TOKEN, or
// CAIRN_PASSWORD when it holds a cairn token (as registry logins do).
func apiToken(env func(string) string) string {
	for _, k := range []string{"CAIRN_TOKEN", "CAIRN_PASSWORD"} {
		if v := env(k); strings.HasPrefix(v, auth.TokenPrefix) {
			return v
		}
	}
	return ""
}

// newClient returns a client of the server, its requests ending when the
// command is interrupted.
func newClient(cmd *cobra.Command, server string) (*client.Client, context.Context, context.CancelFunc, error) {
	opts := []client.Option{client.WithUserAgent("cairn/" + version)}
	if tok := apiToken(environment()); tok != "" {
		opts = append(opts, client.WithAPIToken(tok))
	}
	c, err := client.New(server, opts...)
	if err != nil {
		return nil, nil, nil, err
	}
	ctx, cancel := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	return c, ctx, cancel, nil
}

func newSearchCmd() *cobra.Command {
	var (
		p      client.SearchParams
		total  int
		asJSON bool
		show   []string
		signed string
	)
	cmd := &cobra.Command{
		Use:   "search",
		Short: "Search the artifacts a cairn server has indexed",
		Long: `Search the catalog of a cairn server (GET /api/v1/artifacts). Filters combine;
--annotation is repeatable: key=value, key=v1|v2, key!=value, key^=prefix, key,
!key, key>=v, key<=v, key>v, key<v (numbers and RFC 3339 times compare as such).
Pages are followed until --max artifacts (0: all). The table shows a column for
each annotation key the filters name and each --show key; --json prints the
API's artifact objects as one JSON array.`,
		Example: `  cairn search -a 'org.example.year>=2024' --type application/vnd.cairn.embeddings.v1
  cairn search --repo-prefix datasets/ --sort -size --max 10
  cairn search -q neurips --json | jq -r '.[].digest'`,
		Args: cobra.NoArgs,
	}
	server := addServerFlag(cmd)
	f := cmd.Flags()
	f.StringArrayVarP(&p.Annotations, "annotation", "a", nil, "annotation filter EXPR (repeatable)")
	f.StringVar(&p.ArtifactType, "type", "", "artifact type (media type), e.g. application/vnd.cairn.embeddings.v1")
	f.StringVar(&p.Repository, "repo", "", "repository name")
	f.StringVar(&p.RepositoryPrefix, "repo-prefix", "", "repository name prefix")
	f.StringVar(&p.Tag, "tag", "", "tag")
	f.StringVarP(&p.Text, "query", "q", "", "text to find in annotation values, repository names and tags (any case)")
	f.StringVar(&p.Subject, "subject", "", "manifest DIGEST whose referrers to list")
	f.StringVar(&signed, "signed", "", "true: only artifacts with a signature verified with a key the server trusts; false: only those without")
	f.StringVar(&p.Sort, "sort", "", "pushed, -pushed (default), repository, size, -size, annotation:KEY, -annotation:KEY")
	f.IntVar(&p.Limit, "limit", 0, "page size, 1 to 1000 (default: as many as --max wants)")
	f.IntVar(&total, "max", 100, "print at most N artifacts; 0 prints all")
	f.BoolVar(&asJSON, "json", false, "print the artifacts as a JSON array")
	f.StringArrayVar(&show, "show", nil, "also show annotation KEY as a column (repeatable)")

	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if total < 0 {
			return fmt.Errorf("--max %d: give a number of artifacts, or 0 for all", total)
		}
		if signed != "" {
			b, err := strconv.ParseBool(signed)
			if err != nil {
				return fmt.Errorf("--signed %q: give true or false", signed)
			}
			p.Signed = &b
		}
		c, ctx, cancel, err := newClient(cmd, *server)
		if err != nil {
			return err
		}
		defer cancel()
		arts, more, err := c.SearchAll(ctx, p, total)
		if err != nil {
			return err
		}
		out := cmd.OutOrStdout()
		if asJSON {
			err = writeJSONArray(out, arts)
		} else if len(arts) == 0 {
			fmt.Fprintln(cmd.ErrOrStderr(), "no artifacts match")
		} else {
			err = writeTable(out, arts, tableColumns(p.Annotations, show), time.Now())
		}
		if err != nil {
			return err
		}
		if more {
			fmt.Fprintf(cmd.ErrOrStderr(), "cairn: showed the first %d artifacts; more match (raise --max, or --max 0 for all)\n", total)
		}
		return nil
	}
	return cmd
}

// writeJSONArray prints the artifacts as the server answered them.
func writeJSONArray(w io.Writer, arts []client.Artifact) error {
	raws := make([]json.RawMessage, 0, len(arts))
	for _, a := range arts {
		raw := a.Raw
		if raw == nil {
			var err error
			if raw, err = json.Marshal(a); err != nil {
				return err
			}
		}
		raws = append(raws, raw)
	}
	b, err := json.MarshalIndent(raws, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// tableColumns returns the annotation keys to show: those the filters name
// (but not !key, which selects their absence) and then the --show keys, each
// once.
func tableColumns(filters, show []string) []string {
	var keys []string
	for _, expr := range filters {
		if f, err := annotations.ParseFilter(expr); err == nil && f.Op != annotations.Absent && !slices.Contains(keys, f.Key) {
			keys = append(keys, f.Key)
		}
	}
	for _, k := range show {
		if k != "" && !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	return keys
}

// writeTable prints the artifacts as a table, with a column for each
// annotation key; now is the time ages are counted from.
func writeTable(w io.Writer, arts []client.Artifact, keys []string, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	header := append([]string{"REPOSITORY", "TAGS", "DIGEST", "TYPE", "SIZE", "PUSHED", "SIGNED"}, keys...)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, a := range arts {
		row := []string{
			cell(a.Repository, 0),
			cell(strings.Join(a.Tags, ","), 40),
			cell(shortDigest(a.Digest.String()), 0),
			cell(a.Type(), 0),
			humanSize(a.Size),
			ago(a.PushedAt, now),
			map[bool]string{true: "yes", false: "no"}[a.Signed],
		}
		for _, k := range keys {
			v, ok := a.Annotations[k]
			if !ok {
				v = "-"
			}
			row = append(row, cell(v, 40))
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	return tw.Flush()
}

// cell makes a value fit a table cell: control characters (tabs, newlines)
// become spaces, an empty value is "-", and a value longer than width runes
// (when width > 0) is cut with an ellipsis.
func cell(s string, width int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	if s == "" {
		return "-"
	}
	if r := []rune(s); width > 0 && len(r) > width {
		s = string(r[:width-1]) + "…"
	}
	return s
}

// shortDigest cuts a digest to its algorithm and 12 hex digits:
// sha256:0123456789ab.
func shortDigest(d string) string {
	alg, hex, ok := strings.Cut(d, ":")
	if !ok || len(hex) <= 12 {
		return d
	}
	return alg + ":" + hex[:12]
}

// humanSize spells a byte count in binary units: 512 B, 1.2 MiB.
func humanSize(n int64) string {
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	units := []string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	v := float64(n) / 1024
	i := 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	// Round as printed, so 1023.96 KiB reads 1.0 MiB rather than 1024.0 KiB.
	if v >= 1023.95 && i < len(units)-1 {
		v /= 1024
		i++
	}
	return fmt.Sprintf("%.1f %s", v, units[i])
}

// ago spells how long before now t was: "3 minutes ago", "2 days ago", or
// the date once it is more than 30 days back.
func ago(t, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := now.Sub(t)
	plural := func(n int64, unit string) string {
		if n == 1 {
			return "1 " + unit + " ago"
		}
		return fmt.Sprintf("%d %ss ago", n, unit)
	}
	switch {
	case d < time.Second:
		return "just now"
	case d < time.Minute:
		return plural(int64(d/time.Second), "second")
	case d < time.Hour:
		return plural(int64(d/time.Minute), "minute")
	case d < 24*time.Hour:
		return plural(int64(d/time.Hour), "hour")
	case d <= 30*24*time.Hour:
		return plural(int64(d/(24*time.Hour)), "day")
	}
	return t.Local().Format(time.DateOnly)
}
