// Package logx builds the slog loggers ratewire services use: one per
// service, tagged with a `service` attribute, in text or JSON, at the
// configured level. Nothing here touches slog's global default, because
// devstack runs four services in one process.
package logx

import (
	"io"
	"log/slog"
	"strings"
)

// New returns a logger writing to w in format ("json" or "text") at level
// ("debug", "info", "warn", "error"; anything else means info), with the
// service attribute on every line.
func New(w io.Writer, level, format, service string) *slog.Logger {
	opts := &slog.HandlerOptions{Level: ParseLevel(level)}
	var h slog.Handler
	if strings.EqualFold(format, "json") {
		h = slog.NewJSONHandler(w, opts)
	} else {
		h = slog.NewTextHandler(w, opts)
	}
	l := slog.New(h)
	if service != "" {
		l = l.With("service", service)
	}
	return l
}

// ParseLevel maps a level name to its slog.Level; unknown names are Info.
func ParseLevel(s string) slog.Level {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug
	case "warn", "warning":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	default:
		return slog.LevelInfo
	}
}

// Discard is a logger that drops everything, for tests and benchmarks.
func Discard() *slog.Logger { return slog.New(slog.DiscardHandler) }
