package stack

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/textproto"
	"strings"
	"sync"
	"time"

	"github.com/ratewire/ratewire/shared/apperr"
	"github.com/ratewire/ratewire/shared/httpx"
)

// forwarder is the gateway's path for plain reads: a GET or HEAD without a
// body, no upgrade and no event stream. It writes the request to a pooled
// keep-alive connection to the service and copies the answer back on the
// request's own goroutine. httputil.ReverseProxy (which the gateway keeps
// for everything else: writes, the rate stream, upgrades) hands each
// request through http.Transport's per-connection read and write
// goroutines and clones the request first; on the stack's two cores that
// cost about as much CPU as the service spent answering, so the gateway
// served a third to a half of what the service served directly
// (BenchmarkClientView prints both).
//
// It forwards as the ReverseProxy does: path and query as received, Host
// the service's, hop-by-hop headers (and those Connection names) dropped
// both ways, X-Forwarded-For set to the client's address alone (what the
// services trust from the gateway), X-Forwarded-Host and -Proto set.
type forwarder struct {
	service string
	host    string // the service's host:port
	slow    http.Handler
	log     *slog.Logger
	buffers *bufferPool
	dialer  net.Dialer

	mu   sync.Mutex
	idle []*upstreamConn // most recently used last
}

// upstreamConn is one keep-alive connection to the service.
type upstreamConn struct {
	net.Conn
	br       *bufio.Reader
	bw       *bufio.Writer
	idleFrom time.Time
	stop     func() bool // stops the watch of the request's context
}

// forwardIdleTimeout bounds how long an idle connection is kept: under the
// services' own idle timeout, so a connection the service is about to
// close is not reused.
const forwardIdleTimeout = httpx.IdleTimeout / 2

// forwardDialTimeout bounds connecting to a service.
const forwardDialTimeout = 5 * time.Second

func newForwarder(service, host string, slow http.Handler, buffers *bufferPool, log *slog.Logger) *forwarder {
	return &forwarder{service: service, host: host, slow: slow, log: log, buffers: buffers,
		dialer: net.Dialer{Timeout: forwardDialTimeout}}
}

func (f *forwarder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !plainRead(r) {
		f.slow.ServeHTTP(w, r)
		return
	}
	resp, c, err := f.roundTrip(r)
	if err != nil {
		if r.Context().Err() == nil {
			f.log.Warn("gateway upstream failed", "service_name", f.service, "path", r.URL.Path, "err", err)
		}
		writeError(w, http.StatusBadGateway, apperr.CodeUnavailable, f.service+" service is unreachable")
		return
	}
	h := w.Header()
	for k, vs := range resp.Header {
		if !hopByHop(k) {
			h[k] = vs
		}
	}
	dropConnectionTokens(h, resp.Header)
	var dst io.Writer = writerOnly{w}
	if resp.ContentLength < 0 {
		// An answer of unknown length reaches the client as it comes, as
		// the ReverseProxy passes it; an event stream keeps its write
		// deadline moving, as keepStreaming does.
		sw := &streamWriter{ResponseWriter: w, rc: http.NewResponseController(w)}
		w, dst = sw, flushingWriter{sw}
	}
	w.WriteHeader(resp.StatusCode)
	buf := f.buffers.Get()
	_, err = io.CopyBuffer(dst, resp.Body, buf)
	f.buffers.Put(buf)
	// The connection is reused only when the answer was read to its end
	// and the service keeps it open.
	if err == nil && !resp.Close && c.release() {
		f.put(c)
		return
	}
	c.release()
	_ = c.Close()
	if err != nil {
		if r.Context().Err() == nil {
			f.log.Warn("gateway upstream answer cut", "service_name", f.service, "path", r.URL.Path, "err", err)
		}
		// The answer is cut: abort the client's connection, so that it
		// cannot take what it got (a chunked answer would otherwise end
		// cleanly) for the whole answer. net/http logs nothing for it.
		panic(http.ErrAbortHandler)
	}
}

// writerOnly hides the ResponseWriter's ReadFrom, which would read the
// body through a buffer of its own.
type writerOnly struct{ io.Writer }

// flushingWriter flushes each write to the client.
type flushingWriter struct{ w *streamWriter }

func (f flushingWriter) Write(b []byte) (int, error) {
	n, err := f.w.Write(b)
	if err == nil {
		err = f.w.rc.Flush()
	}
	return n, err
}

// plainRead reports whether r goes the forwarder's way.
func plainRead(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	if r.ContentLength != 0 || len(r.TransferEncoding) > 0 || r.Header.Get("Upgrade") != "" {
		return false
	}
	return !strings.Contains(r.Header.Get("Accept"), "text/event-stream") && !strings.HasSuffix(r.URL.Path, "/stream")
}

// roundTrip sends r to the service and reads the answer's head. A pooled
// connection the service closed meanwhile fails before anything of the
// answer is read: a GET is then sent once more on a new connection.
func (f *forwarder) roundTrip(r *http.Request) (*http.Response, *upstreamConn, error) {
	for attempt := 0; ; attempt++ {
		c, reused, err := f.get(r.Context())
		if err != nil {
			return nil, nil, err
		}
		c.watch(r.Context())
		resp, err := f.exchange(c, r)
		if err == nil {
			return resp, c, nil
		}
		c.release()
		_ = c.Close()
		if !reused || attempt > 0 || r.Context().Err() != nil {
			return nil, nil, err
		}
	}
}

