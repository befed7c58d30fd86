// Package e2e holds cairn's end-to-end tests: they start the real cairn
// binary (CAIRN_BIN, built by make test) on a free port and drive it with the
// real clients (oras, regctl, crane, the conformance suite) installed by the
// Makefile at pinned versions.
package e2e
