package httpx_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ratewire/ratewire/shared/apperr"
	"github.com/ratewire/ratewire/shared/httpx"
)

// fakeClock is an engine clock that moves only when told.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// request builds a request with headers given as name, value pairs.
func request(method, path string, body io.Reader, hdr ...string) *http.Request {
	req := httptest.NewRequest(method, path, body)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return req
}

// corsFixture is an engine with public reads, the public click POST and
// two admin routes whose handlers try to make their answers cacheable.
func corsFixture(tb testing.TB) *fixture {
	tb.Helper()
	f := newFixture(tb, httpx.Options{})
	f.engine.GET("/api/v1/items/:id", func(c *gin.Context) { httpx.Cached(c, c.Param("id"), 30*time.Second) })
	f.engine.POST("/api/v1/click", func(c *gin.Context) { httpx.OK(c, http.StatusCreated, "clicked") })
	admin := func(c *gin.Context) {
		c.Header("Cache-Control", "public, max-age=60")
		httpx.OK(c, http.StatusOK, "done")
	}
	f.engine.POST("/api/v1/reset", httpx.RequireAdmin("tok"), admin)
	f.engine.DELETE("/api/v1/cache", httpx.RequireAdmin("tok"), admin)
	return f
}

func TestCORSPublicAnswers(t *testing.T) {
	f := corsFixture(t)
	for _, tc := range []struct {
		name string
		req  *http.Request
		code int
	}{
		{"read", request("GET", "/api/v1/items/7", nil, "Origin", "https://app.example"), 200},
		{"not modified", request("GET", "/api/v1/items/7", nil, "If-None-Match", "*"), 304},
		{"click", request("POST", "/api/v1/click", nil, "Origin", "https://app.example"), 201},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := f.do(t, tc.req)
			h := rec.Header()
			if rec.Code != tc.code || h.Get("Access-Control-Allow-Origin") != "*" {
				t.Errorf("expected %d with Allow-Origin *, got %d with %q", tc.code, rec.Code, h.Get("Access-Control-Allow-Origin"))
			}
			for _, name := range []string{"ETag", "Retry-After", "X-Request-ID"} {
				if !strings.Contains(h.Get("Access-Control-Expose-Headers"), name) {
					t.Errorf("Expose-Headers: expected %s listed, got %q", name, h.Get("Access-Control-Expose-Headers"))
				}
			}
		})
	}
}

