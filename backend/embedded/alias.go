package embedded

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/opencontainers/go-digest"
)

// The library stores every blob and manifest under its sha256 digest. A
// content addressed by another algorithm (sha512) is reached through a link
// file named by that digest and holding the sha256 one: the library writes
// such links for blobs uploaded with a sha512 digest, and follows them on
// reads. cairn writes the ones the library does not (manifests pushed by a
// sha512 digest, blobs mounted by one).

// LinkManifestAlias makes alias name the manifest stored as canonical.
func (e *Engine) LinkManifestAlias(ctx context.Context, repo string, alias, canonical digest.Digest) error {
	if err := e.driver.PutContent(ctx, manifestLinkPath(repo, alias), []byte(canonical.String())); err != nil {
		return fmt.Errorf("embedded engine: link manifest %s to %s: %w", alias, canonical, err)
	}
	return e.durable()
}

// LinkBlobAlias makes alias name the blob stored as canonical in repo.
func (e *Engine) LinkBlobAlias(ctx context.Context, repo string, alias, canonical digest.Digest) error {
	if err := e.driver.PutContent(ctx, blobLinkPath(repo, alias), []byte(canonical.String())); err != nil {
		return fmt.Errorf("embedded engine: link blob %s to %s: %w", alias, canonical, err)
	}
	return e.durable()
}

// BlobAlias returns the digest a blob link in repo points at.
func (e *Engine) BlobAlias(ctx context.Context, repo string, alias digest.Digest) (digest.Digest, error) {
	b, err := e.driver.GetContent(ctx, blobLinkPath(repo, alias))
	if err != nil {
		return "", fmt.Errorf("embedded engine: blob %s in %s: %w", alias, repo, err)
	}
	d, err := digest.Parse(strings.TrimSpace(string(b)))
	if err != nil {
		return "", fmt.Errorf("embedded engine: blob link %s in %s: %w", alias, repo, err)
	}
	return d, nil
}

// RepositoryExists reports whether storage holds anything of repo.
func (e *Engine) RepositoryExists(ctx context.Context, repo string) (bool, error) {
	_, err := e.driver.Stat(ctx, repositoryPath(repo))
	var notFound storagedriver.PathNotFoundError
	if errors.As(err, &notFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("embedded engine: repository %s: %w", repo, err)
	}
	return true, nil
}

// OpenBlob opens the bytes of blob d of repo straight from the filesystem
// storage, following the repository's link as the library does (a blob not
// linked in repo is not served from it). ok is false when the engine must
// answer instead: another storage driver, no link, no data.
func (e *Engine) OpenBlob(repo string, d digest.Digest) (f *os.File, ok bool) {
	if e.fsRoot == "" || d.Validate() != nil {
		return nil, false
	}
	b, err := os.ReadFile(onDisk(e.fsRoot, blobLinkPath(repo, d)))
	if err != nil {
		return nil, false
	}
	canonical, err := digest.Parse(strings.TrimSpace(string(b)))
	if err != nil || canonical.Algorithm() != digest.SHA256 {
		return nil, false
	}
	f, err = os.Open(onDisk(e.fsRoot, blobDataPath(canonical)))
	if err != nil {
		return nil, false
	}
	return f, true
}

// StoresBlob reports whether storage holds the bytes of the sha256 blob d
// in any repository.
func (e *Engine) StoresBlob(ctx context.Context, d digest.Digest) bool {
	if d.Algorithm() != digest.SHA256 || d.Validate() != nil {
		return false
	}
	if e.fsRoot != "" {
		_, err := os.Stat(onDisk(e.fsRoot, blobDataPath(d)))
		return err == nil
	}
	_, err := e.driver.Stat(ctx, blobDataPath(d))
	return err == nil
}

// LacksBlob reports whether repo certainly does not hold blob d: the
// filesystem storage has no link for it there. False when unsure (another
// storage driver, a malformed digest).
func (e *Engine) LacksBlob(repo string, d digest.Digest) bool {
	if e.fsRoot == "" || d.Validate() != nil {
		return false
	}
	_, err := os.Lstat(onDisk(e.fsRoot, blobLinkPath(repo, d)))
	return errors.Is(err, os.ErrNotExist)
}

// LinkBlob makes repo hold the blob d that storage already has (as a mount
// does), and reports whether it could: the blob must be sha256 and its data
// present.
func (e *Engine) LinkBlob(ctx context.Context, repo string, d digest.Digest) error {
	if d.Algorithm() != digest.SHA256 || d.Validate() != nil {
		return fmt.Errorf("embedded engine: link %s: only sha256 blobs are linked", d)
	}
	if _, err := e.driver.Stat(ctx, blobDataPath(d)); err != nil {
		return fmt.Errorf("embedded engine: link %s: %w", d, err)
	}
	if err := e.driver.PutContent(ctx, blobLinkPath(repo, d), []byte(d.String())); err != nil {
		return fmt.Errorf("embedded engine: link blob %s into %s: %w", d, repo, err)
	}
	return e.durable()
}

// manifestAliases maps the sha256 digest of each manifest of repo pushed
// by another digest to that digest (or digests), from the links
// LinkManifestAlias wrote.
func (e *Engine) manifestAliases(ctx context.Context, repo string) (map[digest.Digest][]digest.Digest, error) {
	out := map[digest.Digest][]digest.Digest{}
	for _, alg := range []digest.Algorithm{digest.SHA384, digest.SHA512} {
		dir := manifestRevisionsPath(repo, alg)
		entries, err := e.driver.List(ctx, dir)
		var notFound storagedriver.PathNotFoundError
		if errors.As(err, &notFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("aliases: %w", err)
		}
		for _, entry := range entries {
			alias := digest.NewDigestFromEncoded(alg, filepath.Base(entry))
			if alias.Validate() != nil {
				continue
			}
			b, err := e.driver.GetContent(ctx, manifestLinkPath(repo, alias))
			if err != nil {
				continue // removed while listing
			}
			canonical, err := digest.Parse(strings.TrimSpace(string(b)))
			if err != nil || canonical.Algorithm() != digest.Canonical {
				continue
			}
			out[canonical] = append(out[canonical], alias)
		}
	}
	return out, nil
}
