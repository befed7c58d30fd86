package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestConfigFileStorage: the storage driver comes from the config file (the
// library's in-memory driver here, as no cloud store can be reached).
func TestConfigFileStorage(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "cairn.yaml")
	if err := os.WriteFile(conf, []byte("log: {level: debug, format: json}\nstorage:\n  inmemory: {}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := startCairn(t, "--config", conf)
	pushDataset(t, c, c.addr)
	entries, err := os.ReadDir(c.dataDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		mustf(t, e.Name() != "storage", "blobs went to the filesystem although the config names the in-memory driver")
	}
}

// TestBadConfigRefused: settings cairn cannot use stop it at start with a
// message that says what is wrong.
func TestBadConfigRefused(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, yaml string
		args       []string
		want       string
	}{
		{"misspelt key", "adr: 127.0.0.1:1\n", nil, "adr"},
		{"s3 without its parameters", "storage:\n  s3: {}\n", nil, "storage"},
		{"two drivers", "storage:\n  inmemory: {}\n  filesystem: {rootdirectory: /tmp/x}\n", nil, "more than one driver"},
		{"bad log level", "", []string{"--log-level", "loud"}, "log level"},
		{"upstream not a URL", "", []string{"--upstream", "zot:5000"}, "upstream"},
		{"trust key file missing", "trust:\n  - {prefix: models/, keys: [/nonexistent/cosign.pub]}\n", nil, "/nonexistent/cosign.pub"},
		{"trust key not a public key", "trust:\n  - {prefix: models/, keys: [/etc/hostname]}\n", nil, "no PEM block"},
		{"trust rule without keys", "trust:\n  - {prefix: models/, require_signature: true}\n", nil, `prefix "models/") names no key file`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conf := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-")+".yaml")
			if err := os.WriteFile(conf, []byte(tt.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			args := append([]string{"serve", "--config", conf, "--addr", freeAddr(t), "--data-dir", filepath.Join(dir, "data")}, tt.args...)
			out, err := exec.Command(binary(t), args...).CombinedOutput()
			mustf(t, err != nil, "cairn started with a bad configuration:\n%s", out)
			mustf(t, strings.Contains(string(out), tt.want), "the error does not mention %q:\n%s", tt.want, out)
		})
	}
}
