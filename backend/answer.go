package backend

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
)

// Answer is an engine's answer held in memory, so that cairn can act on it
// (index what was stored, correct headers) before a client sees it. Only
// small answers are held: manifest writes and reads, upload completions,
// tag lists; never blob bodies.
type Answer struct {
	Status int
	Body   bytes.Buffer
	header http.Header
}

// Call sends req to engine and holds its answer.
func Call(engine http.Handler, req *http.Request) *Answer {
	a := &Answer{header: http.Header{}}
	engine.ServeHTTP(a, req)
	if a.Status == 0 {
		a.Status = http.StatusOK
	}
	return a
}

// Header is the answer's header: the engine fills it, cairn corrects it.
func (a *Answer) Header() http.Header { return a.header }

// WriteHeader records the status (the first one given counts).
func (a *Answer) WriteHeader(code int) {
	if a.Status == 0 {
		a.Status = code
	}
}

// Write holds body bytes.
func (a *Answer) Write(p []byte) (int, error) {
	if a.Status == 0 {
		a.Status = http.StatusOK
	}
	return a.Body.Write(p)
}

// SetBody replaces the body with b, of contentType.
func (a *Answer) SetBody(contentType string, b []byte) {
	a.header.Set("Content-Type", contentType)
	a.header.Set("Content-Length", strconv.Itoa(len(b)))
	a.Body.Reset()
	a.Body.Write(b)
}

// CopyTo sends the held answer to w.
func (a *Answer) CopyTo(w http.ResponseWriter) error {
	h := w.Header()
	for k, v := range a.header {
		h[k] = v
	}
	if a.Body.Len() > 0 || h.Get("Content-Length") != "" {
		h.Set("Content-Length", strconv.Itoa(a.Body.Len()))
	}
	status := a.Status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, err := io.Copy(w, &a.Body)
	return err
}
