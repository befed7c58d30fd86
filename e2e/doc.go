// Package e2e holds cairn's end-to-end tests: they start the real cairn
// binary (CAIRN_BIN, built by make test) on a free port and drive it with the
// real clients (oras, regctl, crane, cosign, the conformance suite) installed
// by the Makefile at pinned versions, each client in a home and with
// credential stores of its own. Under -short the package skips itself
// (TestMain); without it, a missing binary or client fails.
package e2e
