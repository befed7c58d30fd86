// Package annotations holds the annotation keys cairn reads and the
// conventions around them. The filter grammar of the catalog API will live
// here too.
package annotations

const (
	// Title is the file name of a layer (oras and cairn set it).
	Title = "org.opencontainers.image.title"
	// Created is the creation time of an artifact, RFC 3339.
	Created = "org.opencontainers.image.created"
	// DerivedFrom lists, comma-separated, the references an artifact was
	// computed from (repository@digest, or registry/repository@digest).
	DerivedFrom = "dev.cairn.lineage.derived-from"
)
