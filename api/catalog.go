package api

import (
	"time"

	"github.com/opencontainers/go-digest"
)

// Repository is a repository as GET /api/v1/repositories lists it.
type Repository struct {
	Name      string `json:"name"`
	Artifacts int64  `json:"artifacts"`
	Tags      int64  `json:"tags"`
	// Size is the sum of its artifacts' total sizes.
	Size     int64     `json:"size"`
	LastPush time.Time `json:"lastPush"`
}

// RepositoryPage is one page of GET /api/v1/repositories.
type RepositoryPage struct {
	Repositories  []Repository `json:"repositories"`
	NextPageToken string       `json:"nextPageToken,omitempty"`
}

// Count is an annotation key or value with the number of selected
// artifacts that have it.
type Count struct {
	Value string `json:"value"`
	Count int64  `json:"count"`
}

// AnnotationKeys is what GET /api/v1/annotations answers.
type AnnotationKeys struct {
	Keys []Count `json:"keys"`
}

// AnnotationValues is what GET /api/v1/annotations/{key}/values answers.
type AnnotationValues struct {
	Key    string  `json:"key"`
	Values []Count `json:"values"`
}

// BlobUse is one place a blob is used.
type BlobUse struct {
	Repository string `json:"repository"`
	// Manifest lists the blob (for kind manifest-self, is the blob).
	Manifest digest.Digest `json:"manifest"`
	// Kind is config, layer, manifest (an index's child) or manifest-self.
	Kind      string `json:"kind"`
	MediaType string `json:"mediaType"`
	Size      int64  `json:"size"`
	Title     string `json:"title,omitempty"`
}

// BlobUses is what GET /api/v1/blobs/{digest} answers.
type BlobUses struct {
	Digest digest.Digest `json:"digest"`
	Uses   []BlobUse     `json:"uses"`
}

// EventReceipt is what POST /api/v1/events answers: "queued" with the
// repository to reindex, or "ignored".
type EventReceipt struct {
	Status     string `json:"status"`
	Repository string `json:"repository,omitempty"`
}
