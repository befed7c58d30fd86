package facade

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"regexp"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/cairn-dev/cairn/errcode"
	"github.com/cairn-dev/cairn/registry"
)

// requestIDRE bounds what an incoming X-Request-Id may be before it is
// echoed and logged.
var requestIDRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// withRequestID gives every request an id (the client's, if sane) and a
// logger that carries it.
func (s *Server) withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if !requestIDRE.MatchString(id) {
			var b [8]byte
			_, _ = rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		w.Header().Set("X-Request-Id", id)
		log := s.log.With(zap.String("request_id", id))
		next.ServeHTTP(w, r.WithContext(registry.WithLogger(r.Context(), log)))
	})
}

// logger returns the request's logger.
func (s *Server) logger(ctx context.Context) *zap.Logger { return registry.LoggerFrom(ctx, s.log) }

// handlerFunc is the shape of every façade handler: it writes a success
// itself and returns an error for everything else.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// adapt turns a handlerFunc into an http.Handler that writes returned errors
// in the OCI JSON shape, logs one line per request, and counts it.
func (s *Server) adapt(class string, h handlerFunc) http.Handler {
	return s.adaptWith(class, errcode.WriteOCI, h)
}

// adaptAPI is adapt for the catalog API, whose errors have its own shape.
func (s *Server) adaptAPI(class string, h handlerFunc) http.Handler {
	return s.adaptWith(class, errcode.WriteAPI, h)
}

func (s *Server) adaptWith(class string, writeErr func(http.ResponseWriter, error), h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rw := &recorder{ResponseWriter: w}
		in := &countingBody{ReadCloser: r.Body}
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = in
		}
		err := h(rw, r)
		if err != nil {
			if rw.status != 0 {
				// The answer has begun: nothing sensible can follow it.
				s.logger(r.Context()).Warn("error after response started", zap.Error(err))
			} else {
				writeErr(rw, err)
			}
		}
		status := rw.status
		if status == 0 {
			status = http.StatusOK
		}
		s.metrics.observe(class, r.Method, status, in.n, rw.n, time.Since(start))

		lvl := zapcore.InfoLevel
		if status >= 500 {
			lvl = zapcore.ErrorLevel
		} else if class == "health" || class == "version" {
			lvl = zapcore.DebugLevel
		}
		if ce := s.logger(r.Context()).Check(lvl, "request"); ce != nil {
			fields := []zap.Field{
				zap.String("method", r.Method),
				zap.String("path", r.URL.Path),
				zap.String("route", class),
				zap.Int("status", status),
				zap.Int64("bytes_in", in.n),
				zap.Int64("bytes_out", rw.n),
				zap.Duration("duration", time.Since(start)),
			}
			if err != nil {
				fields = append(fields, zap.Error(err))
			}
			ce.Write(fields...)
		}
	})
}
