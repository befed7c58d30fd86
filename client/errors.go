package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"unicode"

	"github.com/opencontainers/go-digest"

	"github.com/cairn-dev/cairn/api"
)

// The codes of the catalog API's errors.
const (
	CodeInvalidParameter = api.CodeInvalidParameter // 400; Detail["parameter"] names it
	CodeNotFound         = api.CodeNotFound         // 404
	CodeBlobUnknown      = api.CodeBlobUnknown      // 404: no repository holds the digest
	CodeUnavailable      = api.CodeUnavailable      // 503: the catalog cannot answer; retry
	CodeInternal         = api.CodeInternal         // 500
	CodeTooLarge         = api.CodeTooLarge         // 413: a request body over its limit
	CodeUnauthorized     = api.CodeUnauthorized     // 401: no or bad credentials
	CodeDenied           = api.CodeDenied           // 403: the credentials do not allow it
	CodeConflict         = api.CodeConflict         // 409: the artifact's state refuses it (a demotion)
)

// Error is an error the server answered: the catalog API's
// {"error":{"code","message","detail"}} or, from the registry API a
// redirect leads to, the first of the distribution spec's
// {"errors":[…]}.
type Error struct {
	StatusCode int
	// Code is the API's code, such as CodeInvalidParameter; empty when the
	// answer was not in either error shape.
	Code    string
	Message string
	Detail  map[string]string
}

// Error returns the server's message, which is written for a person.
func (e *Error) Error() string {
	if e.Message != "" {
		return e.Message
	}
	return fmt.Sprintf("the server answered %d %s", e.StatusCode, http.StatusText(e.StatusCode))
}

// Parameter returns the request parameter the error names, if any.
func (e *Error) Parameter() string { return e.Detail["parameter"] }

// HasCode reports whether err is, or wraps, an *Error with the code.
func HasCode(err error, code string) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}

// IsNotFound reports whether err says that what was asked for does not
// exist (any 404, such as NOT_FOUND or BLOB_UNKNOWN).
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.StatusCode == http.StatusNotFound
}

// UnreachableError says the server did not answer at all.
type UnreachableError struct {
	URL string // the server's base URL
	Err error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("cannot reach the cairn server at %s: %v", e.URL, e.Err)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// ErrDigestMismatch is returned (wrapped) when the bytes served for a
// content id do not hash to it.
var ErrDigestMismatch = errors.New("digest mismatch")

func digestMismatch(want, got digest.Digest) error {
	return fmt.Errorf("%w: the bytes served for %s hash to %s", ErrDigestMismatch, ContentID(want), got)
}

// maxErrorBody bounds how much of an error answer is read.
const maxErrorBody = 64 << 10

// readError turns a non-2xx answer into an *Error.
func readError(res *http.Response) *Error {
	e := &Error{StatusCode: res.StatusCode}
	body, _ := io.ReadAll(io.LimitReader(res.Body, maxErrorBody))
	var apiBody api.ErrorBody
	var oci struct {
		Errors []struct {
			Code    string          `json:"code"`
			Message string          `json:"message"`
			Detail  json.RawMessage `json:"detail"`
		} `json:"errors"`
	}
	switch {
	case json.Unmarshal(body, &apiBody) == nil && apiBody.Error.Code != "":
		e.Code, e.Message, e.Detail = apiBody.Error.Code, apiBody.Error.Message, apiBody.Error.Detail
	case json.Unmarshal(body, &oci) == nil && len(oci.Errors) > 0 && oci.Errors[0].Code != "":
		first := oci.Errors[0]
		e.Code, e.Message, e.Detail = first.Code, first.Message, detailOf(first.Detail)
	default:
		// Not cairn's shape (a proxy, or not a cairn server): say what came.
		e.Message = fmt.Sprintf("the server answered %d %s", res.StatusCode, http.StatusText(res.StatusCode))
		if text := firstLine(body); text != "" && !strings.HasPrefix(text, "<") {
			e.Message += ": " + text
		}
		if res.Request != nil && res.Request.URL != nil {
			e.Message += " (GET " + res.Request.URL.Redacted() + ")"
		}
	}
	return e
}

// detailOf keeps a detail object's string values.
func detailOf(raw json.RawMessage) map[string]string {
	var m map[string]any
	if len(raw) == 0 || json.Unmarshal(raw, &m) != nil {
		return nil
	}
	out := map[string]string{}
	for k, v := range m {
		if s, ok := v.(string); ok {
			out[k] = s
		}
	}
	return out
}

// firstLine returns the first line of a text body, short and printable.
func firstLine(body []byte) string {
	s, _, _ := strings.Cut(string(body), "\n")
	s = strings.TrimSpace(strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return -1
	}, s))
	if r := []rune(s); len(r) > 200 {
		s = string(r[:200]) + "…"
	}
	return s
}
