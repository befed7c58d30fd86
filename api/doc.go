// Package api holds the catalog API's wire types: one Go type for every
// JSON object /api/v1 answers or accepts, and the names of its query
// parameters. The server (facade) renders these types and the client
// decodes them, so the two cannot drift apart; openapi.json is checked
// against them field by field.
//
// The package holds no behaviour: no handlers, no validation, no
// conversion from the catalog's types. State one side keeps for itself
// (a node the caller may not see, the raw bytes an answer arrived as)
// stays out of these types.
package api
