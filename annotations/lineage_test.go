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
		strings.Repeat("a@"+d1+",", 300) + "a@" + d1,
	} {
		if _, err := ParseDerivedFrom(in); !errors.Is(err, ErrInvalidDerivedFrom) {
			t.Errorf("%q: error %v, want ErrInvalidDerivedFrom", in, err)
		}
	}
}
