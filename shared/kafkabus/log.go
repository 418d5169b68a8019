package kafkabus

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/segmentio/kafka-go"
)

// orDiscard returns l, or a logger that drops everything when l is nil, so
// callers may leave Logger unset in tests.
func orDiscard(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

// kafkaLoggers routes kafka-go's printf-style logs to l: its chatty internal
// log at Debug and its error log at Warn, since kafka-go retries most of
// what it reports there and a real failure surfaces again as a returned
// error that we log ourselves.
func kafkaLoggers(l *slog.Logger) (info, errs kafka.Logger) {
	return levelLogger(l, slog.LevelDebug), levelLogger(l, slog.LevelWarn)
}

// levelLogger adapts l to kafka.Logger at a fixed level, formatting only when
// that level is enabled.
func levelLogger(l *slog.Logger, lvl slog.Level) kafka.Logger {
	return kafka.LoggerFunc(func(format string, args ...any) {
		ctx := context.Background()
		if !l.Enabled(ctx, lvl) {
			return
		}
		l.Log(ctx, lvl, fmt.Sprintf(format, args...), "component", "kafka-go")
	})
}
