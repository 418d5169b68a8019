package httpx

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ratewire/ratewire/shared/apperr"
)

// Options configures NewEngine. Every field is optional; the zero value
// gives a working engine that logs nowhere and exposes its own registry.
type Options struct {
	// Service names the service; it is reported by /healthz and /readyz.
	Service string
	// Logger receives access, panic and error logs; nil discards them.
	Logger *slog.Logger
	// Registry receives the HTTP metrics and is served on /metrics; nil
	// means a fresh private registry (never the global default).
	Registry *prometheus.Registry
	// MaxBodyBytes caps request bodies; 0 means 1 MiB.
	MaxBodyBytes int64
	// Ready reports whether the service's dependencies are usable; nil
	// means always ready. It is called with a 2 s timeout.
	Ready func(ctx context.Context) error
	// Now is the clock behind the envelopes' timestamp; nil means
	// time.Now. Tests pass a fixed one so responses are reproducible.
	Now func() time.Time
	// TrustedProxies are the CIDRs (config.Config.TrustedProxies) whose
	// X-Forwarded-For names the client: behind the gateway, the client is
	// the address the gateway saw. X-Forwarded-For from any other peer is
	// ignored, and with none the client is the peer address.
	TrustedProxies []string
}

// RequestIDHeader carries the request id in both directions.
const RequestIDHeader = "X-Request-ID"

const (
	defaultMaxBody = 1 << 20
	readyTimeout   = 2 * time.Second
)

