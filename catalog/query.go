package catalog

import (
	"context"
	"errors"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/cairn-dev/cairn/annotations"
)

// ErrInvalidQuery is returned (wrapped) by a Querier for a query it cannot
// answer: a malformed filter, an unknown sort field, a cursor that does not
// belong to the sort, text that is not UTF-8 or holds NUL.
var ErrInvalidQuery = errors.New("invalid catalog query")

// Query selects artifacts (manifests). Every field that is set narrows the
// selection; the zero Query selects everything.
type Query struct {
	Repository       string
	RepositoryPrefix string
	ArtifactType     string
	MediaType        string
	// Tag keeps manifests that carry this tag.
	Tag string
	// Annotations must all hold (see annotations.ParseFilter for the
	// grammar). Range comparisons are numeric when both sides are numbers,
	// by instant when both are RFC 3339, otherwise by text. key!=v holds
	// for artifacts without the key too.
	Annotations []annotations.Filter
	// Text is searched as a substring of annotation values, repository
	// names and tags, folding the case of ASCII letters only.
	Text string
	// Subject keeps the manifests whose subject is this digest.
	Subject digest.Digest
	// HasSubject, when set, keeps manifests with (true) or without (false)
	// a subject.
	HasSubject *bool
	// Signed, when set, keeps manifests with (true) or without (false) a
	// verified signature.
	Signed *bool
	// PushedAfter and PushedBefore bound the push time (exclusive); zero is
	// unbounded.
	PushedAfter  time.Time
	PushedBefore time.Time
	// Viewer, when set, keeps the artifacts it sees (Viewer.Sees).
	Viewer *Viewer
}

// SortField is what artifacts are ordered by. Ties are broken by
// repository, then digest, in the sort's direction, so every order is
// total and pages are stable. The zero Sort is oldest push first.
type SortField int

// The sort fields.
const (
	SortPushed SortField = iota
	SortRepository
	SortSize
	SortAnnotation
)

// Sort orders artifacts.
type Sort struct {
	Field SortField
	// Key is the annotation key for SortAnnotation. Artifacts without it
	// come after those with it, in either direction.
	Key  string
	Desc bool
}

// Cursor is the position after the last artifact of a page. The API hands
// it to clients in a signed, opaque page token.
type Cursor struct {
	// Value is the sort value of the last artifact, as the store encodes it
	// (push time in microseconds, total size, annotation sort key or
	// repository); Missing is set when that artifact lacked the annotation
	// sorted by.
	Value      string        `json:"v,omitempty"`
	Missing    bool          `json:"m,omitempty"`
	Repository string        `json:"r"`
	Digest     digest.Digest `json:"d"`
}

// ArtifactPage is one page of a query's answer.
type ArtifactPage struct {
	Artifacts []Manifest
	// Next is nil on the last page.
	Next *Cursor
}

// RepositorySummary describes one repository.
type RepositorySummary struct {
	Name      string
	Artifacts int64
	Tags      int64
	// Size is the sum of the artifacts' total sizes (a blob shared by two
	// artifacts counts twice).
	Size     int64
	LastPush time.Time
}

// Count is a value (an annotation key or value) with how many artifacts
// have it.
type Count struct {
	Value string
	Count int64
}

// BlobUse is one place a blob is used: as config, layer or child manifest
// of a manifest, or as a manifest itself (Kind "manifest-self").
type BlobUse struct {
	Repository string
	Manifest   digest.Digest
	Kind       string
	MediaType  string
	Size       int64
	Title      string
	// Owner and Visibility are the manifest's (see Manifest).
	Owner      string
	Visibility Visibility
}

// Querier answers the catalog API's questions. Both stores implement it
// and pass catalog/storetest.
type Querier interface {
	// Artifacts returns up to limit artifacts matching q in the order s,
	// starting after the cursor (nil for the first page).
	Artifacts(ctx context.Context, q Query, s Sort, limit int, after *Cursor) (ArtifactPage, error)
	// RepositorySummaries lists repositories whose names start with prefix,
	// by name, after the name after ("" for the first page), up to limit,
	// counting only the artifacts v sees and listing only repositories
	// where it sees one (v nil: all).
	RepositorySummaries(ctx context.Context, prefix, after string, v *Viewer, limit int) ([]RepositorySummary, error)
	// AnnotationKeys counts, for each annotation key, the artifacts
	// matching q that have it; most used first, then by key; up to limit.
	AnnotationKeys(ctx context.Context, q Query, limit int) ([]Count, error)
	// AnnotationValues counts, for each value of key, the artifacts
	// matching q that have it; most used first, then by value; up to limit.
	AnnotationValues(ctx context.Context, key string, q Query, limit int) ([]Count, error)
	// BlobUses lists where a blob is used, by repository then manifest; up
	// to limit; only in repo unless it is "", and only in the manifests v
	// sees (v nil: all). An unknown blob has no uses (not an error).
	BlobUses(ctx context.Context, dgst digest.Digest, repo string, v *Viewer, limit int) ([]BlobUse, error)
}
