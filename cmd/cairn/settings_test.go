package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/cairn-dev/cairn/config"
)

// clearEnv unsets every CAIRN_* variable the settings read, for the
// duration of the test, so that the environment of whoever runs the tests
// does not leak in.
func clearEnv(t *testing.T) {
	t.Helper()
	var c config.Config
	names := []string{"CAIRN_CONFIG"}
	for _, s := range serveSettings(&c) {
		names = append(names, s.env())
	}
	for _, n := range names {
		t.Setenv(n, "") // restores the original value at the end of the test
		if err := os.Unsetenv(n); err != nil {
			t.Fatal(err)
		}
	}
}

// loadWith parses args as cairn serve's flags and applies precedence.
func loadWith(t *testing.T, args ...string) (config.Config, error) {
	t.Helper()
	cmd := &cobra.Command{Use: "serve", RunE: func(*cobra.Command, []string) error { return nil }}
	fv := addServeFlags(cmd)
	if err := cmd.ParseFlags(args); err != nil {
		t.Fatalf("parse %q: %v", args, err)
	}
	return fv.load(cmd.Flags())
}

func mustLoad(t *testing.T, args ...string) config.Config {
	t.Helper()
	c, err := loadWith(t, args...)
	if err != nil {
		t.Fatalf("load %q: %v", args, err)
	}
	return c
}

func writeYAML(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "cairn.yaml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestSettingsDefaultOnly(t *testing.T) {
	clearEnv(t)
	c := mustLoad(t)
	if want := config.Default(); !reflect.DeepEqual(c, want) {
		t.Errorf("with nothing set got\n%+v\nwant the defaults\n%+v", c, want)
	}
}

func TestSettingsPrecedence(t *testing.T) {
	const fileAddr, envAddr, flagAddr = "127.0.0.1:6001", "127.0.0.1:6002", "127.0.0.1:6003"
	for _, tc := range []struct {
		name     string
		file     bool
		env      bool
		flag     bool
		wantAddr string
	}{
		{"default", false, false, false, config.Default().Addr},
		{"file over default", true, false, false, fileAddr},
		{"env over default", false, true, false, envAddr},
		{"env over file", true, true, false, envAddr},
		{"flag over default", false, false, true, flagAddr},
		{"flag over file", true, false, true, flagAddr},
		{"flag over env", false, true, true, flagAddr},
		{"flag over env over file", true, true, true, flagAddr},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clearEnv(t)
			var args []string
			if tc.file {
				args = append(args, "--config", writeYAML(t, "addr: "+fileAddr+"\nlog:\n  level: debug\n"))
			}
			if tc.env {
				t.Setenv("CAIRN_ADDR", envAddr)
			}
			if tc.flag {
				args = append(args, "--addr", flagAddr)
			}
			c := mustLoad(t, args...)
			if c.Addr != tc.wantAddr {
				t.Errorf("addr = %q, want %q", c.Addr, tc.wantAddr)
			}
			// Settings the winner does not mention keep the file's value or the default.
			wantLevel := config.Default().Log.Level
			if tc.file {
				wantLevel = "debug"
			}
			if c.Log.Level != wantLevel {
				t.Errorf("log level = %q, want %q", c.Log.Level, wantLevel)
			}
		})
	}
}

func TestSettingsConfigFileFromEnv(t *testing.T) {
	clearEnv(t)
	envFile := writeYAML(t, "addr: 127.0.0.1:7001\n")
	t.Setenv("CAIRN_CONFIG", envFile)
	if c := mustLoad(t); c.Addr != "127.0.0.1:7001" {
		t.Errorf("with CAIRN_CONFIG and no --config, addr = %q, want the file's 127.0.0.1:7001", c.Addr)
	}

	flagFile := writeYAML(t, "addr: 127.0.0.1:7002\n")
	if c := mustLoad(t, "--config", flagFile); c.Addr != "127.0.0.1:7002" {
		t.Errorf("--config over CAIRN_CONFIG: addr = %q, want 127.0.0.1:7002", c.Addr)
	}
	if c := mustLoad(t, "--config="); c.Addr != config.Default().Addr {
		t.Errorf(`--config="" should read no file; addr = %q`, c.Addr)
	}
}

func TestSettingsConfigFileErrors(t *testing.T) {
	clearEnv(t)
	_, err := loadWith(t, "--config", writeYAML(t, "adr: :5000\n"))
	if err == nil || !strings.Contains(err.Error(), "adr") {
		t.Errorf("unknown key: err = %v, want one naming adr", err)
	}
	missing := filepath.Join(t.TempDir(), "missing.yaml")
	t.Setenv("CAIRN_CONFIG", missing)
	_, err = loadWith(t)
	if err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("missing CAIRN_CONFIG file: err = %v, want one naming it", err)
	}
}

func TestSettingsBadEnv(t *testing.T) {
	for _, tc := range []struct{ name, value string }{
		{"CAIRN_SHUTDOWN_TIMEOUT", "soon"},
		{"CAIRN_SHUTDOWN_TIMEOUT", "30"},
		{"CAIRN_UPSTREAM_TIMEOUT", "5 seconds"},
		{"CAIRN_UPSTREAM_INSECURE_SKIP_VERIFY", "maybe"},
	} {
		t.Run(tc.name+"="+tc.value, func(t *testing.T) {
			clearEnv(t)
			t.Setenv(tc.name, tc.value)
			_, err := loadWith(t)
			if err == nil {
				t.Fatalf("%s=%q accepted", tc.name, tc.value)
			}
			if !strings.Contains(err.Error(), tc.name) || !strings.Contains(err.Error(), tc.value) {
				t.Errorf("error %q should name %s and the value %q", err, tc.name, tc.value)
			}
		})
	}
}

