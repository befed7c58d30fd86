// Command cairn is the OCI model and data registry façade: `cairn serve`
// runs the server; the other commands operate on it.
package main

import (
	"fmt"
	"os"
)

// Set at build time with -ldflags "-X main.version=… -X main.revision=…".
var (
	version  = "dev"
	revision = ""
)

func main() {
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "cairn:", err)
		os.Exit(exitCode(err))
	}
}
