package httpapi

import (
	"bufio"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ratewire/ratewire/currency/internal/live"
	"github.com/ratewire/ratewire/shared/apperr"
	"github.com/ratewire/ratewire/shared/httpx"
)

// Stream defaults.
const (
	// DefaultHeartbeat is how often a stream sends a comment, so proxies
	// and clients can tell a quiet stream from a dead one.
	DefaultHeartbeat = 15 * time.Second
	// streamWriteTimeout bounds one write to a subscriber: a client that
	// takes no bytes for this long is dropped (its changes had been
	// coalescing meanwhile, never blocking anyone else). It replaces the
	// server's WriteTimeout, which would end every stream after 30 s.
	streamWriteTimeout = 30 * time.Second
	// streamRetry is the reconnection delay (ms) EventSource clients are
	// told to use.
	streamRetry = 2000
	// streamBusyRetryAfter is the Retry-After of a 503 past the bound.
	streamBusyRetryAfter = 5 * time.Second
)

// StreamOptions configures the rate stream; zero fields take defaults.
type StreamOptions struct {
	// Heartbeat is the interval of keep-alive comments; 0 means
	// DefaultHeartbeat.
	Heartbeat time.Duration
	// NewTicker makes the heartbeat ticker; nil means time.NewTicker.
	// Tests pass one they tick by hand.
	NewTicker func(d time.Duration) (<-chan time.Time, func())
	// ReadyWait bounds how long a request waits for the view's seed (the
	// first moments of a start, or a start with the database down) before
	// it is answered 503; 0 means DefaultReadyWait.
	ReadyWait time.Duration
}

// DefaultReadyWait is StreamOptions.ReadyWait's default.
const DefaultReadyWait = 10 * time.Second

// RegisterStream mounts GET /api/v1/currencies/stream, the Server-Sent
// Events stream of rate changes from the in-process view v (DESIGN.md §8).
//
// Each applied change is one event: "id: CODE:version" and "data:" the
// JSON object GET /{code} answers for that version, taken from the view as
// the rates service encoded it. A (re)connection first gets what it lacks
// (live.View.Subscribe has the rule: the changes after Last-Event-ID when
// the ring still holds it, and the current state of every other subscribed
// code), then every change as it is applied. Last-Event-ID comes from the
// header, or from the last_event_id query parameter for clients that
// cannot set headers; the header wins. Every Heartbeat the stream gets a
// ": heartbeat" comment. Past the view's subscriber bound, and when the
// view is not seeded within ReadyWait, the answer is 503
// SERVICE_UNAVAILABLE with Retry-After; when the view closes (the
// service shuts down) every stream ends cleanly, and an EventSource
// reconnects, to another replica when there is one.
func RegisterStream(r gin.IRouter, v *live.View, o StreamOptions) {
	if o.Heartbeat <= 0 {
		o.Heartbeat = DefaultHeartbeat
	}
	if o.ReadyWait <= 0 {
		o.ReadyWait = DefaultReadyWait
	}
	if o.NewTicker == nil {
		o.NewTicker = func(d time.Duration) (<-chan time.Time, func()) {
			t := time.NewTicker(d)
			return t.C, t.Stop
		}
	}
	r.GET("/api/v1/currencies/stream", func(c *gin.Context) { serveStream(c, v, o) })
}

func serveStream(c *gin.Context, v *live.View, o StreamOptions) {
	symbols, err := ParseSymbols(c.Query("symbols"))
	if err != nil {
		httpx.Error(c, err)
		return
	}
	for _, s := range symbols {
		if s == "KRW" {
			httpx.Error(c, apperr.NotFound("KRW is the base currency: it has no rate of its own"))
			return
		}
	}
	lastID := c.GetHeader("Last-Event-ID")
	if lastID == "" {
		lastID = c.Query("last_event_id")
	}
	if lastID != "" {
		if _, _, err := live.ParseID(lastID); err != nil {
			httpx.Error(c, apperr.Invalid(apperr.CodeInvalidParameter, err.Error(),
				map[string]any{"parameter": "last_event_id", "format": "CODE:version"}))
			return
		}
	}
	ctx := c.Request.Context()
	// Not seeded yet (the first moments of a start, or the database is
	// down): wait a little rather than answer an incomplete first state,
	// then refuse.
	select {
	case <-v.Ready():
	default:
		wait := time.NewTimer(o.ReadyWait)
		defer wait.Stop()
		select {
		case <-v.Ready():
		case <-ctx.Done():
			return
		case <-wait.C:
			c.Header("Retry-After", strconv.Itoa(int(streamBusyRetryAfter/time.Second)))
			httpx.Error(c, apperr.Unavailable("the rate stream is starting (its rates are not loaded yet); retry shortly",
				errors.New("live view not seeded")))
			return
		}
	}
	sub, err := v.Subscribe(symbols, lastID)
	if err != nil {
		if errors.Is(err, live.ErrTooManySubscribers) {
			c.Header("Retry-After", strconv.Itoa(int(streamBusyRetryAfter/time.Second)))
			httpx.Error(c, apperr.Unavailable("too many rate stream subscribers on this instance; retry later", err))
			return
		}
		httpx.Error(c, apperr.Unavailable("the rate stream is shutting down; reconnect", err))
		return
	}
	defer sub.Close()

	// The response controller reaches the connection through gin's and
	// httpx's writers (both unwrap): it flushes each event, and moves the
	// write deadline along so the server's WriteTimeout does not end the
	// stream.
	rc := http.NewResponseController(c.Writer)
	h := c.Writer.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	// nginx and similar proxies: do not buffer this answer.
	h.Set("X-Accel-Buffering", "no")
	c.Status(http.StatusOK)
	log := httpx.Logger(c)

	bw := bufio.NewWriterSize(c.Writer, 8<<10)
	send := func() bool {
		if err := rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout)); err != nil {
			log.Error("rate stream cannot set a write deadline: closing it", "err", err)
			return false
		}
		if err := bw.Flush(); err != nil {
			return false
		}
		if err := rc.Flush(); err != nil {
			log.Debug("rate stream flush failed", "err", err)
			return false
		}
		return true
	}
	_, _ = bw.WriteString("retry: " + strconv.Itoa(streamRetry) + "\n\n")
	if !send() {
		return
	}
	tick, stop := o.NewTicker(o.Heartbeat)
	defer stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-sub.Done():
			return
		case <-tick:
			_, _ = bw.WriteString(": heartbeat\n\n")
		case <-sub.Ready():
			for _, ch := range sub.Take() {
				writeEvent(bw, ch)
			}
		}
		if !send() {
			return
		}
	}
}

// writeEvent writes one change as an SSE event. The JSON is one line
// (encoding/json never emits a raw newline), so one data field carries it.
func writeEvent(w *bufio.Writer, ch live.Change) {
	_, _ = w.WriteString("id: ")
	_, _ = w.WriteString(ch.ID())
	_, _ = w.WriteString("\ndata: ")
	_, _ = w.Write(ch.JSON)
	_, _ = w.WriteString("\n\n")
}
