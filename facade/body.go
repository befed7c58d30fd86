package facade

import (
	"errors"
	"io"
	"net/http"

	"github.com/cairn-dev/cairn/errcode"
)

// readBody reads a catalog API request's body of at most limit bytes:
// one announced larger is refused before it is read, one that turns out
// larger is cut off at the limit. what names the body in errors, with a
// hint of what to send.
func readBody(w http.ResponseWriter, r *http.Request, limit int64, what string) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, errcode.New(errcode.BodyTooLarge, "%s is %d bytes; at most %d are accepted", what, r.ContentLength, limit)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return nil, errcode.New(errcode.BodyTooLarge, "%s is over %d bytes", what, limit)
	case err != nil:
		return nil, errcode.Wrap(errcode.InvalidParameter, err, "reading %s failed: %v", what, err)
	}
	return body, nil
}