func TestCORSPreflight(t *testing.T) {
	f := corsFixture(t)
	for _, tc := range []struct {
		name, path, method, headers string
		status                      int
		code                        string // of a refusal
	}{
		{"click", "/api/v1/click", "POST", "content-type, x-client-id, x-request-id", 204, ""},
		{"conditional read", "/api/v1/items/7", "GET", "If-None-Match", 204, ""},
		{"resumed stream", "/api/v1/items/7", "GET", "last-event-id", 204, ""},
		{"read, no headers", "/api/v1/items/7", "GET", "", 204, ""},
		{"admin with Authorization", "/api/v1/reset", "POST", "authorization", 403, "CORS_REFUSED"},
		{"public route asking for Authorization", "/api/v1/click", "POST", "Content-Type, Authorization", 403, "CORS_REFUSED"},
		{"admin DELETE", "/api/v1/cache", "DELETE", "", 403, "CORS_REFUSED"},
		{"method the path lacks", "/api/v1/items/7", "POST", "", 403, "CORS_REFUSED"},
		{"unknown header", "/api/v1/click", "POST", "x-evil", 403, "CORS_REFUSED"},
		{"unknown path", "/api/v1/nowhere", "GET", "", 404, "NOT_FOUND"},
		{"trailing slash", "/api/v1/click/", "POST", "", 404, "NOT_FOUND"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := f.do(t, request("OPTIONS", tc.path, nil, "Origin", "https://app.example",
				"Access-Control-Request-Method", tc.method, "Access-Control-Request-Headers", tc.headers))
			h := rec.Header()
			if h.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("nosniff: expected, got %q", h.Get("X-Content-Type-Options"))
			}
			if tc.status != http.StatusNoContent {
				assertError(t, rec, tc.status, tc.code)
				for _, k := range []string{"Access-Control-Allow-Origin", "Access-Control-Allow-Methods", "Access-Control-Allow-Headers", "Access-Control-Max-Age", "Access-Control-Expose-Headers"} {
					if v := h.Get(k); v != "" {
						t.Errorf("%s: expected absent on a refused preflight, got %q", k, v)
					}
				}
				if cc := h.Get("Cache-Control"); cc != "no-store" {
					t.Errorf("Cache-Control: expected no-store, got %q", cc)
				}
				return
			}
			want := map[string]string{
				"Access-Control-Allow-Origin":  "*",
				"Access-Control-Allow-Methods": "GET, HEAD, POST",
				"Access-Control-Allow-Headers": "Content-Type, If-None-Match, Last-Event-ID, X-Client-Id, X-Request-ID",
				"Access-Control-Max-Age":       httpx.CORSMaxAge,
			}
			if rec.Code != http.StatusNoContent || rec.Body.Len() != 0 {
				t.Errorf("expected 204 without a body, got %d %q", rec.Code, rec.Body)
			}
			for k, v := range want {
				if h.Get(k) != v {
					t.Errorf("%s: expected %q, got %q", k, v, h.Get(k))
				}
			}
		})
	}
	// An OPTIONS that is no preflight is still a 405 saying what the path has.
	rec := f.do(t, request("OPTIONS", "/api/v1/items/7", nil))
	assertError(t, rec, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED")
	if got := rec.Header().Get("Allow"); got != "GET" {
		t.Errorf("Allow: expected GET, got %q", got)
	}
}

func TestAdminAnswersNoCORSNoStore(t *testing.T) {
	f := corsFixture(t)
	for _, tc := range []struct {
		name   string
		method string
		path   string
		auth   string
		status int
	}{
		{"success", "POST", "/api/v1/reset", "Bearer tok", 200},
		{"wrong token", "POST", "/api/v1/reset", "Bearer nope", 403},
		{"no token", "DELETE", "/api/v1/cache", "", 401},
		{"delete success", "DELETE", "/api/v1/cache", "Bearer tok", 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := f.do(t, request(tc.method, tc.path, nil, "Origin", "https://evil.example", "Authorization", tc.auth))
			h := rec.Header()
			if rec.Code != tc.status {
				t.Fatalf("status: expected %d, got %d (%s)", tc.status, rec.Code, rec.Body)
			}
			if h.Get("Access-Control-Allow-Origin") != "" || h.Get("Access-Control-Expose-Headers") != "" {
				t.Errorf("CORS: expected none on an admin answer, got Allow-Origin %q Expose %q",
					h.Get("Access-Control-Allow-Origin"), h.Get("Access-Control-Expose-Headers"))
			}
			if h.Get("Cache-Control") != "no-store" || h.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("expected no-store (over the handler's public one) and nosniff, got %q, %q",
					h.Get("Cache-Control"), h.Get("X-Content-Type-Options"))
			}
		})
	}
}

