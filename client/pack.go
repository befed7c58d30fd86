package client

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/opencontainers/go-digest"
)

// Annotations oras uses on a directory layer; cairn writes and reads the
// same ones so that oras and cairn unpack each other's directories.
const (
	annotationUnpack        = "io.deis.oras.content.unpack"
	annotationContentDigest = "io.deis.oras.content.digest"
)

// epoch is the time written for every entry of a packed directory, so the
// same content packs to the same bytes whenever and wherever it is packed.
var epoch = time.Unix(0, 0).UTC()

// packDir writes dir as a tar+gzip stream to w, every entry named under
// prefix (the layer's title, as oras does): entries in lexical order, times
// zeroed, owners dropped, permissions reduced to 0755 or 0644, so the same
// content yields the same bytes. It returns the digest of the uncompressed
// tar. Only regular files, directories and symbolic links are packed.
func packDir(dir, prefix string, w io.Writer) (digest.Digest, error) {
	gz, err := gzip.NewWriterLevel(w, gzip.BestSpeed)
	if err != nil {
		return "", err
	}
	tarDigester := digest.Canonical.Digester()
	tw := tar.NewWriter(io.MultiWriter(gz, tarDigester.Hash()))
	// WalkDir visits entries in lexical order, which makes the order stable.
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		name := path.Join(prefix, filepath.ToSlash(rel))
		info, err := d.Info()
		if err != nil {
			return err
		}
		hdr := &tar.Header{Name: name, ModTime: epoch, Format: tar.FormatPAX}
		switch mode := info.Mode(); {
		case mode.IsDir():
			hdr.Typeflag, hdr.Name, hdr.Mode = tar.TypeDir, name+"/", 0o755
		case mode.IsRegular():
			hdr.Typeflag, hdr.Size, hdr.Mode = tar.TypeReg, info.Size(), 0o644
			if mode.Perm()&0o111 != 0 {
				hdr.Mode = 0o755
			}
		case mode&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			hdr.Typeflag, hdr.Linkname, hdr.Mode = tar.TypeSymlink, target, 0o777
		default:
			return fmt.Errorf("%s is neither a file, a directory nor a symbolic link%.0w", p, ErrInvalidInput)
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if hdr.Typeflag != tar.TypeReg {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		n, err := io.Copy(tw, f)
		if err == nil && n != hdr.Size {
			err = fmt.Errorf("%s changed while it was packed", p)
		}
		return err
	})
	if err != nil {
		return "", err
	}
	if err := tw.Close(); err != nil {
		return "", err
	}
	if err := gz.Close(); err != nil {
		return "", err
	}
	return tarDigester.Digest(), nil
}

// unpackDir extracts a tar+gzip stream packed under prefix into dest (which
// must not exist yet). Entries outside prefix, absolute or climbing names,
// links that leave dest, and other entry types are refused. When want is
// set, the uncompressed tar must hash to it.
func unpackDir(r io.Reader, prefix, dest string, want digest.Digest) error {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return fmt.Errorf("not a gzip stream: %w", err)
	}
	defer gz.Close()
	var tarDigester digest.Digester
	var src io.Reader = gz
	if want != "" {
		if err := want.Validate(); err != nil {
			return fmt.Errorf("annotation %s: %w", annotationContentDigest, err)
		}
		tarDigester = want.Algorithm().Digester()
		src = io.TeeReader(gz, tarDigester.Hash())
	}
	if err := os.Mkdir(dest, 0o755); err != nil {
		return err
	}
	tr := tar.NewReader(src)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("reading the archive: %w", err)
		}
		name := strings.TrimSuffix(hdr.Name, "/")
		rel, ok := strings.CutPrefix(name, prefix)
		if !ok || (rel != "" && !strings.HasPrefix(rel, "/")) {
			return fmt.Errorf("archive entry %q is outside %q", hdr.Name, prefix)
		}
		rel = strings.TrimPrefix(rel, "/")
		if rel != "" && !filepath.IsLocal(filepath.FromSlash(rel)) {
			return fmt.Errorf("archive entry %q climbs out of the directory", hdr.Name)
		}
		target := filepath.Join(dest, filepath.FromSlash(rel))
		switch hdr.Typeflag {
		case tar.TypeDir:
			if rel != "" {
				if err := os.MkdirAll(target, 0o755); err != nil {
					return err
				}
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			if err := writeEntry(target, tr, hdr); err != nil {
				return err
			}
		case tar.TypeSymlink:
			link := filepath.FromSlash(hdr.Linkname)
			if filepath.IsAbs(link) || !filepath.IsLocal(filepath.Join(filepath.Dir(filepath.FromSlash(rel)), link)) {
				return fmt.Errorf("archive entry %q links outside the directory (%s)", hdr.Name, hdr.Linkname)
			}
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			if err := os.Symlink(link, target); err != nil {
				return err
			}
		default:
			return fmt.Errorf("archive entry %q has a type cairn does not unpack (%c)", hdr.Name, hdr.Typeflag)
		}
	}
	if tarDigester != nil {
		// Read to the end of the stream so the digest covers the padding.
		if _, err := io.Copy(io.Discard, src); err != nil {
			return err
		}
		if got := tarDigester.Digest(); got != want {
			return fmt.Errorf("the unpacked archive hashes to %s, its annotation says %s%.0w", got, want, ErrDigestMismatch)
		}
	}
	return nil
}

func writeEntry(target string, r io.Reader, hdr *tar.Header) error {
	mode := os.FileMode(0o644)
	if hdr.Mode&0o111 != 0 {
		mode = 0o755
	}
	f, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
