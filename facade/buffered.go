package facade

import (
	"net/http"

	"github.com/cairn-dev/cairn/backend"
)

// forward sends r to the engine and holds its answer, for the handlers
// that read or correct it before the client sees it.
func (s *registryAPI) forward(r *http.Request) *backend.Answer { return backend.Call(s.engine, r) }

// pass hands a request to the engine unchanged, streaming both ways.
func (s *registryAPI) pass(w http.ResponseWriter, r *http.Request) error {
	s.engine.ServeHTTP(w, r)
	return nil
}
