package annotations

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestParseDerivedFrom(t *testing.T) {
	const d1 = "sha256:9412a6f0a4b06d3f94e1a7b1e4c4e4a5e0c8b0f8b2b8c9f0b3a2d1e4f5a6b7c8"
	const d2 = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	for _, c := range []struct {
		in   string
		want []string // Ref.String of each, and the registry after "|"
	}{
		{"abstracts/neurips@" + d1, []string{"abstracts/neurips@" + d1 + "|"}},
		{" a@" + d1 + " , b/c@" + d2, []string{"a@" + d1 + "|", "b/c@" + d2 + "|"}},
		{"ghcr.io/org/data@" + d1, []string{"ghcr.io/org/data@" + d1 + "|ghcr.io"}},
		{"localhost:5000/x@" + d1, []string{"localhost:5000/x@" + d1 + "|localhost:5000"}},
		{"localhost/x@" + d1, []string{"localhost/x@" + d1 + "|localhost"}},
		{"a@" + d1 + ",a@" + d1, []string{"a@" + d1 + "|"}},
		// The first component is a registry when it holds a dot or a
		// colon or is localhost, and only then.
		{"127.0.0.1/ds@" + d1, []string{"127.0.0.1/ds@" + d1 + "|127.0.0.1"}},
		{"registry.example.com:5000/team/ds@" + d1, []string{"registry.example.com:5000/team/ds@" + d1 + "|registry.example.com:5000"}},
		{"[::1]:5000/x@" + d1, []string{"[::1]:5000/x@" + d1 + "|[::1]:5000"}},
		{"team.v2/ds@" + d1, []string{"team.v2/ds@" + d1 + "|team.v2"}},
		{"team/ds.v2@" + d1, []string{"team/ds.v2@" + d1 + "|"}},
		{"team/localhost@" + d1, []string{"team/localhost@" + d1 + "|"}},
		{"localhost-2/x@" + d1, []string{"localhost-2/x@" + d1 + "|"}},
		{"a.b_c__d-e--f/g@" + d1, []string{"a.b_c__d-e--f/g@" + d1 + "|a.b_c__d-e--f"}},
		{strings.Repeat("a", 255) + "@" + d1, []string{strings.Repeat("a", 255) + "@" + d1 + "|"}},
		{"ghcr.io/" + strings.Repeat("a", 255) + "@" + d1, []string{"ghcr.io/" + strings.Repeat("a", 255) + "@" + d1 + "|ghcr.io"}},
	} {
		refs, err := ParseDerivedFrom(c.in)
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		var got []string
		for _, r := range refs {
			got = append(got, r.String()+"|"+r.Registry)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%q: %v, want %v", c.in, got, c.want)
		}
	}
	for _, in := range []string{
		"",
		"a@" + d1 + ",",
		"abstracts/neurips:2024",
		"abstracts/neurips@sha256:short",
		"Abstracts@" + d1,
		"a@" + d1 + ",,b@" + d2,
		"ghcr.io/@" + d1,
		// Upper case is never a registry's mark here, as it is docker's.
		"Localhost/x@" + d1,
		"Team/ds@" + d1,
		"localhost:5000/X@" + d1,
		"localhost:5000@" + d1,
		"team/a..b@" + d1,
		"team//ds@" + d1,
		"team/ds/@" + d1,
		"team/ds:v1@" + d1,
		"team/ds%2Fx@" + d1,
		"team/d s@" + d1,
		strings.Repeat("a", 256) + "@" + d1,
		"ghcr.io/" + strings.Repeat("a", 256) + "@" + d1,
		strings.Repeat("a@"+d1+",", 300) + "a@" + d1,
	} {
		if _, err := ParseDerivedFrom(in); !errors.Is(err, ErrInvalidDerivedFrom) {
			t.Errorf("%q: error %v, want ErrInvalidDerivedFrom", in, err)
		}
	}
}