// TestEdgeHeadersEverywhere: nosniff on answers no handler of ours
// writes in the envelope, and no-store on errors whatever the handler set.
func TestEdgeHeadersEverywhere(t *testing.T) {
	f := newFixture(t, httpx.Options{MaxBodyBytes: 4})
	f.engine.GET("/read", func(c *gin.Context) { httpx.Cached(c, "x", time.Minute) })
	f.engine.GET("/fails", func(c *gin.Context) {
		c.Header("Cache-Control", "public, max-age=60")
		httpx.Error(c, apperr.NotFound("gone"))
	})
	f.engine.GET("/boom", func(c *gin.Context) { panic("boom") })
	f.engine.GET("/status-only", func(c *gin.Context) { c.Status(http.StatusNoContent) })
	f.engine.POST("/body", func(c *gin.Context) { httpx.OK(c, 200, nil) })
	for _, tc := range []struct {
		name  string
		req   *http.Request
		code  int
		cache string
	}{
		{"metrics", request("GET", "/metrics", nil), 200, ""},
		{"304", request("GET", "/read", nil, "If-None-Match", "*"), 304, "public, max-age=60"},
		{"error over public Cache-Control", request("GET", "/fails", nil), 404, "no-store"},
		{"panic", request("GET", "/boom", nil), 500, "no-store"},
		{"status only", request("GET", "/status-only", nil), 204, ""},
		{"413", request("POST", "/body", strings.NewReader("too long")), 413, "no-store"},
		{"405", request("PUT", "/read", nil), 405, "no-store"},
		{"404", request("GET", "/read/", nil), 404, "no-store"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := f.do(t, tc.req)
			h := rec.Header()
			if rec.Code != tc.code || h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Cache-Control") != tc.cache {
				t.Errorf("expected %d, nosniff, Cache-Control %q; got %d, %q, %q",
					tc.code, tc.cache, rec.Code, h.Get("X-Content-Type-Options"), h.Get("Cache-Control"))
			}
		})
	}
}

// TestBodyLimitBeforeHandler: a handler that maps every decoding failure
// to 400, as the ranking's click handler does, never sees an oversize body,
// declared or chunked; a small chunked body reaches it intact.
func TestBodyLimitBeforeHandler(t *testing.T) {
	f := newFixture(t, httpx.Options{MaxBodyBytes: 16})
	var reached int
	f.engine.POST("/click", func(c *gin.Context) {
		reached++
		var in struct{ Country string }
		if err := json.NewDecoder(c.Request.Body).Decode(&in); err != nil {
			httpx.Error(c, apperr.Invalid(apperr.CodeInvalidParameter, "bad body", nil))
			return
		}
		httpx.OK(c, http.StatusCreated, in.Country)
	})
	big := `{"country":"` + strings.Repeat("K", 100) + `"}`
	for _, tc := range []struct {
		name    string
		body    string
		chunked bool
		status  int
		reached bool
	}{
		{"chunked over the limit", big, true, 413, false},
		{"declared over the limit", big, false, 413, false},
		{"chunked exactly at the limit", `{"country":"KR"}`, true, 201, true},
		{"chunked one byte over", `{"country":"KRW"}`, true, 413, false},
		{"declared within", `{"country":"JP"}`, false, 201, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reached = 0
			req := request("POST", "/click", strings.NewReader(tc.body))
			if tc.chunked {
				req.ContentLength = -1
			}
			rec := f.do(t, req)
			if tc.status == http.StatusRequestEntityTooLarge {
				assertError(t, rec, tc.status, "PAYLOAD_TOO_LARGE")
			} else if rec.Code != tc.status {
				t.Errorf("status: expected %d, got %d (%s)", tc.status, rec.Code, rec.Body)
			}
			if (reached > 0) != tc.reached {
				t.Errorf("handler reached: expected %v, got %v", tc.reached, reached > 0)
			}
		})
	}

	// Over a real connection a body without a length is sent chunked.
	srv := httptest.NewServer(f.engine)
	defer srv.Close()
	// io.MultiReader hides the length, so the client sends it chunked.
	res, err := http.Post(srv.URL+"/click", "application/json", io.MultiReader(strings.NewReader(big)))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("chunked POST over the wire: expected 413, got %d", res.StatusCode)
	}
}

