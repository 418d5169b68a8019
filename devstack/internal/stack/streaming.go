package stack

import (
	"net/http"
	"strings"
	"time"

	"github.com/ratewire/ratewire/shared/httpx"
)

// keepStreaming lets event streams pass through the gateway for as long as
// they last. The gateway's server ends every answer httpx.WriteTimeout
// after its request, which would cut the rate stream (GET
// /api/v1/currencies/stream) every 30 s; for an answer of type
// text/event-stream, each write moves the deadline on instead, so only a
// client that takes nothing for WriteTimeout is dropped. Other answers
// keep the server's timeout.
func keepStreaming(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(&streamWriter{ResponseWriter: w, rc: http.NewResponseController(w)}, r)
	})
}

type streamWriter struct {
	http.ResponseWriter
	rc        *http.ResponseController
	streaming bool
}

func (w *streamWriter) WriteHeader(status int) {
	w.streaming = strings.HasPrefix(w.Header().Get("Content-Type"), "text/event-stream")
	w.ResponseWriter.WriteHeader(status)
}

func (w *streamWriter) Write(b []byte) (int, error) {
	if w.streaming {
		_ = w.rc.SetWriteDeadline(time.Now().Add(httpx.WriteTimeout))
	}
	return w.ResponseWriter.Write(b)
}

// Flush passes the proxy's flushes on.
func (w *streamWriter) Flush() {
	_ = w.rc.Flush()
}

// Unwrap lets http.ResponseController reach the server's writer.
func (w *streamWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
