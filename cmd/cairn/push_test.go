package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseAnnotationJSON(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     map[string]string
		errHas   string // "" when the text is good
	}{
		{"object", `{"org.example.model":"qwen3","org.example.year":"2024"}`,
			map[string]string{"org.example.model": "qwen3", "org.example.year": "2024"}, ""},
		{"empty object", `{}`, map[string]string{}, ""},
		{"spaces and unicode", " {\"note\": \"d\u00e9j\u00e0 vu\"}\n", map[string]string{"note": "déjà vu"}, ""},
		{"cut short", `{"org.example.model":`, nil, "unexpected end of JSON input"},
		{"not JSON", `org.example.model=qwen3`, nil, "invalid character"},
		{"number value", `{"org.example.year":2024}`, nil, "cannot unmarshal number"},
		{"list", `["a","b"]`, nil, "cannot unmarshal array"},
		{"null", `null`, nil, "got null"},
		{"trailing text", `{"a":"b"} {"c":"d"}`, nil, "invalid character"},
		{"empty key", `{" ":"x"}`, nil, "an annotation key is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseAnnotationJSON(tc.in)
			if tc.errHas == "" {
				if err != nil || !reflect.DeepEqual(got, tc.want) {
					t.Fatalf("got %v, %v; want %v", got, err, tc.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, got %v", got)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "--annotation-json: ") || !strings.Contains(msg, tc.errHas) {
				t.Errorf("error %q does not name the flag and say %q", msg, tc.errHas)
			}
			if exitCode(err) != exitUsage {
				t.Errorf("exit code %d, want %d", exitCode(err), exitUsage)
			}
		})
	}
}

func TestOutputFiles(t *testing.T) {
	dir := t.TempDir()
	existing := filepath.Join(dir, "existing")
	if err := os.WriteFile(existing, []byte("old value\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path string
		errHas     string // of prepareOutputs; "" when it must succeed
	}{
		// Kubeflow v1 leaves the directories of an outputPath to the program.
		{"missing directories", filepath.Join(dir, "outputs", "reference", "data"), ""},
		{"parent exists", filepath.Join(dir, "digest"), ""},
		{"replaces a file", existing, ""},
		{"a directory", dir, "exists and is not a regular file"},
		{"under a file", filepath.Join(existing, "data"), "not a directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := outputFile{flag: "output-digest", path: tc.path, value: "sha256:" + strings.Repeat("ab", 32)}
			err := prepareOutputs(o)
			if tc.errHas != "" {
				if err == nil || !strings.HasPrefix(err.Error(), "--output-digest") || !strings.Contains(err.Error(), tc.errHas) {
					t.Fatalf("prepareOutputs: got %v, want an error naming --output-digest that says %q", err, tc.errHas)
				}
				if exitCode(err) != exitUsage {
					t.Errorf("exit code %d, want %d", exitCode(err), exitUsage)
				}
				return
			}
			if err != nil {
				t.Fatalf("prepareOutputs: %v", err)
			}
			if err := writeOutputs(o); err != nil {
				t.Fatalf("writeOutputs: %v", err)
			}
			// The whole content is the value: no trailing newline.
			if b, err := os.ReadFile(tc.path); err != nil || string(b) != o.value {
				t.Fatalf("file holds %q (%v), want %q", b, err, o.value)
			}
			// Nothing is left beside it by the atomic write.
			for _, name := range dirNames(t, filepath.Dir(tc.path)) {
				if strings.Contains(name, "cairn-tmp") {
					t.Errorf("temporary file %s left behind", name)
				}
			}
		})
	}

	// A flag that was not given writes nothing.
	if err := prepareOutputs(outputFile{flag: "output-reference"}); err != nil {
		t.Fatal(err)
	}
	if err := writeOutputs(outputFile{flag: "output-reference", value: "x"}); err != nil {
		t.Fatal(err)
	}
}

// TestPushRefusesBeforeContact: bad --annotation-json and unwritable output
// files fail as usage errors before the registry is contacted (the address
// below has nobody listening, which would be exit 5).
func TestPushRefusesBeforeContact(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data.txt")
	if err := os.WriteFile(data, []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		args   []string
		errHas string
	}{
		{"bad annotation JSON", []string{"--annotation-json", `{"org.example.year":2024}`}, "--annotation-json: want a JSON object of strings"},
		{"output under a file", []string{"--output-reference", filepath.Join(data, "reference")}, "--output-reference"},
		{"output is a directory", []string{"--output-digest", dir}, "--output-digest " + dir + " exists and is not a regular file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := newRootCmd()
			cmd.SetArgs(append([]string{"push", "--plain-http", "127.0.0.1:1/kfp/data:v1", data}, tc.args...))
			err := cmd.Execute()
			if err == nil || !strings.Contains(err.Error(), tc.errHas) || exitCode(err) != exitUsage {
				t.Fatalf("got %v (exit %d), want a usage error saying %q", err, exitCode(err), tc.errHas)
			}
		})
	}
}
