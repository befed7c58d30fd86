package e2e

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestTokenCommands issues, lists and revokes API tokens in a data
// directory's catalog: the secret is printed once and never listed.
func TestTokenCommands(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	run := func(args ...string) cliResult {
		t.Helper()
		return runCLI(t, nil, append(args, "--data-dir", dataDir)...)
	}
	r := run("token", "issue", "pipeline", "--scope", "datasets/:pull,push", "--expires", "90d")
	mustf(t, r.code == 0 && strings.HasPrefix(r.stdout, "cairn_") && strings.Contains(r.stderr, "not shown again"), "issue: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	secret := strings.TrimSpace(r.stdout)
	id := strings.Fields(r.stderr)[1]

	r = run("token", "list")
	mustf(t, r.code == 0 && strings.Contains(r.stdout, id) && strings.Contains(r.stdout, "pipeline") && strings.Contains(r.stdout, "datasets/:pull,push") && strings.Contains(r.stdout, "active"), "list: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	mustf(t, !strings.Contains(r.stdout, secret) && !strings.Contains(r.stdout, secret[len("cairn_"):]), "the list shows the secret:\n%s", r.stdout)

	r = run("token", "revoke", id)
	mustf(t, r.code == 0, "revoke: exit %d %s", r.code, r.stderr)
	r = run("token", "list")
	mustf(t, strings.Contains(r.stdout, "revoked"), "list after revoke:\n%s", r.stdout)

	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"token", "revoke", "nope"}, 3, "no token has id"},
		{[]string{"token", "issue", "ana", "--scope", "datasets/:fly"}, 2, "not an action"},
		{[]string{"token", "issue", "ana"}, 2, "at least one scope"},
		{[]string{"token", "issue", "a b", "--scope", ":pull"}, 2, "without spaces"},
		{[]string{"token", "issue", "ana", "--scope", ":pull", "--expires", "soon"}, 2, "expiry"},
	} {
		r := run(tc.args...)
		mustf(t, r.code == tc.code && strings.Contains(r.stderr, tc.want), "%v: exit %d (want %d)\n%s", tc.args, r.code, tc.code, r.stderr)
	}
}
