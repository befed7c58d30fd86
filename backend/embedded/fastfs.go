package embedded

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/distribution/distribution/v3/registry/storage/driver/factory"
	"github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
)

// fastDriverName is the filesystem driver cairn's embedded engine uses: the
// library's own, but for the bookkeeping of uploads in progress.
const fastDriverName = "cairn-filesystem"

func init() { factory.Register(fastDriverName, fastFactory{}) }

type fastFactory struct{}

func (fastFactory) Create(_ context.Context, params map[string]any) (storagedriver.StorageDriver, error) {
	d, err := filesystem.FromParameters(params)
	if err != nil {
		return nil, err
	}
	root, _ := params["rootdirectory"].(string)
	if root == "" {
		root = defaultFSRoot
	}
	fd := &fastDriver{Driver: d, root: root, completed: map[string]struct{}{}}
	if deferSyncs {
		if fd.sync, err = syncerFor(root); err != nil {
			return nil, err
		}
	}
	return fd, nil
}

// defaultFSRoot is the filesystem driver's own default root.
const defaultFSRoot = "/var/lib/registry"

// fastDriver is the library's filesystem driver with fewer syncs, and no
// weaker promise: what a request was answered as stored survives power loss.
//
// The library syncs every file it writes and the directory it renames it
// into: four syncs for a small blob, eight for a tagged manifest, each a
// wait for the disk. Here, with a syncer (Linux):
//
//   - an upload's bookkeeping (start time, hash states) and the end of each
//     chunk are not synced: an upload in progress may be lost in a crash, and
//     its client starts over;
//   - an upload's data is synced when it completes, before it is moved into
//     place (the library's order: data durable before any name points at it);
//   - a manifest's bytes, and a link that replaces an existing one (a tag
//     moved), are synced before they are renamed into place, so that a crash
//     never leaves a name holding less than it held before;
//   - a new link file is renamed into place unsynced: a crash before it is
//     durable can leave it empty, and an empty link reads as absent — its
//     request was never answered;
//   - renames and deletions are left to the end of the request: the engine
//     answers a write only after one syncfs covering the request's writes
//     (shared with every request waiting at that moment);
//   - hash states the library never reads back are not written at all.
//
// Without a syncer (other platforms) every write but the bookkeeping
// syncs as the library does.
type fastDriver struct {
	*filesystem.Driver
	root string
	sync *syncer

	mu        sync.Mutex
	completed map[string]struct{} // uploads whose data was committed
}

func (d *fastDriver) Name() string { return fastDriverName }

// PutContent writes a file atomically (temporary file, then rename), synced
// as the rules above say.
func (d *fastDriver) PutContent(ctx context.Context, p string, content []byte) error {
	state := uploadState(p)
	if state && d.uselessHashState(p) {
		return nil
	}
	if !state && d.sync == nil {
		return d.Driver.PutContent(ctx, p, content)
	}
	full := d.full(p)
	if err := os.MkdirAll(filepath.Dir(full), 0o777); err != nil {
		return err
	}
	var suffix [8]byte
	if _, err := rand.Read(suffix[:]); err != nil {
		return err
	}
	tmp := full + "." + hex.EncodeToString(suffix[:]) + ".tmp"
	syncFirst := false
	if !state {
		_, err := os.Lstat(full)
		syncFirst = syncBeforeRename(p, err == nil)
	}
	if err := writeFile(tmp, content, syncFirst); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write %s: %w", p, err)
	}
	if err := os.Rename(tmp, full); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write %s: %w", p, err)
	}
	if !state {
		d.sync.wrote(ctx)
	}
	return nil
}

// syncBeforeRename reports whether a file written at p must be durable
// before it is renamed into place: always but for a new link, whose loss
// in a crash (it reads as absent when empty) only undoes an unanswered
// request. A replaced link would lose what it held before.
func syncBeforeRename(p string, exists bool) bool { return !isLink(p) || exists }

func writeFile(name string, content []byte, sync bool) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o666)
	if err != nil {
		return err
	}
	_, err = f.Write(content)
	if err == nil && sync {
		err = f.Sync()
	}
	return errors.Join(err, f.Close())
}

// GetContent reads a file; an empty link file is one whose write a crash
// cut short (see fastDriver) and reads as absent.
func (d *fastDriver) GetContent(ctx context.Context, p string) ([]byte, error) {
	b, err := d.Driver.GetContent(ctx, p)
	if err == nil && len(b) == 0 && isLink(p) {
		return nil, storagedriver.PathNotFoundError{Path: p, DriverName: fastDriverName}
	}
	return b, err
}

// Walk visits a tree as the library's does, but for empty link files: the
// library's enumerations (manifests, blobs, garbage collection) read every
// link they meet and would stop at one.
func (d *fastDriver) Walk(ctx context.Context, p string, f storagedriver.WalkFn, options ...func(*storagedriver.WalkOptions)) error {
	return d.Driver.Walk(ctx, p, func(fi storagedriver.FileInfo) error {
		if !fi.IsDir() && fi.Size() == 0 && isLink(fi.Path()) {
			return nil
		}
		return f(fi)
	}, options...)
}

