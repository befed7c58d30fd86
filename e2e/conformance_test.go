package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// conformanceCount reads one count line ("  FAIL....: 3") of the suite's
// summary.
func conformanceCount(t *testing.T, out, label string) int {
	t.Helper()
	m := regexp.MustCompile(`(?m)^\s+` + regexp.QuoteMeta(label) + `\.+:\s+(\d+)\s*$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("conformance output has no %q count:\n%s", label, tail(out, 3000))
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// TestConformance runs the OCI distribution-spec conformance suite, every
// workflow and every default data set (sha512 included), against embedded
// cairn, and fails on any failure. docs/conformance.md says what is skipped
// and why.
func TestConformance(t *testing.T) {
	suite := tool(t, "conformance")
	c := startCairn(t)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, suite)
	cmd.Dir = dir // the suite reads ./oci-conformance.yaml if one is there
	cmd.Env = append(os.Environ(),
		"OCI_REGISTRY="+c.addr,
		"OCI_TLS=disabled",
		"OCI_VERSION=1.1",
		"OCI_REPO1=conformance/repo1",
		"OCI_REPO2=conformance/repo2",
		"OCI_DATA_SHA512=true",
		"OCI_RESULTS_DIR="+filepath.Join(dir, "results"),
	)
	outb, runErr := cmd.CombinedOutput()
	out := string(outb)
	fail := conformanceCount(t, out, "FAIL")
	errs := conformanceCount(t, out, "Error")
	pass := conformanceCount(t, out, "Pass")
	skip := conformanceCount(t, out, "Skip")
	total := conformanceCount(t, out, "Total")
	t.Logf("conformance: %d passed, %d failed, %d errors, %d skipped, of %d", pass, fail, errs, skip, total)
	for _, line := range strings.Split(out, "\n") {
		if strings.HasSuffix(line, ": FAIL") || strings.HasSuffix(line, ": Error") || strings.HasSuffix(line, ": Skip") {
			t.Log(strings.TrimSpace(line))
		}
	}
	if fail+errs > 0 || runErr != nil {
		t.Fatalf("conformance: %d failures, %d errors (suite exit: %v)\n%s\n--- server log ---\n%s", fail, errs, runErr, tail(out, 6000), c.log())
	}
	if pass < 800 {
		t.Fatalf("conformance: only %d tests passed; the suite did not run its workflows", pass)
	}
}
