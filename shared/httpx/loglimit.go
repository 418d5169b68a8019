package httpx

import (
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/ratewire/ratewire/shared/apperr"
)

// Error-log flood control. A dependency outage fails every request the
// same way; one ERROR line per request buries everything else (1,685 lines
// in 30 s were seen). So Error logs the first failure of a route and kind,
// counts the repeats for ErrorLogWindow and reports them as "suppressed"
// on the next line it logs for that route and kind.
const (
	// ErrorLogWindow is how long repeats of a logged failure are counted
	// instead of logged.
	ErrorLogWindow = 10 * time.Second
	// MaxLogText bounds the error text of a logged line: a relay once
	// logged a 47,860-byte line.
	MaxLogText = 2 << 10

	// maxLogKeys bounds the limiter's state; keys are route templates
	// times two kinds, so only an engine with more routes than this meets
	// it, and then the surplus is logged unlimited rather than dropped.
	maxLogKeys = 1024
)

// logLimiter is one engine's memory of recently logged failures.
type logLimiter struct {
	mu   sync.Mutex
	seen map[logKey]*logWindow
}

// logKey is what the limiter counts by: a kind of line ("access", or a
// failure's apperr kind) on a method and route. A struct, so that a
// request does not build a string to look its key up.
type logKey struct{ kind, method, route string }

type logWindow struct {
	start      time.Time // when the window's first line was logged
	logged     int       // lines logged in the window
	suppressed int       // repeats in the window, not logged
}

func newLogLimiter() *logLimiter { return &logLimiter{seen: map[logKey]*logWindow{}} }

// allow says whether an event under key happening at now is logged, and
// if so how many were suppressed since the last logged one: the first
// burst events of a key in ErrorLogWindow are logged, the rest counted.
func (l *logLimiter) allow(key logKey, now time.Time, burst int) (bool, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	w, ok := l.seen[key]
	if ok && now.Sub(w.start) < ErrorLogWindow {
		if w.logged < burst {
			w.logged++
			return true, 0
		}
		w.suppressed++
		return false, 0
	}
	if !ok {
		if len(l.seen) >= maxLogKeys {
			return true, 0
		}
		w = &logWindow{}
		l.seen[key] = w
	}
	n := w.suppressed
	*w = logWindow{start: now, logged: 1}
	return true, n
}

// logFailure logs an internal or unavailable failure at ERROR through the
// engine's limiter (outside NewEngine, every one), with bounded text.
func logFailure(c *gin.Context, msg string, kind apperr.Kind, err error, status int) {
	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	attrs := []any{"err", boundText(err.Error()), "status", status, "route", route}
	if r := requestOf(c); r != nil {
		logged, suppressed := r.ll.allow(logKey{kind: kind.String(), route: route}, r.now(), 1)
		if !logged {
			return
		}
		if suppressed > 0 {
			attrs = append(attrs, "suppressed", suppressed)
		}
	}
	Logger(c).Error(msg, attrs...)
}

// boundText cuts s to MaxLogText bytes (on a rune boundary), saying how
// much was cut.
func boundText(s string) string {
	if len(s) <= MaxLogText {
		return s
	}
	cut := MaxLogText
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "... (" + strconv.Itoa(len(s)-cut) + " bytes cut)"
}