var validRequestID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,128}$`)

// discardLogger is stateless, so sharing it is not shared mutable state.
var discardLogger = slog.New(slog.DiscardHandler)

// NewEngine returns a gin engine with ratewire's middleware and the
// /healthz, /readyz and /metrics routes; services add their API routes.
//
// Middleware order: edge headers with the request's state (clock,
// error-log limiter, request id and logger), access log, metrics, panic
// recovery, CORS preflight, body limit. Recovery sits inside the access log and the
// metrics so that a panicking request is still logged and counted as 500;
// it sits after the request id so the panic log carries it. The edge
// headers (nosniff, CORS, no-store) wrap the writer before anything can
// write, so 404s, 405s, 304s, panics and /metrics get them too. The
// preflight sits inside the log and metrics, so preflights are counted.
func NewEngine(o Options) *gin.Engine {
	log := o.Logger
	if log == nil {
		log = discardLogger
	}
	reg := o.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	limit := o.MaxBodyBytes
	if limit <= 0 {
		limit = defaultMaxBody
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}

	e := gin.New()
	e.HandleMethodNotAllowed = true
	// A path with a trailing slash or another case is a 404 in the
	// envelope, not a redirect with an HTML body.
	e.RedirectTrailingSlash = false
	e.RedirectFixedPath = false
	// Handlers may pass *gin.Context as a context.Context to services.
	e.ContextWithFallback = true
	// The client IP is the peer address unless the peer is a trusted
	// proxy; then it is the rightmost X-Forwarded-For address that is not
	// a trusted proxy itself. X-Real-IP is never believed: the gateways
	// set X-Forwarded-For.
	e.RemoteIPHeaders = []string{"X-Forwarded-For"}
	if err := e.SetTrustedProxies(o.TrustedProxies); err != nil || len(o.TrustedProxies) == 0 {
		if err != nil {
			log.Error("trusted proxies refused; trusting none", "err", err)
		}
		_ = e.SetTrustedProxies(nil)
	}

	e.Use(
		edgeHeaders(now, newLogLimiter(), log),
		accessLog(),
		newMetrics(reg, log).middleware,
		recovery(),
		corsPreflight(e),
		bodyLimit(limit),
	)

	e.NoRoute(func(c *gin.Context) { Error(c, apperr.NotFound("no route for "+c.Request.URL.Path)) })
	e.NoMethod(func(c *gin.Context) {
		c.Header("Allow", strings.Join(routeMethods(e, c.Request.URL.Path), ", "))
		writeError(c, http.StatusMethodNotAllowed, ErrorBody{
			Code:    CodeMethodNotAllowed,
			Message: "method " + c.Request.Method + " is not allowed on " + c.Request.URL.Path,
		})
	})

	e.GET("/healthz", func(c *gin.Context) { OK(c, http.StatusOK, status("ok", o.Service)) })
	e.GET("/readyz", func(c *gin.Context) {
		if o.Ready != nil {
			ctx, cancel := context.WithTimeout(c.Request.Context(), readyTimeout)
			defer cancel()
			if err := o.Ready(ctx); err != nil {
				Error(c, apperr.Unavailable("not ready", fmt.Errorf("readiness check: %w", err)))
				return
			}
		}
		OK(c, http.StatusOK, status("ready", o.Service))
	})
	metricsHandler := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	e.GET("/metrics", gin.WrapH(metricsHandler))
	return e
}

func status(s, service string) map[string]string {
	m := map[string]string{"status": s}
	if service != "" {
		m["service"] = service
	}
	return m
}

// RequestID returns the id of the request, as set by NewEngine's middleware.
func RequestID(c *gin.Context) string {
	if r := requestOf(c); r != nil {
		return r.id
	}
	return ""
}

// Logger returns the request-scoped logger (the Options logger with a
// request_id attribute), or a discarding logger outside NewEngine. It is
// made on first use: most requests log nothing (access lines are sampled),
// and slog's With copies the handler.
func Logger(c *gin.Context) *slog.Logger {
	r := requestOf(c)
	if r == nil {
		return discardLogger
	}
	if r.log == nil {
		r.log = r.base.With("request_id", r.id)
	}
	return r.log
}

// clockOf is the engine's clock for c, or time.Now outside NewEngine.
func clockOf(c *gin.Context) func() time.Time {
	if r := requestOf(c); r != nil {
		return r.now
	}
	return time.Now
}

// requestOf is the state NewEngine's middleware keeps for c: the edge
// writer, found on c.Writer (through any writer that wraps it and unwraps
// to it), not in c's keys, whose map would cost an allocation per request;
// nil outside NewEngine.
func requestOf(c *gin.Context) *edgeWriter {
	var w http.ResponseWriter = c.Writer
	for w != nil {
		switch x := w.(type) {
		case *edgeWriter:
			return x
		case interface{ Unwrap() http.ResponseWriter }:
			w = x.Unwrap()
		default:
			return nil
		}
	}
	return nil
}

// requestIDOf reuses a well-formed incoming X-Request-ID (so ids follow a
// request across services) and otherwise mints a UUID.
func requestIDOf(c *gin.Context) string {
	if id := c.Request.Header.Get(RequestIDHeader); id != "" && validRequestID.MatchString(id) {
		return id
	}
	return uuid.NewString()
}

func init() {
	// Request ids need to be unique, not secret: take the UUIDs' random
	// bytes from a pool filled by one crypto/rand read per 16 ids, not a
	// read per request.
	uuid.EnableRandPool()
}

// accessLog writes an Info line per request except probes and scrapes;
// request_id comes from the request-scoped logger. Every answer of 400 or
// more is logged. Successful answers are sampled so that load does not
// flood the log (a devstack under click load once wrote 512 MB in six
// minutes): the first AccessLogBurst of a method and route in each
// ErrorLogWindow are logged, and the next logged line of that route says
// how many were not ("suppressed"). /metrics counts every request.
func accessLog() gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		switch c.Request.URL.Path {
		case "/healthz", "/readyz", "/metrics":
			return
		}
		status := c.Writer.Status()
		var suppressed int
		if r := requestOf(c); r != nil && status < http.StatusBadRequest {
			var logged bool
			logged, suppressed = r.ll.allow(logKey{kind: "access", method: c.Request.Method, route: c.FullPath()}, r.now(), AccessLogBurst)
			if !logged {
				return
			}
		}
		attrs := []slog.Attr{
			slog.String("method", c.Request.Method),
			slog.String("route", c.FullPath()),
			slog.String("path", c.Request.URL.Path),
			slog.Int("status", status),
			slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
			slog.Int("bytes", max(c.Writer.Size(), 0)),
			slog.String("client_ip", c.ClientIP()),
		}
		if suppressed > 0 {
			attrs = append(attrs, slog.Int("suppressed", suppressed))
		}
		Logger(c).LogAttrs(c.Request.Context(), slog.LevelInfo, "http request", attrs...)
	}
}

// AccessLogBurst is how many successful requests of one method and route
// are logged per ErrorLogWindow; the rest are counted.
const AccessLogBurst = 5

// recovery turns a panic into a logged stack and the bare 500 envelope.
func recovery() gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			rec := recover()
			if rec == nil {
				return
			}
			if rec == http.ErrAbortHandler {
				// The documented way to abort a response: net/http handles it.
				panic(rec)
			}
			err, ok := rec.(error)
			if !ok {
				err = fmt.Errorf("panic: %v", rec)
			}
			Logger(c).Error("panic recovered", "err", boundText(err.Error()), "stack", string(debug.Stack()))
			if c.Writer.Written() {
				c.Abort()
				return
			}
			writeError(c, http.StatusInternalServerError, ErrorBody{Code: apperr.CodeInternal, Message: msgInternal})
		}()
		c.Next()
	}
}

// bodyLimit answers 413 PAYLOAD_TOO_LARGE, in the envelope, to any body
// over limit before a handler sees it: a declared oversize body at once; a
// body of unknown length (chunked) is read into memory up to limit+1
// bytes first, so that a handler whose decoding would map the
// MaxBytesError to a 400 never gets it. The handler then reads the
// buffered copy. Buffering costs at most limit+1 bytes per request, the
// bound the handler could have read anyway.
func bodyLimit(limit int64) gin.HandlerFunc {
	tooLarge := func(c *gin.Context) {
		writeError(c, http.StatusRequestEntityTooLarge, ErrorBody{
			Code:    CodePayloadTooLarge,
			Message: "request body exceeds " + strconv.FormatInt(limit, 10) + " bytes",
		})
	}
	return func(c *gin.Context) {
		body := c.Request.Body
		switch {
		case c.Request.ContentLength > limit:
			tooLarge(c)
			return
		case body == nil || body == http.NoBody:
		case c.Request.ContentLength < 0:
			buf, err := io.ReadAll(io.LimitReader(body, limit+1))
			if int64(len(buf)) > limit {
				tooLarge(c)
				return
			}
			var r io.Reader = bytes.NewReader(buf)
			if err != nil {
				// The client went away mid-body: the handler meets the
				// failure where it would have.
				r = io.MultiReader(r, errReader{err})
			}
			c.Request.Body = readCloser{r, body}
		default:
			// net/http enforces a declared length; the cap guards bodies
			// whose declared length is not enforced (built by hand).
			c.Request.Body = http.MaxBytesReader(c.Writer, body, limit)
		}
		c.Next()
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// readCloser reads the buffered body and closes the original one.
type readCloser struct {
	io.Reader
	io.Closer
}

var knownMethods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodPost: true, http.MethodPut: true,
	http.MethodPatch: true, http.MethodDelete: true, http.MethodOptions: true,
}

type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	// byLabels keeps the children of requests and duration per label
	// set: WithLabelValues hashes the values and takes the vector's lock
	// on every call. Labels are route templates, known methods and
	// statuses, so the map stays small.
	byLabels sync.Map // metricLabels -> *metricChildren
}

type metricLabels struct {
	method, route string
	status        int
}

type metricChildren struct {
	requests prometheus.Counter
	duration prometheus.Observer
}

// newMetrics registers the HTTP collectors, reusing them if an engine was
// already built on the same registry.
func newMetrics(reg *prometheus.Registry, log *slog.Logger) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ratewire_http_requests_total",
			Help: "HTTP requests handled, by method, route template and status.",
		}, []string{"method", "route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ratewire_http_request_duration_seconds",
			Help:    "HTTP request latency, by method and route template.",
			Buckets: prometheus.DefBuckets,
		}, []string{"method", "route"}),
	}
	m.requests = register(reg, m.requests, log)
	m.duration = register(reg, m.duration, log)
	return m
}

func register[C prometheus.Collector](reg *prometheus.Registry, c C, log *slog.Logger) C {
	if err := reg.Register(c); err != nil {
		if are, ok := errors.AsType[prometheus.AlreadyRegisteredError](err); ok {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		// Only a different collector under our metric names gets here. We
		// must not panic in a shared process: keep serving, unexported.
		log.Error("register http metrics", "err", err)
	}
	return c
}

func (m *metrics) middleware(c *gin.Context) {
	start := time.Now()
	c.Next()
	// The route template keeps label cardinality bounded; raw paths never.
	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	method := c.Request.Method
	if !knownMethods[method] {
		method = "OTHER" // clients choose the method; keep the label bounded
	}
	key := metricLabels{method, route, c.Writer.Status()}
	v, ok := m.byLabels.Load(key)
	if !ok {
		v, _ = m.byLabels.LoadOrStore(key, &metricChildren{
			requests: m.requests.WithLabelValues(method, route, strconv.Itoa(key.status)),
			duration: m.duration.WithLabelValues(method, route),
		})
	}
	ch := v.(*metricChildren)
	ch.requests.Inc()
	ch.duration.Observe(time.Since(start).Seconds())
}
