package facade

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
)

// bufferedResponse holds an engine's answer so the façade can act on it
// (index, add headers) before the client sees it. Only small answers are
// buffered: manifest writes and upload completions, never blob bodies.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func newBufferedResponse() *bufferedResponse {
	return &bufferedResponse{header: http.Header{}}
}

func (b *bufferedResponse) Header() http.Header { return b.header }

func (b *bufferedResponse) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}

func (b *bufferedResponse) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}

// copyTo sends the held answer to w.
func (b *bufferedResponse) copyTo(w http.ResponseWriter) error {
	h := w.Header()
	for k, v := range b.header {
		h[k] = v
	}
	if b.body.Len() > 0 || h.Get("Content-Length") != "" {
		h.Set("Content-Length", strconv.Itoa(b.body.Len()))
	}
	status := b.status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, err := io.Copy(w, &b.body)
	return err
}

// forward sends r to the engine and holds its answer.
func (s *Server) forward(r *http.Request) *bufferedResponse {
	br := newBufferedResponse()
	s.engine.ServeHTTP(br, r)
	return br
}

// pass hands a request to the engine unchanged, streaming both ways.
func (s *Server) pass(w http.ResponseWriter, r *http.Request) error {
	s.engine.ServeHTTP(w, r)
	return nil
}
