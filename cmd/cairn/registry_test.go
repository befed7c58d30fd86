package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/cairn-dev/cairn/client"
)

func TestReadDotEnv(t *testing.T) {
	p := filepath.Join(t.TempDir(), ".env")
	os.WriteFile(p, []byte(`# comment
CAIRN_REGISTRY=127.0.0.1:5000
export CAIRN_USERNAME=alice
CAIRN_PASSWORD="s3 cret"
CAIRN_TOKEN='tok'
CAIRN_PLAIN_HTTP=true # trailing comment
OTHER=ignored
not a line
`), 0o600)
	want := map[string]string{
		"CAIRN_REGISTRY": "127.0.0.1:5000", "CAIRN_USERNAME": "alice", "CAIRN_PASSWORD": "s3 cret",
		"CAIRN_TOKEN": "tok", "CAIRN_PLAIN_HTTP": "true",
	}
	if got := readDotEnv(p); !reflect.DeepEqual(got, want) {
		t.Errorf("readDotEnv = %v\nwant %v", got, want)
	}
	if got := readDotEnv(filepath.Join(t.TempDir(), "none")); len(got) != 0 {
		t.Errorf("missing file: %v", got)
	}
}

func TestExitCode(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{nil, 0},
		{errors.New("other"), exitFailure},
		{usageError{errors.New("bad flag")}, exitUsage},
		{fmt.Errorf("x: %w", client.ErrInvalidInput), exitUsage},
		{&client.RegistryError{Kind: client.ErrNotFound}, exitNotFound},
		{&client.RegistryError{Kind: client.ErrDenied}, exitDenied},
		{&client.RegistryError{Kind: client.ErrUnreachable}, exitUnreachable},
		{&client.RegistryError{Kind: client.ErrDigestMismatch}, exitIntegrity},
		{&client.RegistryError{Kind: client.ErrRequirement}, exitRequirement},
		{&client.RegistryError{Kind: client.ErrNoValidSignature}, exitUnsigned},
		{&client.RegistryError{Kind: context.Canceled}, exitInterrupted},
		// The catalog client's errors keep exit code 1.
		{&client.Error{StatusCode: 404, Code: client.CodeNotFound}, exitFailure},
	} {
		if got := exitCode(tc.err); got != tc.want {
			t.Errorf("exitCode(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"1048576": 1 << 20, "16MiB": 16 << 20, "1 GiB": 1 << 30, "512KiB": 512 << 10, "10B": 10} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "MiB", "-1", "1.5MiB", "1TB"} {
		if _, err := parseSize(bad); err == nil {
			t.Errorf("parseSize(%q) did not fail", bad)
		}
	}
}
