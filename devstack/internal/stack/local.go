package stack

import (
	"context"
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

// Local is the listener of a service that runs in the gateway's own
// process. Clients reach the service directly on its port as usual;
// httpx.Serve tells the listener the handler it serves (Serving), and the
// gateway calls that handler instead of sending the request over a
// connection to the port. devstack runs every service in one process, so
// the loopback hop would only cost: reading, parsing and writing each
// request and answer once more, which took as much CPU as the service's
// own work (BenchmarkClientView prints both ways).
type Local struct {
	net.Listener
	peer string // the RemoteAddr a service sees for the gateway

	serveOnce sync.Once
	served    chan struct{} // closed once h is set
	h         http.Handler

	closeOnce sync.Once
	closed    chan struct{} // closed with the listener: the service stopped
}

var _ httpx.HandlerListener = (*Local)(nil)

// NewLocal wraps a service's listener.
func NewLocal(ln net.Listener) *Local {
	return &Local{Listener: ln, peer: peerOf(ln.Addr()), served: make(chan struct{}), closed: make(chan struct{})}
}

// peerOf is the address a connection from the gateway to addr would come
// from: the listener's own IP, or loopback for a wildcard listener. The
// services trust it as the gateway's (gatewayPeers).
func peerOf(addr net.Addr) string {
	ip := net.IPv4(127, 0, 0, 1)
	if ta, ok := addr.(*net.TCPAddr); ok && ta.IP != nil && !ta.IP.IsUnspecified() {
		ip = ta.IP
	} else if ok && ta.IP != nil && ta.IP.To4() == nil {
		ip = net.IPv6loopback
	}
	return net.JoinHostPort(ip.String(), "0")
}

// Serving implements httpx.HandlerListener.
func (l *Local) Serving(h http.Handler) {
	l.serveOnce.Do(func() {
		l.h = h
		close(l.served)
	})
}

// Close closes the listener; the gateway then answers for the service as
// for one that is down.
func (l *Local) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

// localStartWait bounds how long a request waits for a service that is
// still starting (migrations, its first connections): a connection to
// its port would wait in the listen queue as long.
const localStartWait = httpx.WriteTimeout

var errLocalDown = &net.OpError{Op: "call", Net: "local", Err: net.ErrClosed}

// handler returns the service's handler, waiting while it starts. A
// stopped service has none, though it served before.
func (l *Local) handler(ctx context.Context) (http.Handler, error) {
	for {
		select {
		case <-l.closed:
			return nil, errLocalDown
		default:
		}
		select {
		case <-l.served:
			return l.h, nil
		default:
		}
		t := time.NewTimer(localStartWait)
		select {
		case <-l.closed:
		case <-l.served:
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
			return nil, context.DeadlineExceeded
		}
		t.Stop()
	}
}

// localProxy is the gateway's route to a Local service. The service gets
// the request as httputil.ReverseProxy (the route to a service elsewhere)
// would send it: path and query as received, Host the service's address,
// hop-by-hop headers (and those Connection names) dropped, the client's
// own Forwarded and X-Forwarded-* dropped, X-Forwarded-For set to the
// client's address alone (what the services trust from the gateway),
// X-Forwarded-Host and -Proto set, and the gateway's address as the peer.
// The client gets the service's answer without its hop-by-hop headers, and
// an event stream keeps its write deadline moving (streamWriter).
type localProxy struct {
	service string
	host    string // the service's host:port, its Host header
	l       *Local
	log     *slog.Logger
}

func (p *localProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h, err := p.l.handler(r.Context())
	if err != nil {
		if r.Context().Err() == nil {
			p.log.Warn("gateway upstream failed", "service_name", p.service, "path", r.URL.Path, "err", err)
		}
		writeError(w, http.StatusBadGateway, apperr.CodeUnavailable, p.service+" service is unreachable")
		return
	}
	out := new(http.Request)
	*out = *r
	u := *r.URL // gin rewrites the path of a request it redirects
	out.URL = &u
	out.Close = false // the client's Connection: close is the gateway's business
	out.Host = p.host
	out.RemoteAddr = p.l.peer
	out.Header = forwardedRequestHeader(r)
	h.ServeHTTP(&streamWriter{ResponseWriter: w, rc: http.NewResponseController(w), local: true}, out)
}

// forwardedRequestHeader is r's header as a service behind the gateway is
// to receive it.
func forwardedRequestHeader(r *http.Request) http.Header {
	named := connectionTokens(r.Header)
	h := make(http.Header, len(r.Header)+3)
	for k, vs := range r.Header {
		if hopByHop(k) || forwardedHeader(k) || named[k] {
			continue
		}
		h[k] = vs
	}
	// TE is hop-by-hop, but a client's readiness for trailers is passed on.
	for _, v := range r.Header["Te"] {
		if strings.Contains(v, "trailers") && !named["Te"] {
			h["Te"] = []string{"trailers"}
			break
		}
	}
	if ip, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		h["X-Forwarded-For"] = []string{ip}
	}
	h["X-Forwarded-Host"] = []string{r.Host}
	if r.TLS != nil {
		h["X-Forwarded-Proto"] = []string{"https"}
	} else {
		h["X-Forwarded-Proto"] = []string{"http"}
	}
	return h
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
