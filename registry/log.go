package registry

import (
	"context"

	"go.uber.org/zap"
)

type logKey struct{}

// WithLogger returns ctx carrying log, the logger of one request: the
// operations called with ctx log through it, so their lines carry the
// request's fields (its id).
func WithLogger(ctx context.Context, log *zap.Logger) context.Context {
	return context.WithValue(ctx, logKey{}, log)
}

// LoggerFrom returns the logger ctx carries, or fallback.
func LoggerFrom(ctx context.Context, fallback *zap.Logger) *zap.Logger {
	if l, ok := ctx.Value(logKey{}).(*zap.Logger); ok {
		return l
	}
	return fallback
}

func (r *Registry) logger(ctx context.Context) *zap.Logger { return LoggerFrom(ctx, r.log) }
