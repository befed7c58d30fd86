package facade

import (
	"bytes"
	"io"
	"net/http"

	"github.com/cairn-dev/cairn/backend"
)

// passNamingUnknownRepos passes a read to the engine; when the engine
// answers 404 for a repository storage has never held, the client gets the
// spec's NAME_UNKNOWN instead. Other answers stream through untouched.
func (s *registryAPI) passNamingUnknownRepos(w http.ResponseWriter, r *http.Request, rt v2Route) error {
	rc, ok := s.engine.(backend.RepositoryChecker)
	if !ok {
		return s.pass(w, r)
	}
	c := &notFoundCatcher{ResponseWriter: w}
	s.engine.ServeHTTP(c, r)
	if !c.caught {
		return nil
	}
	if exists, err := rc.RepositoryExists(r.Context(), rt.name); err == nil && !exists {
		return errNameUnknown(rt.name)
	}
	w.WriteHeader(http.StatusNotFound)
	_, err := io.Copy(w, &c.body)
	return err
}

// notFoundCatcher holds back a 404 answer (small: an error body) and lets
// every other answer through as it is written.
type notFoundCatcher struct {
	http.ResponseWriter
	caught, wrote bool
	body          bytes.Buffer
}

func (c *notFoundCatcher) WriteHeader(code int) {
	if code == http.StatusNotFound && !c.wrote {
		c.caught = true
		return
	}
	c.wrote = true
	c.ResponseWriter.WriteHeader(code)
}

func (c *notFoundCatcher) Write(b []byte) (int, error) {
	if c.caught {
		return c.body.Write(b)
	}
	c.wrote = true
	return c.ResponseWriter.Write(b)
}

// ReadFrom keeps the fast copy path of the writer underneath.
func (c *notFoundCatcher) ReadFrom(src io.Reader) (int64, error) {
	if c.caught {
		return c.body.ReadFrom(src)
	}
	c.wrote = true
	if rf, ok := c.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(src)
	}
	return io.Copy(writerOnly{c.ResponseWriter}, src)
}
