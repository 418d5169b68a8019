package httpx

import (
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ratewire/ratewire/shared/apperr"
)

// CORS policy (DESIGN.md §8). The public API is read by browsers from any
// origin, so its answers carry "Access-Control-Allow-Origin: *"; no
// credentials are involved (the wildcard forbids them anyway). Admin
// endpoints allow no origin at all.
const (
	// CORSAllowMethods are the methods a preflight may ask for: the public
	// reads, and POST for the ranking's public click endpoint.
	CORSAllowMethods = "GET, HEAD, POST"
	// CORSAllowHeaders are the request headers a preflight may ask for.
	// Authorization is deliberately absent: only admin calls send it.
	// Last-Event-ID resumes the currency rate stream: EventSource sends it
	// without a preflight, a fetch-based client asks for it.
	CORSAllowHeaders = "Content-Type, If-None-Match, Last-Event-ID, X-Client-Id, X-Request-ID"
	// CORSExposeHeaders are the response headers scripts may read.
	CORSExposeHeaders = "ETag, Retry-After, X-Request-ID"
	// CORSMaxAge is how long (seconds) a browser may cache a preflight grant.
	CORSMaxAge = "600"

	// CodeCORSRefused is the code of a refused CORS preflight (403).
	CodeCORSRefused = "CORS_REFUSED"
)

// Header names the edge writer sets or strips.
var corsResponseHeaders = []string{
	"Access-Control-Allow-Origin", "Access-Control-Expose-Headers",
	"Access-Control-Allow-Methods", "Access-Control-Allow-Headers", "Access-Control-Max-Age",
}

// corsPreflightMethods and corsPreflightHeaders are the parsed forms of
// CORSAllowMethods and CORSAllowHeaders, plus the CORS-safelisted request
// headers a browser may still list.
var (
	corsPreflightMethods = map[string]bool{http.MethodGet: true, http.MethodHead: true, http.MethodPost: true}
	corsPreflightHeaders = map[string]bool{
		"content-type": true, "if-none-match": true, "last-event-id": true, "x-client-id": true, "x-request-id": true,
		"accept": true, "accept-language": true, "content-language": true,
	}
)

// denyCORS marks the response of c as one no origin may read: its CORS
// headers are stripped when it is written.
func denyCORS(c *gin.Context) {
	if r := requestOf(c); r != nil {
		r.noCORS = true
	}
	h := c.Writer.Header()
	for _, k := range corsResponseHeaders {
		h.Del(k)
	}
}

// noStore marks the response of c as one no cache may keep, whatever
// Cache-Control a later handler sets.
func noStore(c *gin.Context) {
	if r := requestOf(c); r != nil {
		r.noStore = true
	}
	c.Writer.Header().Set("Cache-Control", "no-store")
}

// edgeHeaders wraps the response writer so that, whoever writes the
// response (handler, NoRoute, NoMethod, recovery, promhttp, a 304), its
// headers are settled at the moment they are sent: nosniff always; the
// public CORS headers unless the request was marked by denyCORS;
// "Cache-Control: no-store" on every 4xx/5xx and on responses marked by
// noStore (admin routes), overriding a public Cache-Control.
//
// The wrapper is also the request's state for the rest of the chain (one
// allocation per request, found through c.Writer, see requestOf): the engine's clock and
// error-log limiter, the request id (a well-formed incoming X-Request-ID,
// else a new UUID, echoed in the answer) and the request's logger.
func edgeHeaders(now func() time.Time, ll *logLimiter, log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		w := &edgeWriter{ResponseWriter: c.Writer, now: now, ll: ll, base: log, id: requestIDOf(c)}
		c.Writer = w
		w.Header()["X-Request-Id"] = []string{w.id}
		c.Next()
		// gin writes an unwritten status itself after the chain, on its
		// own writer and past this wrapper: settle the headers first.
		w.settle()
	}
}

type edgeWriter struct {
	gin.ResponseWriter
	// noCORS and noStore are the marks of denyCORS and noStore.
	noCORS, noStore bool

	now  func() time.Time
	ll   *logLimiter
	id   string
	base *slog.Logger
	log  *slog.Logger // base with the request id, made on first use
}

// Shared header values: net/http never modifies a value slice, and a
// full-capacity slice makes an append copy.
var (
	hdrNosniff     = []string{"nosniff"}
	hdrAnyOrigin   = []string{"*"}
	hdrExposeCORS  = []string{CORSExposeHeaders}
	hdrCacheNoStor = []string{"no-store"}
)

