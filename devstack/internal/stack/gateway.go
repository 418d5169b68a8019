package stack

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"time"

	"github.com/ratewire/ratewire/shared/apperr"
	"github.com/ratewire/ratewire/shared/httpx"
)

// GatewayRoutes maps each public API prefix (DESIGN.md §2) to the service that
// owns it. deploy/gateway/nginx.conf routes the same prefixes in the compose
// stack; keep the two in step.
var GatewayRoutes = []struct{ Prefix, Service string }{
	{"/api/v1/currencies", "currency"},
	{"/api/v1/history", "history"},
	{"/api/v1/rankings", "ranking"},
	{"/api/v1/ingest", "ingestor"},
}

// NewGateway returns the handler of devstack's single base URL: each prefix
// of GatewayRoutes (the prefix itself and everything below it) is proxied,
// path and query unchanged, to the service's address in a; /healthz is the
// gateway's own liveness; any other /api/ path is a 404 in the API
// envelope; everything else goes to the web app (a.Web; without one, a 404
// in the envelope too). An unreachable service is a 502, never a hang or
// an empty reply.
func NewGateway(a Addrs, log *slog.Logger) (http.Handler, error) {
	return NewGatewayWith(a, log, GatewayOptions{})
}

// GatewayOptions vary the gateway from its default.
type GatewayOptions struct {
	// Local holds the services, by their name in GatewayRoutes (the web
	// app by WebRoute), that run in the gateway's own process: the
	// gateway calls their handlers (see Local) instead of proxying to
	// their addresses over httputil.ReverseProxy.
	Local map[string]*Local
}

// NewGatewayWith is NewGateway with options.
func NewGatewayWith(a Addrs, log *slog.Logger, o GatewayOptions) (http.Handler, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	upstream := map[string]string{
		"currency": a.Currency, "history": a.History, "ranking": a.Ranking, "ingestor": a.Ingestor,
	}
	transport := upstreamTransport()
	buffers := &bufferPool{}
	newProxy := func(service, addr string) (http.Handler, error) {
		target, err := url.Parse(addr)
		if err != nil || target.Scheme != "http" || target.Host == "" {
			return nil, fmt.Errorf("gateway: %s address %q: want http://host:port", service, addr)
		}
		if l := o.Local[service]; l != nil {
			return &localProxy{service: service, host: target.Host, l: l, log: log}, nil
		}
		return keepStreaming(&httputil.ReverseProxy{
			Transport:  transport,
			BufferPool: buffers,
			Rewrite: func(pr *httputil.ProxyRequest) {
				pr.SetURL(target) // target has no path, so the inbound path is kept as is
				pr.SetXForwarded()
			},
			// No periodic flushing: ReverseProxy flushes every write of a
			// text/event-stream answer (the rate stream) and of one without
			// a Content-Length by itself; flushing every answer write by
			// write (-1) cost a syscall per write and most of the
			// gateway's CPU.
			FlushInterval: 0,
			ErrorHandler: func(w http.ResponseWriter, req *http.Request, err error) {
				log.Warn("gateway upstream failed", "service_name", service, "path", req.URL.Path, "err", err)
				writeError(w, http.StatusBadGateway, apperr.CodeUnavailable, service+" service is unreachable")
			},
		}), nil
	}
	mux := http.NewServeMux()
	for _, r := range GatewayRoutes {
		proxy, err := newProxy(r.Service, upstream[r.Service])
		if err != nil {
			return nil, err
		}
		mux.Handle(r.Prefix, proxy)
		mux.Handle(r.Prefix+"/", proxy)
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, httpx.Envelope{Success: true, Data: json.RawMessage(`{"status":"ok","service":"gateway"}`)})
	})
	notFound := func(w http.ResponseWriter, req *http.Request) {
		writeError(w, http.StatusNotFound, apperr.CodeNotFound, "no route for "+req.URL.Path)
	}
	// An API path no service owns stays an API answer, not a web page.
	mux.HandleFunc("/api/", notFound)
	if a.Web == "" {
		mux.HandleFunc("/", notFound)
		return mux, nil
	}
	web, err := newProxy(WebRoute, a.Web)
	if err != nil {
		return nil, err
	}
	mux.Handle("/", web)
	return mux, nil
}

// WebRoute names the web app among the gateway's upstreams: it serves
// every path that is not an API prefix or the gateway's own /healthz.
const WebRoute = "web"

// upstreamTransport is the gateway's one client to its upstreams. The
// default Transport keeps 2 idle connections per host, so under load every
// other request dialled a new connection and closed it (13-14k sockets in
// TIME_WAIT, a quarter of the CPU in dial and close): keep as many idle
// connections per service as concurrent clients are expected.
func upstreamTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 4 * GatewayIdleConnsPerService
	t.MaxIdleConnsPerHost = GatewayIdleConnsPerService
	// Under the services' own idle timeout (httpx.IdleTimeout), so the
	// gateway never reuses a connection the service is closing.
	t.IdleConnTimeout = httpx.IdleTimeout / 2
	// The upstreams are on the stack's host: no proxy from the environment.
	t.Proxy = nil
	// A proxy passes bodies through as they are: no Accept-Encoding of
	// its own, no transparent decompression.
	t.DisableCompression = true
	return t
}

// bufferPool lends the proxies their copy buffers: without one,
// ReverseProxy allocates (and zeroes) 32 KiB for every answer it copies.
type bufferPool struct{ p sync.Pool }

// gatewayBufferSize is ReverseProxy's own copy buffer size.
const gatewayBufferSize = 32 << 10

func (b *bufferPool) Get() []byte {
	if v, ok := b.p.Get().(*[]byte); ok {
		return *v
	}
	return make([]byte, gatewayBufferSize)
}

func (b *bufferPool) Put(buf []byte) {
	if cap(buf) == gatewayBufferSize {
		buf = buf[:gatewayBufferSize]
		b.p.Put(&buf)
	}
}

// GatewayIdleConnsPerService is how many idle connections the gateway
// keeps to each service.
const GatewayIdleConnsPerService = 256

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, httpx.Envelope{Error: &httpx.ErrorBody{Code: code, Message: msg}})
}

func writeJSON(w http.ResponseWriter, status int, env httpx.Envelope) {
	// The services' timestamp layout; an Envelope of raw JSON and strings
	// always marshals.
	env.Timestamp = time.Now().UTC().Format("2006-01-02T15:04:05.000Z07:00")
	b, _ := json.Marshal(env)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
