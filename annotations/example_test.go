package annotations_test

import (
	"fmt"

	"github.com/cairn-dev/cairn/annotations"
)

func ExampleParseFilter() {
	for _, expr := range []string{"org.example.year>=2024", "org.example.model=qwen3|qwen3.5", "!dev.cairn.deprecated"} {
		f, err := annotations.ParseFilter(expr)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Printf("key %s, op %q, values %q\n", f.Key, f.Op, f.Values)
	}
	_, err := annotations.ParseFilter("org example year>=2024")
	fmt.Println(err)
	// Output:
	// key org.example.year, op ">=", values ["2024"]
	// key org.example.model, op "=", values ["qwen3" "qwen3.5"]
	// key dev.cairn.deprecated, op "!", values []
	// invalid annotation filter: annotation key "org example year" has ' '; keys use letters, digits and . _ - / + : @
}
