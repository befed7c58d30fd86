package facade

// catalogAPI answers the catalog API under /api/v1/ (and content ids under
// /resolve/): the front door of scripts and cairn's own CLI. Its handlers,
// one file per resource (artifacts.go, promote.go, lineage.go,
// catalogapi.go for repositories, facets, blobs and content ids,
// tokens.go, trust.go, events.go), parse parameters, call the core or
// the catalog's queries, and render the api package's types.
type catalogAPI struct{ *Server }
