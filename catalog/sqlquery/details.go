package sqlquery

import (
	"strings"

	"github.com/cairn-dev/cairn/catalog"
)

// Key identifies a manifest in the catalog.
type Key struct {
	Repository string
	Digest     string
}

// Index maps the manifests of ms to their places in ms, so that the rows
// of Layers and Tags can be attached to them.
func Index(ms []catalog.Manifest) map[Key]*catalog.Manifest {
	idx := make(map[Key]*catalog.Manifest, len(ms))
	for i := range ms {
		idx[Key{ms[i].Repository, string(ms[i].Digest)}] = &ms[i]
	}
	return idx
}

// Layers returns the statement that reads the layers of every manifest of
// ms (which must not be empty) at once. Its rows are the repository, the
// manifest digest, then kind, digest, media_type, size, artifact_type,
// title and annotations, in manifest order.
func Layers(d Dialect, ms []catalog.Manifest) Statement {
	b := &builder{d: d}
	return b.statement(`SELECT repository, manifest_digest, kind, digest, media_type, size, artifact_type, title, annotations
FROM layers WHERE (repository, manifest_digest) IN (` + b.keys(ms) + `)
ORDER BY repository, manifest_digest, position`)
}

// Tags returns the statement that reads the tags of every manifest of ms
// (which must not be empty) at once. Its rows are the repository, the
// digest and the tag, tags in byte order.
func Tags(d Dialect, ms []catalog.Manifest) Statement {
	b := &builder{d: d}
	return b.statement(`SELECT repository, digest, tag
FROM tags WHERE (repository, digest) IN (` + b.keys(ms) + `)
ORDER BY repository, digest, tag`)
}

// keys binds the repository and digest of each manifest of ms and returns
// them as a VALUES list.
func (b *builder) keys(ms []catalog.Manifest) string {
	var sb strings.Builder
	sb.WriteString("VALUES ")
	for i, m := range ms {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString("(" + b.arg(m.Repository) + ", " + b.arg(string(m.Digest)) + ")")
	}
	return sb.String()
}

// Signatures returns the statement that reads the signature records of
// every manifest of ms (which must not be empty) at once. Its rows are the
// repository, the digest, then manifest, position, form, key_id, verified,
// signed_at and error.
func Signatures(d Dialect, ms []catalog.Manifest) Statement {
	b := &builder{d: d}
	return b.statement(`SELECT repository, digest, signature_digest, position, form, key_id, verified, signed_at, error
FROM signatures WHERE (repository, digest) IN (` + b.keys(ms) + `)
ORDER BY repository, digest, signed_at, signature_digest, position`)
}

// SignatureSubjects returns the statement listing the manifests that
// signature manifests point at in repo ("" for all): by subject, with
// artifactType, or by cosign's legacy tag sha256-<hex>.sig. Its rows are
// repository and digest.
func SignatureSubjects(d Dialect, repo, artifactType string) Statement {
	b := &builder{d: d}
	byRepo := func(col string) string {
		if repo == "" {
			return ""
		}
		return " AND " + col + " = " + b.arg(repo)
	}
	return b.statement(`SELECT m.repository, m.subject FROM manifests m
WHERE m.subject <> '' AND m.artifact_type = ` + b.arg(artifactType) + byRepo("m.repository") + `
UNION
SELECT t.repository, 'sha256:' || substr(t.tag, 8, 64) FROM tags t
WHERE t.tag LIKE 'sha256-%.sig' AND length(t.tag) = 75` + byRepo("t.repository") + `
ORDER BY 1, 2`)
}

// Ownership returns the statement that reads the owner and visibility of
// every manifest of ms (which must not be empty) that has them. Its rows
// are the repository, the digest, the owner and the visibility.
func Ownership(d Dialect, ms []catalog.Manifest) Statement {
	b := &builder{d: d}
	return b.statement(`SELECT repository, digest, owner, visibility
FROM owners WHERE (repository, digest) IN (` + b.keys(ms) + `)`)
}
