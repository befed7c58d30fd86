package sqlquery

import (
	"github.com/cairn-dev/cairn/catalog"
	"github.com/opencontainers/go-digest"
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
FROM layers WHERE ` + b.keys("repository", "manifest_digest", ms) + `
ORDER BY repository, manifest_digest, position`)
}

// Tags returns the statement that reads the tags of every manifest of ms
// (which must not be empty) at once. Its rows are the repository, the
// digest and the tag, tags in byte order.
func Tags(d Dialect, ms []catalog.Manifest) Statement {
	// Joined, so that each pair is one search of tags_digest; as an IN
	// list SQLite read every tag of each repository instead (a millisecond
	// for a page of 50 at a million artifacts).
	b := &builder{d: d}
	repos, digests := make([]string, len(ms)), make([]string, len(ms))
	for i, m := range ms {
		repos[i], digests[i] = m.Repository, string(m.Digest)
	}
	return b.statement(`SELECT t.repository, t.digest, t.tag
FROM ` + d.Pairs(b, repos, digests) + ` CROSS JOIN tags t WHERE t.repository = p.r AND t.digest = p.d
ORDER BY t.repository, t.digest, t.tag`)
}

// keys returns the condition "(c1, c2) is the repository and digest of
// a manifest of ms", bound as two lists: the statement's text is the same
// whatever their number (a VALUES list of thousands costs more to parse
// than the lookups it asks for).
func (b *builder) keys(c1, c2 string, ms []catalog.Manifest) string {
	repos, digests := make([]string, len(ms)), make([]string, len(ms))
	for i, m := range ms {
		repos[i], digests[i] = m.Repository, string(m.Digest)
	}
	return b.d.InPairs(b, c1, c2, repos, digests)
}

// Signatures returns the statement that reads the signature records of
// every manifest of ms (which must not be empty) at once. Its rows are the
// repository, the digest, then manifest, position, form, key_id, verified,
// signed_at and error.
func Signatures(d Dialect, ms []catalog.Manifest) Statement {
	b := &builder{d: d}
	return b.statement(`SELECT repository, digest, signature_digest, position, form, key_id, verified, signed_at, error
FROM signatures WHERE ` + b.keys("repository", "digest", ms) + `
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
FROM owners WHERE ` + b.keys("repository", "digest", ms) + ``)
}

// Manifest returns the statement reading the manifest repo@dgst. Its row
// is ManifestColumns.
func Manifest(d Dialect, repo string, dgst digest.Digest) Statement {
	b := &builder{d: d}
	return b.statement("SELECT " + ManifestColumns + " FROM manifests WHERE repository = " + b.arg(repo) + " AND digest = " + b.arg(string(dgst)))
}

// Referrers returns the statement reading the manifests in repo whose
// subject is subject, only those of artifactType unless it is "". Its rows
// are ManifestColumns, oldest push first, then by digest.
func Referrers(d Dialect, repo string, subject digest.Digest, artifactType string) Statement {
	b := &builder{d: d}
	return b.statement(`
SELECT ` + ManifestColumns + ` FROM manifests
WHERE repository = ` + b.arg(repo) + ` AND subject = ` + b.arg(string(subject)) + ` AND (` + b.arg(artifactType) + ` = '' OR artifact_type = ` + b.arg(artifactType) + `)
ORDER BY pushed_at, digest`)
}

// ManifestsAt returns the statement reading the manifests of nodes (of
// this registry; a batch of Batches), whichever repositories they are in.
// Its rows are ManifestColumns, in no order.
func ManifestsAt(d Dialect, nodes []catalog.Node) Statement {
	b := &builder{d: d}
	repos, digests := make([]string, len(nodes)), make([]string, len(nodes))
	for i, n := range nodes {
		repos[i], digests[i] = n.Repository, string(n.Digest)
	}
	return b.statement("SELECT " + ManifestColumns + " FROM manifests WHERE " + d.InPairs(b, "repository", "digest", repos, digests))
}

// Batches returns the nodes of this registry among nodes, each once, in
// batches of at most MaxLimit+1 (a page and the one after it): how the
// stores read manifests with ManifestsAt.
func Batches(nodes []catalog.Node) [][]catalog.Node {
	var out [][]catalog.Node
	var batch []catalog.Node
	seen := map[catalog.Node]bool{}
	for _, n := range nodes {
		if n.Registry != "" || seen[n] {
			continue
		}
		seen[n] = true
		if len(batch) > MaxLimit {
			out, batch = append(out, batch), nil
		}
		batch = append(batch, n)
	}
	if len(batch) > 0 {
		out = append(out, batch)
	}
	return out
}
