package embedded

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"

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
	return &fastDriver{Driver: d, root: root}, nil
}

// defaultFSRoot is the filesystem driver's own default root.
const defaultFSRoot = "/var/lib/registry"

// fastDriver writes an upload's bookkeeping (its start time and hash
// states) without the two fsyncs the library spends on every small file:
// an upload in progress may be lost in a crash — its client starts it over —
// while a blob answered 201 may not, so blob data, links, tags and
// manifests still go through the library's synced writes.
type fastDriver struct {
	*filesystem.Driver
	root string
}

func (d *fastDriver) Name() string { return fastDriverName }

// PutContent writes upload bookkeeping atomically (temporary file, then
// rename) but unsynced; everything else as the library does.
func (d *fastDriver) PutContent(ctx context.Context, p string, content []byte) error {
	if !uploadState(p) {
		return d.Driver.PutContent(ctx, p, content)
	}
	full := filepath.Join(d.root, filepath.FromSlash(p))
	if err := os.MkdirAll(filepath.Dir(full), 0o777); err != nil {
		return err
	}
	var suffix [8]byte
	if _, err := rand.Read(suffix[:]); err != nil {
		return err
	}
	tmp := full + "." + hex.EncodeToString(suffix[:]) + ".tmp"
	if err := os.WriteFile(tmp, content, 0o666); err != nil {
		return fmt.Errorf("upload state %s: %w", p, err)
	}
	if err := os.Rename(tmp, full); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("upload state %s: %w", p, err)
	}
	return nil
}

// uploadState reports whether p is an upload's bookkeeping file (under
// _uploads/, not its data).
func uploadState(p string) bool {
	return strings.Contains(p, "/_uploads/") && !strings.HasSuffix(p, "/data") && !strings.Contains(p, "..")
}
