// Package annotations holds cairn's own annotation keys and the
// conventions around them (what a DerivedFrom annotation may list), and
// the filter grammar of the catalog API (ParseFilter, Filter.Matches).
// The image-spec's keys are ocispec's (image-spec/specs-go/v1).
package annotations

import ocispec "github.com/opencontainers/image-spec/specs-go/v1"

// DerivedFrom lists, comma-separated, the references an artifact was
// computed from (repository@digest, or registry/repository@digest).
const DerivedFrom = "dev.cairn.lineage.derived-from"

// Title is ocispec.AnnotationTitle, the file name of a layer (oras and
// cairn set it), still named here for the catalog, which reads it through
// this package.
const Title = ocispec.AnnotationTitle