// exchange writes r on c and reads the head of the final answer.
func (f *forwarder) exchange(c *upstreamConn, r *http.Request) (*http.Response, error) {
	writeRequest(c.bw, r, f.host)
	if err := c.bw.Flush(); err != nil {
		return nil, err
	}
	for {
		resp, err := http.ReadResponse(c.br, r)
		if err != nil {
			return nil, err
		}
		// An informational answer (103 Early Hints) precedes the real one.
		if resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			return resp, nil
		}
	}
}

// writeRequest writes r as the service is to receive it.
func writeRequest(bw *bufio.Writer, r *http.Request, host string) {
	bw.WriteString(r.Method)
	bw.WriteByte(' ')
	bw.WriteString(r.URL.RequestURI())
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(host)
	bw.WriteString("\r\n")
	named := connectionTokens(r.Header)
	for k, vs := range r.Header {
		if hopByHop(k) || forwardedHeader(k) || named[k] {
			continue
		}
		for _, v := range vs {
			bw.WriteString(k)
			bw.WriteString(": ")
			bw.WriteString(v)
			bw.WriteString("\r\n")
		}
	}
	// TE is hop-by-hop, but a client's readiness for trailers is passed
	// on, as the ReverseProxy passes it.
	for _, v := range r.Header["Te"] {
		if strings.Contains(v, "trailers") && !named["Te"] {
			bw.WriteString("Te: trailers\r\n")
			break
		}
	}
	if ip, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		bw.WriteString("X-Forwarded-For: ")
		bw.WriteString(ip)
		bw.WriteString("\r\n")
	}
	bw.WriteString("X-Forwarded-Host: ")
	bw.WriteString(r.Host)
	bw.WriteString("\r\nX-Forwarded-Proto: ")
	if r.TLS != nil {
		bw.WriteString("https")
	} else {
		bw.WriteString("http")
	}
	bw.WriteString("\r\n\r\n")
}

// hopByHop reports the headers that concern one connection only (RFC 9110
// §7.6.1), as net/http canonicalises them.
func hopByHop(k string) bool {
	switch k {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
		"Te", "Trailer", "Transfer-Encoding", "Upgrade":
		return true
	}
	return false
}

// forwardedHeader reports the headers the gateway sets itself: a client's
// own are never passed on, as the ReverseProxy's Rewrite drops them.
func forwardedHeader(k string) bool {
	return k == "Forwarded" || k == "X-Forwarded-For" || k == "X-Forwarded-Host" || k == "X-Forwarded-Proto"
}

// connectionTokens returns the headers h's Connection header names, nil
// for none (the usual case).
func connectionTokens(h http.Header) map[string]bool {
	var named map[string]bool
	for _, v := range h["Connection"] {
		for _, tok := range strings.Split(v, ",") {
			if tok = strings.TrimSpace(tok); tok != "" {
				if named == nil {
					named = map[string]bool{}
				}
				named[textproto.CanonicalMIMEHeaderKey(tok)] = true
			}
		}
	}
	return named
}

// dropConnectionTokens deletes from out the headers from's Connection
// header names.
func dropConnectionTokens(out, from http.Header) {
	for k := range connectionTokens(from) {
		out.Del(k)
	}
}

// get takes the most recently used idle connection that is still fresh,
// or dials a new one.
func (f *forwarder) get(ctx context.Context) (*upstreamConn, bool, error) {
	now := time.Now()
	f.mu.Lock()
	for n := len(f.idle); n > 0; n = len(f.idle) {
		c := f.idle[n-1]
		f.idle[n-1] = nil
		f.idle = f.idle[:n-1]
		if now.Sub(c.idleFrom) < forwardIdleTimeout {
			f.mu.Unlock()
			return c, true, nil
		}
		_ = c.Close()
	}
	f.mu.Unlock()
	nc, err := f.dialer.DialContext(ctx, "tcp", f.host)
	if err != nil {
		return nil, false, err
	}
	return &upstreamConn{Conn: nc, br: bufio.NewReaderSize(nc, 4096), bw: bufio.NewWriterSize(nc, 4096)}, false, nil
}

// put keeps c for the next request, or closes it past the pool's bound.
func (f *forwarder) put(c *upstreamConn) {
	c.idleFrom = time.Now()
	f.mu.Lock()
	if len(f.idle) < GatewayIdleConnsPerService {
		f.idle = append(f.idle, c)
		f.mu.Unlock()
		return
	}
	f.mu.Unlock()
	_ = c.Close()
}

// watch cuts c when ctx ends (the client went away), so a request never
// waits on a service for a client that left; release stops watching.
func (c *upstreamConn) watch(ctx context.Context) {
	c.stop = context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
}

// release stops watching and reports whether c is intact (the watch did
// not fire).
func (c *upstreamConn) release() bool {
	if c.stop == nil {
		return true
	}
	ok := c.stop()
	c.stop = nil
	return ok
}
