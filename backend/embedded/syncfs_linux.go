package embedded

import (
	"os"

	"golang.org/x/sys/unix"
)

// deferSyncs: syncfs(2) exists, so writes can be made durable in groups.
const deferSyncs = true

// syncFS writes back and flushes everything of the filesystem holding f.
func syncFS(f *os.File) error { return unix.Syncfs(int(f.Fd())) }
