//go:build !linux

package embedded

import (
	"errors"
	"os"
)

// deferSyncs: without syncfs(2), each write syncs its own file as the
// library does.
const deferSyncs = false

func syncFS(*os.File) error { return errors.New("syncfs: not on this platform") }

func startWriteback(*os.File, int64, int64) {}

// sameFilesystem: without syncfs(2) nothing is synced by filesystem.
func sameFilesystem(string, string) bool { return false }