// Move renames a file into place; durable at the end of the request.
func (d *fastDriver) Move(ctx context.Context, from, to string) error {
	if err := d.Driver.Move(ctx, from, to); err != nil {
		return err
	}
	if d.sync != nil {
		d.sync.wrote(ctx)
	}
	return nil
}

// Delete removes a file or tree; durable at the end of the request (an
// upload's leftovers need not be).
func (d *fastDriver) Delete(ctx context.Context, p string) error {
	upload := isUpload(p)
	if upload {
		d.mu.Lock()
		delete(d.completed, p)
		d.mu.Unlock()
	}
	if err := d.Driver.Delete(ctx, p); err != nil {
		return err
	}
	if !upload && d.sync != nil {
		d.sync.wrote(ctx)
	}
	return nil
}

func (d *fastDriver) full(p string) string { return onDisk(d.root, p) }

// Writer opens a file for writing. An upload's data gets a writer whose
// Close does not sync: Close ends a chunk (PATCH), progress a crash may lose
// since the client starts over; Commit, which completes the upload before
// the blob is moved into place and answered 201, still syncs.
func (d *fastDriver) Writer(ctx context.Context, p string, append bool) (storagedriver.FileWriter, error) {
	if !uploadData(p) {
		return d.Driver.Writer(ctx, p, append)
	}
	full := d.full(p)
	if err := os.MkdirAll(filepath.Dir(full), 0o777); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(full, os.O_WRONLY|os.O_CREATE, 0o666)
	if err != nil {
		return nil, err
	}
	var size int64
	if append {
		size, err = f.Seek(0, io.SeekEnd)
	} else {
		err = f.Truncate(0)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return &uploadWriter{file: f, buf: bufio.NewWriterSize(f, 32<<10), size: size, flushed: size, committed: func() { d.uploadCompleted(p) }}, nil
}

// uploadWriter is the library's file writer, but Close does not sync and
// writeback is started as the upload goes.
type uploadWriter struct {
	file    *os.File
	buf     *bufio.Writer
	size    int64
	flushed int64 // where writeback was last started
	closed  bool
	done    bool // committed or cancelled

	committed func()
}

func (w *uploadWriter) usable() error {
	if w.closed || w.done {
		return errors.New("upload writer already closed, committed or cancelled")
	}
	return nil
}

func (w *uploadWriter) Write(p []byte) (int, error) {
	if err := w.usable(); err != nil {
		return 0, err
	}
	n, err := w.buf.Write(p)
	w.size += int64(n)
	if err == nil && w.size-w.flushed >= writebackEvery {
		// Start writing the bytes so far to disk without waiting for it:
		// a large upload then leaves little for its final sync, or for a
		// sync another request needs meanwhile, to wait for.
		if err = w.buf.Flush(); err == nil {
			startWriteback(w.file, w.flushed, w.size-w.flushed)
			w.flushed = w.size
		}
	}
	return n, err
}

// writebackEvery is how many bytes an upload writes between two starts of
// writeback.
const writebackEvery = 8 << 20

func (w *uploadWriter) Size() int64 { return w.size }

func (w *uploadWriter) Close() error {
	if w.closed {
		return errors.New("upload writer already closed")
	}
	w.closed = true
	var err error
	if !w.done {
		err = w.buf.Flush()
	}
	return errors.Join(err, w.file.Close())
}

func (w *uploadWriter) Cancel(context.Context) error {
	if err := w.usable(); err != nil {
		return err
	}
	w.done, w.closed = true, true
	_ = w.file.Close()
	return os.Remove(w.file.Name())
}

func (w *uploadWriter) Commit(context.Context) error {
	if err := w.usable(); err != nil {
		return err
	}
	if err := w.buf.Flush(); err != nil {
		return err
	}
	if err := w.file.Sync(); err != nil {
		return err
	}
	w.done = true
	w.committed()
	return nil
}

// uselessHashState reports whether p is a hash state the library would
// never read: the state at offset 0 (it starts a new hash when none is
// stored), and the one it stores while completing an upload, whose files it
// removes right after. Not writing them spares the files and directories a
// small upload would otherwise create and delete.
func (d *fastDriver) uselessHashState(p string) bool {
	dir, offset, ok := hashState(p)
	if !ok {
		return false
	}
	if offset == "0" {
		return true
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	_, done := d.completed[dir]
	return done
}

// uploadCompleted records that the upload whose data is at dataPath was
// committed (its hash states are no longer read); forgotten when the
// upload's files are deleted.
func (d *fastDriver) uploadCompleted(dataPath string) {
	d.mu.Lock()
	d.completed[uploadOfData(dataPath)] = struct{}{}
	d.mu.Unlock()
}
