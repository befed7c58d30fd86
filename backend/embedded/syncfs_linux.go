package embedded

import (
	"os"

	"golang.org/x/sys/unix"
)

// deferSyncs: syncfs(2) exists, so writes can be made durable in groups.
const deferSyncs = true

// syncFS writes back and flushes everything of the filesystem holding f.
func syncFS(f *os.File) error { return unix.Syncfs(int(f.Fd())) }

// startWriteback asks the kernel to start writing a range of f to disk,
// without waiting; a hint, so its error is of no use.
func startWriteback(f *os.File, off, n int64) {
	_ = unix.SyncFileRange(int(f.Fd()), off, n, unix.SYNC_FILE_RANGE_WRITE)
}

// sameFilesystem reports whether paths a and b are on one filesystem, the
// unit syncfs(2) writes back.
func sameFilesystem(a, b string) bool {
	var sa, sb unix.Stat_t
	return unix.Stat(a, &sa) == nil && unix.Stat(b, &sb) == nil && sa.Dev == sb.Dev
}
