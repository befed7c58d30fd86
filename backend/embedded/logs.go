package embedded

import (
	"io"
	"sync"

	"github.com/sirupsen/logrus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

var routeOnce sync.Once

// routeLibraryLogs sends the library's logrus output (a process-wide logger
// it writes to directly) into zap at warning level and above; its info
// lines repeat what the façade logs per request.
func routeLibraryLogs(log *zap.Logger) {
	routeOnce.Do(func() {
		logrus.SetOutput(io.Discard)
		logrus.SetLevel(logrus.WarnLevel)
		logrus.AddHook(&zapHook{log: log.Named("engine")})
	})
}

type zapHook struct{ log *zap.Logger }

func (h *zapHook) Levels() []logrus.Level {
	return []logrus.Level{logrus.PanicLevel, logrus.FatalLevel, logrus.ErrorLevel, logrus.WarnLevel}
}

func (h *zapHook) Fire(e *logrus.Entry) error {
	fields := make([]zap.Field, 0, len(e.Data))
	for k, v := range e.Data {
		fields = append(fields, zap.Any(k, v))
	}
	lvl := zapcore.WarnLevel
	if e.Level <= logrus.ErrorLevel {
		lvl = zapcore.ErrorLevel
	}
	if ce := h.log.Check(lvl, e.Message); ce != nil {
		ce.Write(fields...)
	}
	return nil
}
