package annotations

import (
	"errors"
	"reflect"
	"sort"
	"testing"
)

func TestParseFilter(t *testing.T) {
	tests := []struct {
		expr string
		want Filter
	}{
		{"org.example.year=2024", Filter{"org.example.year", Eq, []string{"2024"}}},
		{"org.example.year=2023|2024", Filter{"org.example.year", Eq, []string{"2023", "2024"}}},
		{"k=", Filter{"k", Eq, []string{""}}},
		{"k=a=b", Filter{"k", Eq, []string{"a=b"}}},
		{"k!=v", Filter{"k", Ne, []string{"v"}}},
		{"k^=qwen", Filter{"k", Prefix, []string{"qwen"}}},
		{"k", Filter{"k", Exists, nil}},
		{"!k", Filter{"k", Absent, nil}},
		{"k>=2024", Filter{"k", Ge, []string{"2024"}}},
		{"k<=2024-01-01T00:00:00Z", Filter{"k", Le, []string{"2024-01-01T00:00:00Z"}}},
		{"k>1", Filter{"k", Gt, []string{"1"}}},
		{"k<1", Filter{"k", Lt, []string{"1"}}},
		{"k>=a|b", Filter{"k", Ge, []string{"a|b"}}},
		{"dev.cosignproject.cosign/signature", Filter{"dev.cosignproject.cosign/signature", Exists, nil}},
		{"k='; DROP TABLE manifests; --", Filter{"k", Eq, []string{"'; DROP TABLE manifests; --"}}},
		{"k=%_\\", Filter{"k", Eq, []string{"%_\\"}}},
	}
	for _, tt := range tests {
		got, err := ParseFilter(tt.expr)
		if err != nil {
			t.Errorf("ParseFilter(%q): %v", tt.expr, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseFilter(%q) = %+v, want %+v", tt.expr, got, tt.want)
		}
		if got.String() != tt.expr {
			t.Errorf("Filter.String() = %q, want %q", got.String(), tt.expr)
		}
	}
}

func TestParseFilterRefuses(t *testing.T) {
	for _, expr := range []string{"", "!", "=v", "!=v", ">1", "k^v", "k!v", "a b=c", "k'=v", "!!k", "!k=v", string(make([]byte, 300)) + "=v"} {
		if f, err := ParseFilter(expr); !errors.Is(err, ErrInvalidFilter) {
			t.Errorf("ParseFilter(%q) = %+v, %v; want ErrInvalidFilter", expr, f, err)
		}
	}
}

func TestSortKeyOrder(t *testing.T) {
	// In the order SortKey must give: numbers by value, then times by
	// instant, then text by bytes.
	ordered := []string{
		"-1e9", "-2.5", "-1", "0", "0.5", "1", "2", "10", "1e300",
		"1969-12-31T23:59:59Z", "2024-01-01T00:00:00Z", "2024-01-01T01:00:00+00:30", "2024-06-01T00:00:00.5Z",
		"", "10a", "Apple", "apple", "banana",
	}
	keys := make([]string, len(ordered))
	for i, v := range ordered {
		keys[i] = SortKey(v)
	}
	if !sort.StringsAreSorted(keys) {
		for i := 1; i < len(keys); i++ {
			if keys[i-1] >= keys[i] {
				t.Errorf("SortKey(%q)=%q does not sort before SortKey(%q)=%q", ordered[i-1], keys[i-1], ordered[i], keys[i])
			}
		}
	}
	if SortKey("-0") != SortKey("0") {
		t.Error("-0 and 0 differ")
	}
	for v, want := range map[string]Kind{"1": Number, "-3.5": Number, "2024-01-01T00:00:00Z": Time, "2024": Number, "NaN": Text, "Inf": Text, "x": Text, "": Text} {
		if got := KindOf(v); got != want {
			t.Errorf("KindOf(%q) = %c, want %c", v, got, want)
		}
	}
	for _, v := range []string{"1", "2024-01-01T00:00:00Z", "text"} {
		lo, hi := KindRange(KindOf(v))
		if k := SortKey(v); k < lo || k >= hi {
			t.Errorf("SortKey(%q) = %q outside its kind's range [%q, %q)", v, k, lo, hi)
		}
	}
}

func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{"k=v", "k=a|b", "!k", "k>=1", "k^=p", "k"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		flt, err := ParseFilter(expr)
		if err != nil {
			if !errors.Is(err, ErrInvalidFilter) {
				t.Fatalf("error %v is not ErrInvalidFilter", err)
			}
			return
		}
		again, err := ParseFilter(flt.String())
		if err != nil || !reflect.DeepEqual(again, flt) {
			t.Fatalf("%q → %+v → %q → %+v, %v", expr, flt, flt.String(), again, err)
		}
	})
}

func FuzzSortKey(f *testing.F) {
	f.Add("1", "2")
	f.Add("2024-01-01T00:00:00Z", "x")
	f.Fuzz(func(t *testing.T, a, b string) {
		na, oka := number(a)
		nb, okb := number(b)
		if oka && okb && (na < nb) != (SortKey(a) < SortKey(b)) {
			t.Fatalf("numbers %q < %q is %v but keys say otherwise", a, b, na < nb)
		}
		ta, oka := instant(a)
		tb, okb := instant(b)
		if oka && okb && KindOf(a) == Time && KindOf(b) == Time && ta.Before(tb) != (SortKey(a) < SortKey(b)) && ta.UnixMicro() != tb.UnixMicro() {
			t.Fatalf("times %q < %q is %v but keys say otherwise", a, b, ta.Before(tb))
		}
	})
}
