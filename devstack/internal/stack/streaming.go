package stack

import (
	"bufio"
	"net"
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

// streamWriter is the client's ResponseWriter as the gateway's upstream
// writes to it: an event stream moves the write deadline on at each write.
// With local set (a service called in-process, see localProxy), the
// answer's hop-by-hop headers are dropped when its head is written, as
// httputil.ReverseProxy drops them from a service's answer.
type streamWriter struct {
	http.ResponseWriter
	rc        *http.ResponseController
	local     bool
	wrote     bool
	streaming bool
}

func (w *streamWriter) WriteHeader(status int) {
	if w.wrote || status >= 100 && status < 200 && status != http.StatusSwitchingProtocols {
		// A superfluous call (net/http logs it), or an informational
		// answer that the real head follows.
		w.ResponseWriter.WriteHeader(status)
		return
	}
	w.wrote = true
	h := w.Header()
	if w.local {
		for k := range connectionTokens(h) {
			h.Del(k)
		}
		for k := range h {
			// Trailer stays: net/http serves the trailers it announces.
			if hopByHop(k) && k != "Trailer" && !(k == "Upgrade" && status == http.StatusSwitchingProtocols) {
				delete(h, k)
			}
		}
	}
	w.streaming = strings.HasPrefix(h.Get("Content-Type"), "text/event-stream")
	w.ResponseWriter.WriteHeader(status)
}

func (w *streamWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if w.streaming {
		_ = w.rc.SetWriteDeadline(time.Now().Add(httpx.WriteTimeout))
	}
	return w.ResponseWriter.Write(b)
}

// Flush passes the upstream's flushes on (gin asks for http.Flusher).
func (w *streamWriter) Flush() {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	_ = w.rc.Flush()
}

// Hijack passes a hijack on (gin asks for http.Hijacker).
func (w *streamWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return w.rc.Hijack()
}

// Unwrap lets http.ResponseController reach the server's writer.
func (w *streamWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
