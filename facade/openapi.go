package facade

import (
	_ "embed"
	"net/http"
)

// openAPIDocument describes the catalog API; it is kept in the repository
// beside the handlers and checked against the routes by a test.
//
//go:embed openapi.json
var openAPIDocument []byte

func (s *catalogAPI) openAPI(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return nil
	}
	_, err := w.Write(openAPIDocument)
	return err
}