func TestSettingsBoolAndDuration(t *testing.T) {
	t.Run("env true", func(t *testing.T) {
		clearEnv(t)
		t.Setenv("CAIRN_UPSTREAM_INSECURE_SKIP_VERIFY", "true")
		if c := mustLoad(t); !c.Upstream.TLS.InsecureSkipVerify {
			t.Error("CAIRN_UPSTREAM_INSECURE_SKIP_VERIFY=true did not set insecure_skip_verify")
		}
	})
	t.Run("env false over file true", func(t *testing.T) {
		clearEnv(t)
		t.Setenv("CAIRN_UPSTREAM_INSECURE_SKIP_VERIFY", "false")
		f := writeYAML(t, "upstream:\n  tls:\n    insecure_skip_verify: true\n")
		if c := mustLoad(t, "--config", f); c.Upstream.TLS.InsecureSkipVerify {
			t.Error("CAIRN_UPSTREAM_INSECURE_SKIP_VERIFY=false did not override the file")
		}
	})
	t.Run("flag false over env true", func(t *testing.T) {
		clearEnv(t)
		t.Setenv("CAIRN_UPSTREAM_INSECURE_SKIP_VERIFY", "1")
		if c := mustLoad(t, "--upstream-insecure-skip-verify=false"); c.Upstream.TLS.InsecureSkipVerify {
			t.Error("--upstream-insecure-skip-verify=false did not override the environment")
		}
	})
	t.Run("bare bool flag", func(t *testing.T) {
		clearEnv(t)
		if c := mustLoad(t, "--upstream-insecure-skip-verify"); !c.Upstream.TLS.InsecureSkipVerify {
			t.Error("--upstream-insecure-skip-verify did not set it")
		}
	})
	t.Run("durations", func(t *testing.T) {
		clearEnv(t)
		t.Setenv("CAIRN_SHUTDOWN_TIMEOUT", "5s")
		t.Setenv("CAIRN_UPSTREAM_TIMEOUT", "2m")
		c := mustLoad(t, "--upstream-timeout", "750ms")
		if c.ShutdownTimeout != 5*time.Second {
			t.Errorf("shutdown timeout = %v, want 5s from the environment", c.ShutdownTimeout)
		}
		if c.Upstream.Timeout != 750*time.Millisecond {
			t.Errorf("upstream timeout = %v, want 750ms from the flag", c.Upstream.Timeout)
		}
	})
}

// TestSettingsEveryVariable checks that each flag's environment variable
// sets the configuration field the flag sets.
func TestSettingsEveryVariable(t *testing.T) {
	var probe config.Config
	for _, s := range serveSettings(&probe) {
		t.Run(s.env(), func(t *testing.T) {
			var envVal, flagVal string
			switch {
			case s.str != nil:
				envVal, flagVal = "from-env", "from-flag"
				switch s.flag {
				case "upstream":
					envVal, flagVal = "http://env:5000", "http://flag:5000"
				case "log-level":
					envVal, flagVal = "warn", "error"
				case "log-format":
					envVal, flagVal = "json", "console"
				}
			case s.dur != nil:
				envVal, flagVal = "3s", "4s"
			case s.bool != nil:
				envVal, flagVal = "true", "false"
			}
			// field returns the value of this setting in c, as a string.
			field := func(c *config.Config) string {
				t.Helper()
				for _, o := range serveSettings(c) {
					if o.flag != s.flag {
						continue
					}
					switch {
					case o.str != nil:
						return *o.str
					case o.dur != nil:
						return o.dur.String()
					case o.bool != nil:
						if *o.bool {
							return "true"
						}
						return "false"
					}
				}
				t.Fatalf("no setting %s", s.flag)
				return ""
			}

			clearEnv(t)
			t.Setenv(s.env(), envVal)
			c := mustLoad(t)
			if got := field(&c); got != envVal {
				t.Errorf("%s=%s gave %q", s.env(), envVal, got)
			}
			c = mustLoad(t, "--"+s.flag+"="+flagVal)
			if got := field(&c); got != flagVal {
				t.Errorf("--%s=%s with %s=%s gave %q", s.flag, flagVal, s.env(), envVal, got)
			}
		})
	}
}

func TestSettingsValidated(t *testing.T) {
	clearEnv(t)
	t.Setenv("CAIRN_LOG_LEVEL", "loud")
	if _, err := loadWith(t); err == nil || !strings.Contains(err.Error(), `"loud"`) {
		t.Errorf("CAIRN_LOG_LEVEL=loud: err = %v, want a validation error naming the value", err)
	}
	clearEnv(t)
	if _, err := loadWith(t, "--upstream", "ftp://zot"); err == nil || !strings.Contains(err.Error(), "ftp://zot") {
		t.Errorf("--upstream ftp://zot: err = %v, want a validation error naming it", err)
	}
}

func TestSettingsFlagsRegistered(t *testing.T) {
	cmd := &cobra.Command{Use: "serve"}
	addServeFlags(cmd)
	var c config.Config
	for _, s := range append(serveSettings(&c), setting{flag: "config"}) {
		f := cmd.Flags().Lookup(s.flag)
		if f == nil {
			t.Errorf("flag --%s not registered", s.flag)
			continue
		}
		if s.flag != "config" && !strings.Contains(f.Usage, s.env()) {
			t.Errorf("usage of --%s %q should name %s", s.flag, f.Usage, s.env())
		}
	}
}
