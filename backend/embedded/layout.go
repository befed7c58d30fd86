package embedded

import (
	"path"
	"path/filepath"
	"strings"

	"github.com/opencontainers/go-digest"
)

// The distribution library's storage layout (its registry/storage/paths.go,
// private to it). Every path of it that cairn reads, writes or recognises is
// built or matched here and nowhere else; layout_test.go checks them
// against what the pinned library version writes, so an upgrade that moves
// a file fails there rather than in a walk or a blob read.
//
//	/docker/registry/v2/
//	  blobs/<alg>/<hex[:2]>/<hex>/data                        a blob's bytes
//	  repositories/<name>/
//	    _layers/<alg>/<hex>/link                              blob linked in name
//	    _manifests/revisions/<alg>/<hex>/link                 manifest of name
//	    _manifests/tags/<tag>/current/link                    a tag
//	    _uploads/<id>/{startedat,data,hashstates/<alg>/<offset>}

// layoutRoot is where the library keeps everything, under the driver's root.
const layoutRoot = "/docker/registry/v2"

// repositoryPath is the directory of everything repo holds.
func repositoryPath(repo string) string {
	return layoutRoot + "/repositories/" + repo
}

// manifestRevisionsPath is the directory of repo's manifest links of one
// digest algorithm.
func manifestRevisionsPath(repo string, alg digest.Algorithm) string {
	return repositoryPath(repo) + "/_manifests/revisions/" + alg.String()
}

// manifestLinkPath is the link saying repo holds manifest d; it holds the
// digest the bytes are stored under.
func manifestLinkPath(repo string, d digest.Digest) string {
	return manifestRevisionsPath(repo, d.Algorithm()) + "/" + d.Encoded() + "/link"
}

// blobLinkPath is the link saying repo holds blob d; it holds the digest
// the bytes are stored under.
func blobLinkPath(repo string, d digest.Digest) string {
	return repositoryPath(repo) + "/_layers/" + d.Algorithm().String() + "/" + d.Encoded() + "/link"
}

// blobDataPath is where a blob's (or a manifest's) bytes are stored.
func blobDataPath(d digest.Digest) string {
	return layoutRoot + "/blobs/" + d.Algorithm().String() + "/" + d.Encoded()[:2] + "/" + d.Encoded() + "/data"
}

// uploadStartedAtPath is the file that makes upload session id of repo
// exist: the library writes it when it opens the session and reads it to
// resume one.
func uploadStartedAtPath(repo, id string) string {
	return repositoryPath(repo) + "/_uploads/" + id + "/startedat"
}

// onDisk is where the filesystem driver rooted at root keeps p.
func onDisk(root, p string) string { return filepath.Join(root, filepath.FromSlash(p)) }

// isLink reports whether p is one of the layout's link files (content: one
// digest).
func isLink(p string) bool { return strings.HasSuffix(p, "/link") }

// isUpload reports whether p is an upload session's directory or one of
// its files.
func isUpload(p string) bool { return strings.Contains(p, "/_uploads/") }

// uploadData reports whether p is an upload's data file.
func uploadData(p string) bool {
	return isUpload(p) && strings.HasSuffix(p, "/data") && !strings.Contains(p, "..")
}

// uploadState reports whether p is an upload's bookkeeping file (under
// _uploads/, not its data).
func uploadState(p string) bool {
	return isUpload(p) && !strings.HasSuffix(p, "/data") && !strings.Contains(p, "..")
}

// uploadOfData is the directory of the upload whose data file is p.
func uploadOfData(p string) string { return strings.TrimSuffix(p, "/data") }

// hashState splits the path of an upload's saved hash state into the
// upload's directory and the offset the state was saved at.
func hashState(p string) (upload, offset string, ok bool) {
	upload, rest, ok := strings.Cut(p, "/hashstates/")
	if !ok {
		return "", "", false
	}
	return upload, path.Base(rest), true
}
