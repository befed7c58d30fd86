// Package catalog holds cairn's index of every manifest that passed through
// the façade: the Store interface that the SQLite and PostgreSQL stores
// implement, the types they exchange, and the parsing of a manifest into a
// catalog entry. It does not speak HTTP and does not hold blob bytes.
package catalog

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/opencontainers/go-digest"
)

// ErrNotFound is returned (wrapped) when a repository, manifest or tag is not
// in the catalog.
var ErrNotFound = errors.New("catalog: not found")

// Layer is one entry of a manifest's content: a layer of an image manifest,
// its config, or a child manifest of an index.
type Layer struct {
	// Kind is "config", "layer" or "manifest" (a child of an index).
	Kind         string            `json:"kind"`
	Digest       digest.Digest     `json:"digest"`
	MediaType    string            `json:"mediaType"`
	Size         int64             `json:"size"`
	ArtifactType string            `json:"artifactType,omitempty"`
	Title        string            `json:"title,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
}

// Manifest is the catalog entry of one manifest in one repository.
type Manifest struct {
	Repository string
	Digest     digest.Digest
	MediaType  string
	// ArtifactType is the manifest's artifactType, or its config media type
	// when it has none (the spec's fallback for image manifests).
	ArtifactType string
	Annotations  map[string]string
	// Layers holds the config, the layers and, for an index, the child
	// manifests, in manifest order.
	Layers []Layer
	// Subject is the digest of the manifest this one refers to, or "".
	Subject digest.Digest
	// Size is the length of the manifest's bytes.
	Size int64
	// TotalSize is Size plus the sizes of every config, layer and child
	// manifest it lists: what a full pull moves (ParseManifest sums it).
	TotalSize int64
	PushedAt  time.Time
	// Tags is filled by reads; writes ignore it (a tag is set with
	// IndexPush or ReplaceRepository).
	Tags []string
	// Signatures is filled by reads; they are set with SetSignatures.
	Signatures []Signature
	// Owner is the user who first pushed the manifest, recorded by
	// IndexPush when access control names one ("" for nobody), and
	// Visibility its state (see SetVisibility). Reads fill both.
	Owner      string
	Visibility Visibility
}

// Signature is the verification record of one signature of a manifest:
// one payload layer of a signature manifest that reaches it by subject or
// by cosign's legacy tag.
type Signature struct {
	// Manifest is the digest of the signature manifest; Position the
	// layer within it.
	Manifest digest.Digest `json:"manifest"`
	Position int           `json:"position"`
	// Form is "referrer" or "tag".
	Form string `json:"form"`
	// KeyID is the trusted key the signature verified with, "" if none.
	KeyID string `json:"keyId"`
	// Verified: by a trusted key, over a payload that names this manifest.
	Verified bool      `json:"verified"`
	SignedAt time.Time `json:"signedAt"`
	// Error says why the signature did not verify.
	Error string `json:"error,omitempty"`
}

// Store is the catalog's storage: every concern below, what both
// implementations (catalog/sqlite and catalog/postgres) provide and pass
// catalog/storetest with, and what cairn opens. A consumer should take the
// smallest of these interfaces it needs, not Store: a fake, or a new
// backend, then pays only for what is used.
type Store interface {
	Index
	Reader
	Querier
	Owners
	Lineage
	Signatures
	Settings
	TokenStore
	PendingMarks
	Health
	io.Closer
}

// Index records what the engine stores: the manifests of each repository
// and their tags.
type Index interface {
	// IndexPush records what one manifest push stored, in one transaction:
	// m, replacing an entry with the same repository and digest but keeping
	// its push time (re-pushing the same bytes is not a new push) and its
	// tags; tag pointing at it, moved from where it pointed, unless tag is
	// ""; m.Owner and m.Visibility unless the manifest has an owner or a
	// state already; and the removal of the pending mark (see MarkPending)
	// unless it is 0. A zero PushedAt is recorded as the time of the call.
	IndexPush(ctx context.Context, m Manifest, tag string, pending int64) error
	// DeleteTag removes a tag; ErrNotFound if it does not exist.
	DeleteTag(ctx context.Context, repo, tag string) error
	// DeleteManifest removes a manifest and every tag pointing at it;
	// ErrNotFound if it does not exist.
	DeleteManifest(ctx context.Context, repo string, dgst digest.Digest) error
	// Repositories lists the repository names that hold at least one
	// manifest, sorted.
	Repositories(ctx context.Context) ([]string, error)
	// ReplaceRepository makes the catalog's view of repo exactly ms and
	// tags (tag → digest), in one transaction: what reindex writes. PushedAt
	// of entries already present is kept. An empty ms removes repo.
	ReplaceRepository(ctx context.Context, repo string, ms []Manifest, tags map[string]digest.Digest) error
}

// Reader reads manifests and tags back.
type Reader interface {
	// Manifest returns one entry with its tags.
	Manifest(ctx context.Context, repo string, dgst digest.Digest) (Manifest, error)
	// Manifests returns the entries of nodes that the catalog holds, as
	// Manifest would, in no order, read in one transaction; nodes it does
	// not hold (those of other registries among them) are left out.
	Manifests(ctx context.Context, nodes []Node) ([]Manifest, error)
	// ResolveTag returns the digest a tag points at.
	ResolveTag(ctx context.Context, repo, tag string) (digest.Digest, error)
	// Referrers returns the manifests in repo whose subject is dgst, oldest
	// push first, optionally only those of one artifactType ("" for all).
	Referrers(ctx context.Context, repo string, subject digest.Digest, artifactType string) ([]Manifest, error)
}

// Owners keeps who owns each manifest and its visibility.
type Owners interface {
	// Ownership returns who owns repo@dgst ("" if nobody was recorded) and
	// its visibility; ErrNotFound if the manifest is not in the catalog.
	Ownership(ctx context.Context, repo string, dgst digest.Digest) (owner string, vis Visibility, err error)
	// SetVisibility records vis as the visibility of every manifest ds
	// names in repo, keeping their owners, in one transaction: all of them
	// or none (ErrNotFound if one is not in the catalog). Callers keep to
	// the ladder: the store records what it is given.
	SetVisibility(ctx context.Context, repo string, ds []digest.Digest, vis Visibility) error
	// VisibleTags lists the tags of repo whose manifests v sees, sorted.
	VisibleTags(ctx context.Context, repo string, v *Viewer) ([]string, error)
}

// Lineage walks the edges between manifests (see EdgesOf).
type Lineage interface {
	// Lineage returns the edges reachable from root going dir, at most
	// depth edges away (depth 0: no bound), sorted by child then parent.
	// A walk stops at a node it has seen, so cycles end.
	Lineage(ctx context.Context, root Node, dir Direction, depth int) ([]Edge, error)
}

// Signatures keeps the verification records of manifests' signatures.
type Signatures interface {
	// SetSignatures replaces the signature records of repo@dgst (none
	// removes them); ErrNotFound if the manifest is not in the catalog.
	// Records go with the manifest.
	SetSignatures(ctx context.Context, repo string, dgst digest.Digest, sigs []Signature) error
	// SignatureSubjects lists the manifests of repo ("" for every
	// repository) that signature manifests point at: by subject with
	// artifactType, or by a tag of the form sha256-<hex>.sig. Subjects need
	// not be in the catalog.
	SignatureSubjects(ctx context.Context, repo, artifactType string) ([]Node, error)
}

// Settings keeps values the server must find again at its next start
// (such as the trust policy signature records were checked against).
type Settings interface {
	// Setting returns a value stored with SetSetting, "" if none was.
	Setting(ctx context.Context, key string) (string, error)
	// SetSetting stores value under key, replacing what was there.
	SetSetting(ctx context.Context, key, value string) error
}

// TokenStore keeps API tokens.
type TokenStore interface {
	// CreateToken stores an API token (its hash, never its secret).
	CreateToken(ctx context.Context, t Token) error
	// TokenByHash returns the token whose secret hashes to hash;
	// ErrNotFound if none does.
	TokenByHash(ctx context.Context, hash []byte) (Token, error)
	// Tokens lists every token, oldest first.
	Tokens(ctx context.Context) ([]Token, error)
	// RevokeToken marks a token revoked at at; ErrNotFound if there is no
	// such token.
	RevokeToken(ctx context.Context, id string, at time.Time) error
	// TouchToken records that a token was used at at.
	TouchToken(ctx context.Context, id string, at time.Time) error
}

// PendingMarks records the repositories about to change in the engine.
type PendingMarks interface {
	// MarkPending records that repo is about to change in the engine, before
	// the change is indexed; ClearPending removes that mark once it is. Marks
	// left after a crash tell reindex which repositories to visit.
	MarkPending(ctx context.Context, repo string) (id int64, err error)
	// ClearPending removes the mark id; removing a mark that is gone is
	// not an error.
	ClearPending(ctx context.Context, id int64) error
	// Pending lists the repositories with marks, sorted, without duplicates.
	Pending(ctx context.Context) ([]string, error)
	// ClearPendingRepository removes every mark of repo (after a reindex of it).
	ClearPendingRepository(ctx context.Context, repo string) error
}

// Health is what monitoring asks of the store.
type Health interface {
	// Stats counts what the catalog holds.
	Stats(ctx context.Context) (Stats, error)
	// Ping reports whether the store can be reached.
	Ping(ctx context.Context) error
}

// Stats are the catalog's sizes, exported as metrics.
type Stats struct {
	Repositories int64
	Manifests    int64
	Tags         int64
}

// Token is an API token as the catalog stores it (see package auth): never
// its secret. Zero times are unset.
type Token struct {
	ID         string
	User       string
	Scopes     string // auth.Scopes in text form
	Hash       []byte
	CreatedAt  time.Time
	ExpiresAt  time.Time
	LastUsedAt time.Time
	RevokedAt  time.Time
}
