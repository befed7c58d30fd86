package api

// The catalog API's query parameters.
const (
	// ParamRepository selects one repository by its exact name.
	ParamRepository = "repository"
	// ParamRepositoryPrefix selects repositories whose name starts with it.
	ParamRepositoryPrefix = "repository_prefix"
	// ParamArtifactType selects an artifact type (or, in lineage walks,
	// keeps only nodes of that type).
	ParamArtifactType = "artifact_type"
	// ParamMediaType selects a manifest media type.
	ParamMediaType = "media_type"
	// ParamTag selects artifacts carrying a tag.
	ParamTag = "tag"
	// ParamAnnotation is an annotation filter expression; it may repeat.
	ParamAnnotation = "annotation"
	// ParamText is the full-text search.
	ParamText = "q"
	// ParamSubject selects the referrers of a manifest digest.
	ParamSubject = "subject"
	// ParamHasSubject selects artifacts with (true) or without (false) a
	// subject.
	ParamHasSubject = "has_subject"
	// ParamSigned selects artifacts with (true) or without (false) a
	// verified signature.
	ParamSigned = "signed"
	// ParamPushedAfter and ParamPushedBefore bound the push time (RFC 3339).
	ParamPushedAfter  = "pushed_after"
	ParamPushedBefore = "pushed_before"

	// ParamSort orders artifact lists.
	ParamSort = "sort"
	// ParamLimit is a page's size.
	ParamLimit = "limit"
	// ParamPageToken continues a list where the previous page ended.
	ParamPageToken = "page_token"

	// ParamPrefix selects repositories by name prefix in
	// /api/v1/repositories.
	ParamPrefix = "prefix"
	// ParamID is the content id /api/v1/resolve resolves.
	ParamID = "id"

	// ParamDirection is a lineage walk's direction: up, down or both.
	ParamDirection = "direction"
	// ParamDepth bounds a lineage walk in edges (0: no bound).
	ParamDepth = "depth"
	// ParamInclude is what a lineage walk includes as nodes: attachments.
	ParamInclude = "include"
	// ParamFormat is a lineage answer's format: json, dot or mermaid.
	ParamFormat = "format"

	// ParamTo is the visibility a promotion moves an artifact to.
	ParamTo = "to"
)

// ArtifactFilters are the parameters every endpoint that selects
// artifacts takes (/api/v1/artifacts and the annotation facets).
var ArtifactFilters = []string{
	ParamRepository, ParamRepositoryPrefix, ParamArtifactType, ParamMediaType, ParamTag,
	ParamAnnotation, ParamText, ParamSubject, ParamHasSubject, ParamSigned,
	ParamPushedAfter, ParamPushedBefore,
}

// Values of ParamInclude, ParamDirection and ParamFormat.
const (
	IncludeAttachments = "attachments"

	DirectionUp   = "up"
	DirectionDown = "down"
	DirectionBoth = "both"

	FormatJSON    = "json"
	FormatDot     = "dot"
	FormatMermaid = "mermaid"
)
