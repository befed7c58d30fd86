package facade

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/cairn-dev/cairn/errcode"
)

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	return writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 200 only when the engine and the catalog both answer.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	status := map[string]string{"engine": "ok", "catalog": "ok"}
	code := http.StatusOK
	if err := s.engine.Ready(ctx); err != nil {
		status["engine"] = err.Error()
		code = http.StatusServiceUnavailable
	}
	if err := s.store.Ping(ctx); err != nil {
		status["catalog"] = err.Error()
		code = http.StatusServiceUnavailable
	}
	return writeJSON(w, code, status)
}

func (s *Server) serveVersion(w http.ResponseWriter, r *http.Request) error {
	return writeJSON(w, http.StatusOK, s.versionInfo)
}

// writeJSON answers v as JSON with status code.
func writeJSON(w http.ResponseWriter, code int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	return writeBody(w, nil, code, v)
}

// writeJSONAs answers v as JSON with 200 and the Content-Type already set,
// and no body to a HEAD request.
func writeJSONAs(w http.ResponseWriter, r *http.Request, v any) error {
	return writeBody(w, r, http.StatusOK, v)
}

func writeBody(w http.ResponseWriter, r *http.Request, code int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return errcode.Wrap(errcode.Unknown, err, "encoding the answer failed")
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(code)
	if r != nil && r.Method == http.MethodHead {
		return nil
	}
	_, err = w.Write(b)
	return err
}
