package annotations

import "testing"

func TestFilterMatches(t *testing.T) {
	as := map[string]string{
		"year":    "2024",
		"papers":  "950",
		"created": "2024-06-01T12:00:00Z",
		"model":   "qwen3",
		"note":    "b",
	}
	for _, c := range []struct {
		expr string
		want bool
	}{
		{"year=2024", true},
		{"year=2023|2024", true},
		{"year=2023", false},
		{"missing=x", false},
		{"year!=2024", false},
		{"year!=2023", true},
		{"missing!=x", true}, // lacking the key is not having that value
		{"model^=qwen", true},
		{"model^=llama", false},
		{"model", true},
		{"missing", false},
		{"!missing", true},
		{"!model", false},
		{"papers>=1000", false}, // as numbers, not "950" >= "1000" by bytes
		{"papers<1000", true},
		{"papers>950", false},
		{"papers>=950", true},
		{"year>=2022", true},
		{"created>2024-01-01T00:00:00Z", true},
		{"created<2024-06-01T11:00:00-02:00", true}, // by instant: 13:00Z
		{"note>a", true},                            // text by bytes
		{"model>2000", true},                        // text against a number: by bytes, "q" > "2"
		{"missing>1", false},
	} {
		f, err := ParseFilter(c.expr)
		if err != nil {
			t.Fatalf("%s: %v", c.expr, err)
		}
		if got := f.Matches(as); got != c.want {
			t.Errorf("%s: Matches = %v, want %v", c.expr, got, c.want)
		}
	}
}