func TestAdminLoginThrottle(t *testing.T) {
	clk := newFakeClock()
	f := newFixture(t, httpx.Options{Now: clk.Now, TrustedProxies: []string{"10.0.0.5/32"}})
	f.engine.POST("/admin", httpx.RequireAdmin("s3cret"), func(c *gin.Context) { httpx.OK(c, 200, "ok") })
	call := func(client, auth string) *httptest.ResponseRecorder {
		req := request("POST", "/admin", nil, "X-Forwarded-For", client, "Authorization", auth)
		req.RemoteAddr = "10.0.0.5:4000" // the gateway: X-Forwarded-For names the client
		return f.do(t, req)
	}
	expect := func(step string, rec *httptest.ResponseRecorder, status int, retryAfter string) {
		t.Helper()
		if rec.Code != status || rec.Header().Get("Retry-After") != retryAfter {
			t.Fatalf("%s: expected %d Retry-After %q, got %d %q (%s)", step, status, retryAfter, rec.Code, rec.Header().Get("Retry-After"), rec.Body)
		}
	}

	// Successes do not count.
	for range 10 {
		expect("success", call("203.0.113.1", "Bearer s3cret"), 200, "")
	}
	for i := range httpx.AdminMaxFailures {
		auth := "Bearer guess"
		want := 403
		if i%2 == 1 {
			auth, want = "", 401 // a missing token is a failure too
		}
		expect(fmt.Sprintf("failure %d", i+1), call("203.0.113.1", auth), want, "")
		clk.Advance(time.Second)
	}
	// Five failures in 5 s: locked out for the rest of the minute, even
	// with the right token.
	expect("sixth try", call("203.0.113.1", "Bearer guess"), 429, "55")
	clk.Advance(30 * time.Second)
	expect("right token while locked", call("203.0.113.1", "Bearer s3cret"), 429, "25")
	assertError(t, call("203.0.113.1", "Bearer s3cret"), 429, "RATE_LIMIT_EXCEEDED")
	// Another client behind the same gateway is not affected.
	expect("other client", call("203.0.113.2", "Bearer s3cret"), 200, "")
	// Once the window has passed, the right token works again.
	clk.Advance(25 * time.Second)
	expect("after the window", call("203.0.113.1", "Bearer s3cret"), 200, "")
	expect("failure after the window", call("203.0.113.1", "Bearer guess"), 403, "")
}

// TestAdminThrottleBounded: the tracked addresses are bounded; past the
// bound the oldest entry gives way rather than the table growing.
func TestAdminThrottleBounded(t *testing.T) {
	clk := newFakeClock()
	e := httpx.NewEngine(httpx.Options{Now: clk.Now})
	e.POST("/admin", httpx.RequireAdmin("s3cret"), func(c *gin.Context) { httpx.OK(c, 200, "ok") })
	call := func(peer string) int {
		req := request("POST", "/admin", nil, "Authorization", "Bearer guess")
		req.RemoteAddr = peer + ":4000"
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		return rec.Code
	}
	for range httpx.AdminMaxFailures {
		call("198.51.100.1")
	}
	if got := call("198.51.100.1"); got != 429 {
		t.Fatalf("locked client: expected 429, got %d", got)
	}
	clk.Advance(time.Second)
	for i := range 5000 {
		call(fmt.Sprintf("10.%d.%d.1", i/256, i%256))
	}
	if got := call("198.51.100.1"); got != 403 {
		t.Errorf("oldest entry after 5000 other addresses: expected evicted (403), got %d", got)
	}
}

