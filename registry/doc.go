// Package registry holds cairn's operations: what happens when a manifest
// is pushed (checked, ordered per repository, marked pending, written to
// the engine, indexed, its signatures' subjects re-verified), deleted (with
// the protection plan of the lineage graph and its cascade), promoted (up
// the visibility ladder with what is attached to it, in one catalog
// transaction), verified against the trust policy, resolved from a content
// id, and repaired when the catalog fell behind the engine.
//
// It holds every rule of who may see what (the AccessPolicy), so that the
// registry API, the catalog API and the web catalog answer alike. It does
// not parse HTTP requests or render answers: package facade does. It
// reaches the engine through package backend and the catalog through the
// small interfaces of package catalog.
package registry
