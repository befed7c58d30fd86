// Package errcode defines cairn's error codes once, each with its HTTP
// status: the OCI distribution-spec codes and the few cairn adds. Handlers
// return *Error values; the façade turns them into the spec's JSON shape.
package errcode

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/cairn-dev/cairn/api"
)

// Code is an error code with the HTTP status it is answered with.
type Code struct {
	Name   string
	Status int
}

// The OCI distribution-spec error codes.
var (
	BlobUnknown         = Code{"BLOB_UNKNOWN", http.StatusNotFound}
	BlobUploadInvalid   = Code{"BLOB_UPLOAD_INVALID", http.StatusBadRequest}
	BlobUploadUnknown   = Code{"BLOB_UPLOAD_UNKNOWN", http.StatusNotFound}
	DigestInvalid       = Code{"DIGEST_INVALID", http.StatusBadRequest}
	ManifestBlobUnknown = Code{"MANIFEST_BLOB_UNKNOWN", http.StatusNotFound}
	ManifestInvalid     = Code{"MANIFEST_INVALID", http.StatusBadRequest}
	ManifestUnknown     = Code{"MANIFEST_UNKNOWN", http.StatusNotFound}
	NameInvalid         = Code{"NAME_INVALID", http.StatusBadRequest}
	NameUnknown         = Code{"NAME_UNKNOWN", http.StatusNotFound}
	SizeInvalid         = Code{"SIZE_INVALID", http.StatusBadRequest}
	Unauthorized        = Code{"UNAUTHORIZED", http.StatusUnauthorized}
	Denied              = Code{"DENIED", http.StatusForbidden}
	Unsupported         = Code{"UNSUPPORTED", http.StatusMethodNotAllowed}
	TooManyRequests     = Code{"TOOMANYREQUESTS", http.StatusTooManyRequests}
)

// Codes cairn adds where the spec has none.
var (
	// TooLarge is SIZE_INVALID answered with 413, for bodies over a limit.
	TooLarge = Code{"SIZE_INVALID", http.StatusRequestEntityTooLarge}
	// Unknown is an error inside cairn; the message never carries internals.
	Unknown = Code{"UNKNOWN", http.StatusInternalServerError}
	// Unavailable says a part cairn needs (engine, catalog) cannot be reached.
	Unavailable = Code{"UNAVAILABLE", http.StatusServiceUnavailable}
	// UpstreamUnreachable says the upstream registry did not answer.
	UpstreamUnreachable = Code{"UNAVAILABLE", http.StatusBadGateway}
	// UpstreamTimeout says the upstream registry answered too slowly.
	UpstreamTimeout = Code{"UNAVAILABLE", http.StatusGatewayTimeout}
)

// Codes of the catalog API (/api/v1), answered in its own shape.
var (
	InvalidParameter = Code{api.CodeInvalidParameter, http.StatusBadRequest}
	NotFound         = Code{api.CodeNotFound, http.StatusNotFound}
	Conflict         = Code{api.CodeConflict, http.StatusConflict}
	BodyTooLarge     = Code{api.CodeTooLarge, http.StatusRequestEntityTooLarge}
	Internal         = Code{api.CodeInternal, http.StatusInternalServerError}
)

// Error is an error to be answered to a client with a code and a message a
// person can act on. Err, if set, is the cause: logged, never sent.
type Error struct {
	Code    Code
	Message string
	Detail  any
	Err     error
}

// New returns an Error with a formatted message.
func New(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an Error with a message that keeps err as its cause.
func Wrap(code Code, err error, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Err: err}
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code.Name, e.Message, e.Err)
	}
	return e.Code.Name + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// WithDetail returns a copy of e with its detail set.
func (e *Error) WithDetail(detail any) *Error {
	c := *e
	c.Detail = detail
	return &c
}

// As returns the *Error in err's chain, or an Unknown error that hides err.
func As(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: Unknown, Message: "internal error; the server log has the cause", Err: err}
}

type ociBody struct {
	Errors []ociError `json:"errors"`
}

type ociError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Detail  any    `json:"detail,omitempty"`
}

// WriteOCI answers err in the distribution-spec JSON shape.
func WriteOCI(w http.ResponseWriter, err error) {
	e := As(err)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Del("Content-Length")
	w.WriteHeader(e.Code.Status)
	_ = json.NewEncoder(w).Encode(ociBody{Errors: []ociError{{Code: e.Code.Name, Message: e.Message, Detail: e.Detail}}})
}

// WriteAPI answers err in the catalog API's shape:
// {"error":{"code":"…","message":"…"}}.
func WriteAPI(w http.ResponseWriter, err error) {
	e := As(err)
	code := e.Code
	if code == Unknown {
		code = Internal
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Del("Content-Length")
	w.WriteHeader(code.Status)
	_ = json.NewEncoder(w).Encode(api.ErrorBody{Error: api.Error{Code: code.Name, Message: e.Message, Detail: stringDetail(e.Detail)}})
}

// stringDetail is a detail as the catalog API sends it: an object of
// strings. Values of other types are left out.
func stringDetail(detail any) map[string]string {
	switch d := detail.(type) {
	case nil:
		return nil
	case map[string]string:
		return d
	case map[string]any:
		out := map[string]string{}
		for k, v := range d {
			if s, ok := v.(string); ok {
				out[k] = s
			}
		}
		return out
	}
	return nil
}