func TestErrorLogRateLimit(t *testing.T) {
	clk := newFakeClock()
	f := newFixture(t, httpx.Options{Now: clk.Now})
	dbDown := apperr.Unavailable("db down", fmt.Errorf("dial tcp 10.0.0.7:5432: connection refused"))
	f.engine.GET("/a/:id", func(c *gin.Context) { httpx.Error(c, dbDown) })
	f.engine.GET("/b", func(c *gin.Context) { httpx.Error(c, dbDown) })
	f.engine.GET("/internal", func(c *gin.Context) {
		httpx.Error(c, apperr.Internal(fmt.Errorf("relay: %s", strings.Repeat("x", 47860))))
	})
	errorLines := func() []map[string]any {
		var out []map[string]any
		for _, l := range f.logs.lines(t) {
			if l["level"] == "ERROR" {
				out = append(out, l)
			}
		}
		return out
	}

	for i := range 10 {
		if rec := f.get(t, fmt.Sprintf("/a/%d", i)); rec.Code != 503 {
			t.Fatalf("status: expected 503, got %d", rec.Code)
		}
		clk.Advance(time.Second / 2)
	}
	f.get(t, "/b") // another route is logged on its own
	if got := errorLines(); len(got) != 2 {
		t.Fatalf("error lines after 10 failures of /a and 1 of /b within 5 s: expected 2, got %d: %v", len(got), got)
	}
	clk.Advance(httpx.ErrorLogWindow)
	f.get(t, "/a/x")
	lines := errorLines()
	if len(lines) != 3 {
		t.Fatalf("error lines after the window: expected 3, got %d: %v", len(lines), lines)
	}
	last := lines[2]
	if last["route"] != "/a/:id" || last["suppressed"] != float64(9) || !strings.Contains(last["err"].(string), "connection refused") {
		t.Errorf("line after the window: expected route /a/:id, suppressed 9 and the cause, got %v", last)
	}
	if _, ok := lines[0]["suppressed"]; ok {
		t.Errorf("first line: expected no suppressed count, got %v", lines[0])
	}

	f.get(t, "/internal")
	lines = errorLines()
	msg := lines[len(lines)-1]["err"].(string)
	if len(msg) > httpx.MaxLogText+64 || !strings.Contains(msg, "relay: xxx") || !strings.Contains(msg, "bytes cut") {
		t.Errorf("long error: expected at most %d bytes plus a note, got %d bytes", httpx.MaxLogText, len(msg))
	}
}

// TestAccessLogSamplesSuccessesKeepsErrors: under load the access log
// logs AccessLogBurst successful requests of a route per window and then
// the count of those it left out, but every error answer.
func TestAccessLogSamplesSuccessesKeepsErrors(t *testing.T) {
	clk := newFakeClock()
	f := newFixture(t, httpx.Options{Now: clk.Now})
	f.engine.GET("/ok/:id", func(c *gin.Context) { httpx.OK(c, http.StatusOK, "fine") })
	f.engine.GET("/other", func(c *gin.Context) { httpx.OK(c, http.StatusOK, "fine") })
	f.engine.GET("/bad", func(c *gin.Context) {
		httpx.Error(c, apperr.Invalid(apperr.CodeInvalidParameter, "bad", nil))
	})
	access := func() []map[string]any {
		var out []map[string]any
		for _, l := range f.logs.lines(t) {
			if l["msg"] == "http request" {
				out = append(out, l)
			}
		}
		return out
	}

	for i := range 1000 {
		f.get(t, fmt.Sprintf("/ok/%d", i))
	}
	f.get(t, "/other")
	for range 50 {
		f.get(t, "/bad")
	}
	lines := access()
	if want := httpx.AccessLogBurst + 1 + 50; len(lines) != want {
		t.Fatalf("access lines for 1000 OKs of one route, 1 of another and 50 errors: expected %d, got %d", want, len(lines))
	}
	bad := 0
	for _, l := range lines {
		if l["status"] == float64(400) {
			bad++
		}
	}
	if bad != 50 {
		t.Errorf("error answers logged: expected all 50, got %d", bad)
	}

	clk.Advance(httpx.ErrorLogWindow)
	f.get(t, "/ok/next")
	lines = access()
	last := lines[len(lines)-1]
	if want := float64(1000 - httpx.AccessLogBurst); last["route"] != "/ok/:id" || last["suppressed"] != want {
		t.Errorf("first line of the next window: expected route /ok/:id with suppressed %v, got %v", want, last)
	}
	// Nothing is lost to the metrics: every request is counted.
	want := `ratewire_http_requests_total{method="GET",route="/ok/:id",status="200"} 1001`
	if body := f.get(t, "/metrics").Body.String(); !strings.Contains(body, want) {
		t.Errorf("expected %q in /metrics (every request counted), got\n%s", want, body)
	}
}
