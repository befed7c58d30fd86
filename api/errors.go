package api

// ErrorBody is the body of every error the catalog API answers:
// {"error":{"code":…,"message":…,"detail":…}}.
type ErrorBody struct {
	Error Error `json:"error"`
}

// Error is one error of the catalog API.
type Error struct {
	// Code is stable, such as INVALID_PARAMETER; programs test it.
	Code string `json:"code"`
	// Message says what went wrong and what to do, for a person.
	Message string `json:"message"`
	// Detail names what the error is about: a parameter ("parameter") or a
	// digest ("digest").
	Detail map[string]string `json:"detail,omitempty"`
}

// The codes of the catalog API's errors, with the HTTP status each is
// answered with.
const (
	CodeInvalidParameter = "INVALID_PARAMETER" // 400; Detail["parameter"] names it
	CodeNotFound         = "NOT_FOUND"         // 404
	CodeBlobUnknown      = "BLOB_UNKNOWN"      // 404: no repository holds the digest
	CodeUnavailable      = "UNAVAILABLE"       // 503: the catalog cannot answer; retry
	CodeInternal         = "INTERNAL"          // 500
	CodeTooLarge         = "TOO_LARGE"         // 413: a request body over its limit
	CodeUnauthorized     = "UNAUTHORIZED"      // 401: no or bad credentials
	CodeDenied           = "DENIED"            // 403: the credentials do not allow it
	CodeConflict         = "CONFLICT"          // 409: the artifact's state refuses it
)

// Codes lists every code the catalog API answers.
var Codes = []string{
	CodeInvalidParameter, CodeNotFound, CodeBlobUnknown, CodeUnavailable, CodeInternal,
	CodeTooLarge, CodeUnauthorized, CodeDenied, CodeConflict,
}