// settle sets the edge headers unless the header was already sent.
func (w *edgeWriter) settle() {
	if w.ResponseWriter.Written() {
		return
	}
	h := w.ResponseWriter.Header()
	h["X-Content-Type-Options"] = hdrNosniff[:1:1]
	if w.noCORS {
		for _, k := range corsResponseHeaders {
			h.Del(k)
		}
	} else {
		h["Access-Control-Allow-Origin"] = hdrAnyOrigin[:1:1]
		h["Access-Control-Expose-Headers"] = hdrExposeCORS[:1:1]
	}
	if w.noStore || w.ResponseWriter.Status() >= http.StatusBadRequest {
		h["Cache-Control"] = hdrCacheNoStor[:1:1]
	}
}

func (w *edgeWriter) WriteHeaderNow() {
	w.settle()
	w.ResponseWriter.WriteHeaderNow()
}

func (w *edgeWriter) Write(b []byte) (int, error) {
	w.settle()
	return w.ResponseWriter.Write(b)
}

func (w *edgeWriter) WriteString(s string) (int, error) {
	w.settle()
	return w.ResponseWriter.WriteString(s)
}

func (w *edgeWriter) Flush() {
	w.settle()
	w.ResponseWriter.Flush()
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *edgeWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// corsPreflight answers CORS preflights (OPTIONS with
// Access-Control-Request-Method) before routing can call them 405.
//
// The rule: a preflight is granted (204 with the Allow-* headers) when the
// path has a route for the requested method, that method is one of
// CORSAllowMethods, and every requested header is one of CORSAllowHeaders
// (or CORS-safelisted). Anything else gets no grant: an envelope with no
// CORS headers, 404 NOT_FOUND for a path without routes and 403
// CORS_REFUSED otherwise. Admin endpoints fall out of it: every admin call
// sends Authorization, which is never granted, so the browser never sends
// the call; DELETE is not granted either; and should a script send an
// admin call without a preflight, RequireAdmin strips the CORS headers of
// its answer so the script cannot read it.
func corsPreflight(e *gin.Engine) gin.HandlerFunc {
	return func(c *gin.Context) {
		method := c.GetHeader("Access-Control-Request-Method")
		if c.Request.Method != http.MethodOptions || method == "" {
			c.Next()
			return
		}
		allowed := routeMethods(e, c.Request.URL.Path)
		if len(allowed) == 0 {
			denyCORS(c)
			Error(c, apperr.NotFound("no route for "+c.Request.URL.Path))
			return
		}
		if reason := refusePreflight(method, c.GetHeader("Access-Control-Request-Headers"), allowed); reason != "" {
			denyCORS(c)
			writeError(c, http.StatusForbidden, ErrorBody{Code: CodeCORSRefused, Message: "cross-origin request refused: " + reason})
			return
		}
		h := c.Writer.Header()
		h.Set("Access-Control-Allow-Methods", CORSAllowMethods)
		h.Set("Access-Control-Allow-Headers", CORSAllowHeaders)
		h.Set("Access-Control-Max-Age", CORSMaxAge)
		c.AbortWithStatus(http.StatusNoContent)
	}
}

// refusePreflight says why a preflight for method with the requested
// headers is refused, or "" when it is granted.
func refusePreflight(method, requested string, allowed []string) string {
	if !corsPreflightMethods[method] {
		return "method " + method + " is not allowed cross-origin"
	}
	if !slices.Contains(allowed, method) {
		return "method " + method + " is not served on this path"
	}
	for name := range strings.SplitSeq(requested, ",") {
		name = strings.ToLower(strings.TrimSpace(name))
		if name == "" || corsPreflightHeaders[name] {
			continue
		}
		if name == "authorization" {
			return "admin endpoints (Authorization) allow no origin"
		}
		return "header " + name + " is not allowed cross-origin"
	}
	return ""
}

// routeMethods lists, sorted, the methods of e's routes whose pattern
// matches path (":name" matches one non-empty segment, "*name" the rest).
func routeMethods(e *gin.Engine, path string) []string {
	var out []string
	for _, r := range e.Routes() {
		if !slices.Contains(out, r.Method) && patternMatches(r.Path, path) {
			out = append(out, r.Method)
		}
	}
	slices.Sort(out)
	return out
}

func patternMatches(pattern, path string) bool {
	ps, ss := strings.Split(pattern, "/"), strings.Split(path, "/")
	for i, p := range ps {
		if strings.HasPrefix(p, "*") {
			return len(ss) > i
		}
		if i >= len(ss) || !segmentMatches(p, ss[i]) {
			return false
		}
	}
	return len(ss) == len(ps)
}

func segmentMatches(p, s string) bool {
	if strings.HasPrefix(p, ":") {
		return s != ""
	}
	return p == s
}
