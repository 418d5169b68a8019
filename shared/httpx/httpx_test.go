package httpx_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ratewire/ratewire/shared/apperr"
	"github.com/ratewire/ratewire/shared/httpx"
	"github.com/ratewire/ratewire/shared/kst"
)

// logBuffer is a goroutine-safe sink for a JSON slog handler.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// lines decodes every JSON log record.
func (b *logBuffer) lines(tb testing.TB) []map[string]any {
	tb.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(b.String()))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			tb.Fatalf("decode log line %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

type fixture struct {
	engine *gin.Engine
	logs   *logBuffer
	reg    *prometheus.Registry
}

func newFixture(tb testing.TB, o httpx.Options) *fixture {
	tb.Helper()
	logs := &logBuffer{}
	o.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if o.Registry == nil {
		o.Registry = prometheus.NewRegistry()
	}
	return &fixture{engine: httpx.NewEngine(o), logs: logs, reg: o.Registry}
}

func (f *fixture) do(tb testing.TB, req *http.Request) *httptest.ResponseRecorder {
	tb.Helper()
	rec := httptest.NewRecorder()
	f.engine.ServeHTTP(rec, req)
	return rec
}

func (f *fixture) get(tb testing.TB, path string) *httptest.ResponseRecorder {
	tb.Helper()
	return f.do(tb, httptest.NewRequest(http.MethodGet, path, nil))
}

func decode(tb testing.TB, rec *httptest.ResponseRecorder) httpx.Envelope {
	tb.Helper()
	var env httpx.Envelope
	if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil {
		tb.Fatalf("decode envelope %q: %v", rec.Body.String(), err)
	}
	return env
}

func assertError(tb testing.TB, rec *httptest.ResponseRecorder, status int, code string) httpx.Envelope {
	tb.Helper()
	if rec.Code != status {
		tb.Errorf("status: expected %d, got %d (body %s)", status, rec.Code, rec.Body)
	}
	env := decode(tb, rec)
	if env.Success {
		tb.Errorf("success: expected false, got true")
	}
	if env.Error == nil {
		tb.Fatalf("error: expected an error body, got none in %s", rec.Body)
	}
	if env.Error.Code != code {
		tb.Errorf("error.code: expected %q, got %q", code, env.Error.Code)
	}
	if env.Data != nil {
		tb.Errorf("data: expected absent on error, got %s", env.Data)
	}
	return env
}

// envelopeNow is the engine clock of TestEnvelopeShape: the last
// nanosecond of a year in KST, which is still 31 December in UTC, so a
// timestamp that is not UTC, or rounds instead of truncating to
// milliseconds, shows.
var envelopeNow = time.Date(2026, 12, 31, 23, 59, 59, 999_999_999, kst.Zone)

func TestEnvelopeShape(t *testing.T) {
	f := newFixture(t, httpx.Options{Now: func() time.Time { return envelopeNow }})
	f.engine.GET("/ok", func(c *gin.Context) { httpx.OK(c, http.StatusCreated, map[string]int{"n": 1}) })
	f.engine.GET("/nf", func(c *gin.Context) { httpx.Error(c, apperr.NotFound("no such thing")) })
	f.engine.GET("/bad", func(c *gin.Context) {
		httpx.Error(c, apperr.Invalid("INVALID_CURRENCY_CODE", "bad code", map[string]any{"currency_code": "XYZ"}))
	})
	// A handler that writes the envelope itself takes the same timestamp.
	f.engine.GET("/raw", func(c *gin.Context) {
		c.Data(http.StatusOK, "application/json; charset=utf-8", []byte(`{"success":true,"data":{"n":2},"timestamp":"`+httpx.Timestamp(c)+`"}`))
	})

	tests := []struct {
		name        string
		path        string
		status      int
		success     bool
		wantKeys    []string
		absentKeys  []string
		wantData    string
		wantDetails bool
	}{
		{"success", "/ok", 201, true, []string{"success", "data", "timestamp"}, []string{"error"}, `{"n":1}`, false},
		{"error without details", "/nf", 404, false, []string{"success", "error", "timestamp"}, []string{"data"}, "", false},
		{"error with details", "/bad", 400, false, []string{"success", "error", "timestamp"}, []string{"data"}, "", true},
		{"no route", "/nope", 404, false, []string{"success", "error", "timestamp"}, []string{"data"}, "", false},
		{"written by the handler", "/raw", 200, true, []string{"success", "data", "timestamp"}, []string{"error"}, `{"n":2}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := f.get(t, tt.path)
			if rec.Code != tt.status {
				t.Fatalf("status: expected %d, got %d", tt.status, rec.Code)
			}
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type: expected application/json, got %q", ct)
			}
			var raw map[string]json.RawMessage
			if err := json.Unmarshal(rec.Body.Bytes(), &raw); err != nil {
				t.Fatalf("decode: %v", err)
			}
			for _, k := range tt.wantKeys {
				if _, ok := raw[k]; !ok {
					t.Errorf("key %q: expected present, got absent in %s", k, rec.Body)
				}
			}
			for _, k := range tt.absentKeys {
				if _, ok := raw[k]; ok {
					t.Errorf("key %q: expected absent, got present in %s", k, rec.Body)
				}
			}
			env := decode(t, rec)
			if env.Success != tt.success {
				t.Errorf("success: expected %v, got %v", tt.success, env.Success)
			}
			if tt.wantData != "" && string(env.Data) != tt.wantData {
				t.Errorf("data: expected %s, got %s", tt.wantData, env.Data)
			}
			if !tt.success {
				var errRaw map[string]json.RawMessage
				if err := json.Unmarshal(raw["error"], &errRaw); err != nil {
					t.Fatalf("decode error body: %v", err)
				}
				if _, ok := errRaw["details"]; ok != tt.wantDetails {
					t.Errorf("details present: expected %v, got %v (%s)", tt.wantDetails, ok, raw["error"])
				}
			}
			if _, err := time.Parse(time.RFC3339Nano, env.Timestamp); err != nil {
				t.Fatalf("timestamp %q: expected RFC 3339, got parse error %v", env.Timestamp, err)
			}
			if want := "2026-12-31T14:59:59.999Z"; env.Timestamp != want {
				t.Errorf("timestamp: expected the engine clock in UTC with milliseconds, %q; got %q", want, env.Timestamp)
			}
		})
	}
}

func TestRequestID(t *testing.T) {
	f := newFixture(t, httpx.Options{})
	f.engine.GET("/id", func(c *gin.Context) { httpx.OK(c, http.StatusOK, httpx.RequestID(c)) })

	tests := []struct {
		name     string
		incoming string
		reuse    bool
	}{
		{"valid reused", "abc-123_X.y", true},
		{"max length reused", strings.Repeat("a", 128), true},
		{"absent", "", false},
		{"too long", strings.Repeat("a", 129), false},
		{"bad characters", "abc def", false},
		{"injection attempt", "abc\r\nX-Evil: 1", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/id", nil)
			if tt.incoming != "" {
				req.Header.Set(httpx.RequestIDHeader, tt.incoming)
			}
			rec := f.do(t, req)
			got := rec.Header().Get(httpx.RequestIDHeader)
			if tt.reuse {
				if got != tt.incoming {
					t.Errorf("header: expected %q, got %q", tt.incoming, got)
				}
			} else if _, err := uuid.Parse(got); err != nil {
				t.Errorf("header: expected a fresh UUID, got %q", got)
			}
			var inCtx string
			if err := json.Unmarshal(decode(t, rec).Data, &inCtx); err != nil {
				t.Fatalf("decode data: %v", err)
			}
			if inCtx != got {
				t.Errorf("RequestID(c): expected %q (the header), got %q", got, inCtx)
			}
		})
	}
}

func TestPanicRecovery(t *testing.T) {
	const secret = "dsn=postgres://user:hunter2@db"
	f := newFixture(t, httpx.Options{})
	f.engine.GET("/boom", func(c *gin.Context) { panic(secret) })
	f.engine.GET("/boom-err", func(c *gin.Context) { panic(errors.New(secret)) })

	for _, path := range []string{"/boom", "/boom-err"} {
		t.Run(path, func(t *testing.T) {
			rec := f.get(t, path)
			env := assertError(t, rec, http.StatusInternalServerError, "INTERNAL_ERROR")
			if strings.Contains(rec.Body.String(), "hunter2") {
				t.Errorf("body: expected no panic text, got %s", rec.Body)
			}
			if env.Error.Message == "" {
				t.Errorf("message: expected a generic message, got empty")
			}
			id := rec.Header().Get(httpx.RequestIDHeader)
			var found bool
			for _, l := range f.logs.lines(t) {
				if l["msg"] == "panic recovered" && l["request_id"] == id {
					found = true
					if !strings.Contains(l["err"].(string), "hunter2") {
						t.Errorf("panic log err: expected the panic value, got %v", l["err"])
					}
					if s, _ := l["stack"].(string); !strings.Contains(s, "goroutine") {
						t.Errorf("panic log stack: expected a stack trace, got %q", s)
					}
				}
			}
			if !found {
				t.Errorf("panic log: expected a line with request_id %s, got %s", id, f.logs)
			}
		})
	}
}

func TestBodyLimit(t *testing.T) {
	f := newFixture(t, httpx.Options{MaxBodyBytes: 10})
	f.engine.POST("/echo", func(c *gin.Context) {
		b, err := io.ReadAll(c.Request.Body)
		if err != nil {
			httpx.Error(c, err)
			return
		}
		httpx.OK(c, http.StatusOK, string(b))
	})

	tests := []struct {
		name    string
		body    string
		chunked bool
		status  int
	}{
		{"within limit", "0123456789", false, http.StatusOK},
		{"declared too large", "0123456789A", false, http.StatusRequestEntityTooLarge},
		{"undeclared too large", strings.Repeat("x", 100), true, http.StatusRequestEntityTooLarge},
		{"undeclared within limit", "small", true, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "/echo", strings.NewReader(tt.body))
			if tt.chunked {
				req.ContentLength = -1
			}
			rec := f.do(t, req)
			if tt.status == http.StatusOK {
				if rec.Code != http.StatusOK {
					t.Fatalf("status: expected 200, got %d (%s)", rec.Code, rec.Body)
				}
				return
			}
			assertError(t, rec, tt.status, "PAYLOAD_TOO_LARGE")
		})
	}
}

func TestNoRouteAndNoMethod(t *testing.T) {
	f := newFixture(t, httpx.Options{})
	tests := []struct {
		name   string
		method string
		path   string
		status int
		code   string
	}{
		{"unknown path", http.MethodGet, "/nope", http.StatusNotFound, "NOT_FOUND"},
		{"wrong method", http.MethodPost, "/healthz", http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := f.do(t, httptest.NewRequest(tt.method, tt.path, nil))
			assertError(t, rec, tt.status, tt.code)
			if tt.status == http.StatusMethodNotAllowed && !strings.Contains(rec.Header().Get("Allow"), "GET") {
				t.Errorf("Allow: expected GET listed, got %q", rec.Header().Get("Allow"))
			}
		})
	}
}

func TestHealthAndReady(t *testing.T) {
	depErr := errors.New("dial tcp 10.0.0.7:5432: connection refused")
	var sawDeadline time.Duration
	tests := []struct {
		name   string
		path   string
		ready  func(context.Context) error
		status int
		want   string
	}{
		{"healthz", "/healthz", nil, 200, "ok"},
		{"healthz ignores readiness", "/healthz", func(context.Context) error { return depErr }, 200, "ok"},
		{"readyz without check", "/readyz", nil, 200, "ready"},
		{"readyz ready", "/readyz", func(ctx context.Context) error {
			dl, ok := ctx.Deadline()
			if ok {
				sawDeadline = time.Until(dl)
			}
			return nil
		}, 200, "ready"},
		{"readyz not ready", "/readyz", func(context.Context) error { return depErr }, 503, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, httpx.Options{Service: "currency", Ready: tt.ready})
			rec := f.get(t, tt.path)
			if tt.status != http.StatusOK {
				env := assertError(t, rec, tt.status, "SERVICE_UNAVAILABLE")
				if strings.Contains(env.Error.Message, "5432") {
					t.Errorf("message: expected generic, got %q", env.Error.Message)
				}
				if !strings.Contains(f.logs.String(), "connection refused") {
					t.Errorf("logs: expected the dependency error, got %s", f.logs)
				}
				return
			}
			if rec.Code != http.StatusOK {
				t.Fatalf("status: expected 200, got %d (%s)", rec.Code, rec.Body)
			}
			var data struct{ Status, Service string }
			if err := json.Unmarshal(decode(t, rec).Data, &data); err != nil {
				t.Fatalf("decode data: %v", err)
			}
			if data.Status != tt.want || data.Service != "currency" {
				t.Errorf("data: expected status %q service currency, got %+v", tt.want, data)
			}
		})
	}
	if sawDeadline <= 0 || sawDeadline > 2*time.Second {
		t.Errorf("Ready deadline: expected within 2s, got %v", sawDeadline)
	}
}

func TestMetrics(t *testing.T) {
	f := newFixture(t, httpx.Options{})
	f.engine.GET("/items/:id", func(c *gin.Context) { httpx.OK(c, http.StatusOK, c.Param("id")) })
	f.get(t, "/items/42")
	f.get(t, "/items/43")
	f.get(t, "/no/such/path")

	rec := f.get(t, "/metrics")
	if rec.Code != http.StatusOK {
		t.Fatalf("status: expected 200, got %d", rec.Code)
	}
	body := rec.Body.String()
	tests := []struct {
		name    string
		line    string
		present bool
	}{
		{"route template", `ratewire_http_requests_total{method="GET",route="/items/:id",status="200"} 2`, true},
		{"unmatched", `ratewire_http_requests_total{method="GET",route="unmatched",status="404"} 1`, true},
		{"histogram", `ratewire_http_request_duration_seconds_count{method="GET",route="/items/:id"} 2`, true},
		{"no raw path", `route="/items/42"`, false},
		{"no raw unmatched path", `/no/such/path`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := strings.Contains(body, tt.line); got != tt.present {
				t.Errorf("%q in /metrics: expected %v, got %v\n%s", tt.line, tt.present, got, body)
			}
		})
	}
}

func TestSharedRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	a := newFixture(t, httpx.Options{Registry: reg})
	b := newFixture(t, httpx.Options{Registry: reg})
	a.get(t, "/healthz")
	b.get(t, "/healthz")
	body := a.get(t, "/metrics").Body.String()
	want := `ratewire_http_requests_total{method="GET",route="/healthz",status="200"} 2`
	if !strings.Contains(body, want) {
		t.Errorf("expected %q in /metrics, got\n%s", want, body)
	}
}

func TestAccessLog(t *testing.T) {
	f := newFixture(t, httpx.Options{})
	f.engine.GET("/items/:id", func(c *gin.Context) { httpx.OK(c, http.StatusOK, "x") })
	for _, p := range []string{"/healthz", "/readyz", "/metrics", "/items/7"} {
		f.get(t, p)
	}
	var access []map[string]any
	for _, l := range f.logs.lines(t) {
		if l["msg"] == "http request" {
			access = append(access, l)
		}
	}
	if len(access) != 1 {
		t.Fatalf("access lines: expected 1 (probes skipped), got %d: %v", len(access), access)
	}
	l := access[0]
	want := map[string]any{"method": "GET", "route": "/items/:id", "path": "/items/7", "status": float64(200), "level": "INFO"}
	for k, v := range want {
		if l[k] != v {
			t.Errorf("%s: expected %v, got %v", k, v, l[k])
		}
	}
	for _, k := range []string{"duration_ms", "bytes", "request_id", "client_ip"} {
		if _, ok := l[k]; !ok {
			t.Errorf("%s: expected present, got absent in %v", k, l)
		}
	}
}

func TestCached(t *testing.T) {
	data := map[string]any{"base": "KRW", "rates": map[string]float64{"USD": 1380.5}}
	raw, err := json.Marshal(data)
	if err != nil {
		t.Fatal(err)
	}
	etag := httpx.ETagOf(raw)

	f := newFixture(t, httpx.Options{})
	f.engine.GET("/latest", func(c *gin.Context) { httpx.Cached(c, data, 30*time.Second) })

	first := f.get(t, "/latest")
	time.Sleep(2 * time.Millisecond) // let the envelope timestamp move on
	second := f.get(t, "/latest")
	if first.Code != http.StatusOK {
		t.Fatalf("status: expected 200, got %d", first.Code)
	}
	if got := first.Header().Get("ETag"); got != etag {
		t.Errorf("ETag: expected %s, got %s", etag, got)
	}
	if got := second.Header().Get("ETag"); got != etag {
		t.Errorf("ETag of same data: expected %s, got %s", etag, got)
	}
	if len(etag) != 34 || etag[0] != '"' || etag[33] != '"' {
		t.Errorf("ETag: expected a quoted 32-hex-digit tag, got %s", etag)
	}
	if got := first.Header().Get("Cache-Control"); got != "public, max-age=30" {
		t.Errorf("Cache-Control: expected %q, got %q", "public, max-age=30", got)
	}
	if got := string(decode(t, first).Data); got != string(raw) {
		t.Errorf("data: expected %s, got %s", raw, got)
	}
	if other := httpx.ETagOf([]byte(`{"base":"USD"}`)); other == etag {
		t.Errorf("ETag of different data: expected different from %s, got the same", etag)
	}

	tests := []struct {
		name        string
		ifNoneMatch string
		status      int
	}{
		{"exact", etag, http.StatusNotModified},
		{"weak", "W/" + etag, http.StatusNotModified},
		{"list", `"aaaa", ` + etag + `, "bbbb"`, http.StatusNotModified},
		{"weak in list", `"aaaa",W/` + etag, http.StatusNotModified},
		{"star", "*", http.StatusNotModified},
		{"other", `"0123"`, http.StatusOK},
		{"unquoted", strings.Trim(etag, `"`), http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/latest", nil)
			req.Header.Set("If-None-Match", tt.ifNoneMatch)
			rec := f.do(t, req)
			if rec.Code != tt.status {
				t.Fatalf("status: expected %d, got %d", tt.status, rec.Code)
			}
			if got := rec.Header().Get("ETag"); got != etag {
				t.Errorf("ETag: expected %s, got %s", etag, got)
			}
			if got := rec.Header().Get("Cache-Control"); got != "public, max-age=30" {
				t.Errorf("Cache-Control: expected %q, got %q", "public, max-age=30", got)
			}
			if tt.status == http.StatusNotModified && rec.Body.Len() != 0 {
				t.Errorf("body: expected empty on 304, got %q", rec.Body)
			}
			if tt.status == http.StatusOK && !decode(t, rec).Success {
				t.Errorf("success: expected true, got false")
			}
		})
	}
}

func TestErrorMapping(t *testing.T) {
	secret := errors.New("pq: password authentication failed for user ratewire")
	tests := []struct {
		name       string
		err        error
		status     int
		code       string
		message    string // exact when set
		retryAfter string
		logged     bool
	}{
		{"invalid", apperr.Invalid("INVALID_PERIOD", "period must be one of 1d,1w", nil), 400, "INVALID_PERIOD", "period must be one of 1d,1w", "", false},
		{"unauthorized", apperr.Unauthorized("no token"), 401, "UNAUTHORIZED", "no token", "", false},
		{"forbidden", apperr.Forbidden("nope"), 403, "FORBIDDEN", "nope", "", false},
		{"not found", apperr.NotFound("no USD"), 404, "NOT_FOUND", "no USD", "", false},
		{"conflict", apperr.Conflict("RUN_IN_PROGRESS", "busy"), 409, "RUN_IN_PROGRESS", "busy", "", false},
		{"unprocessable", apperr.Unprocessable("INSUFFICIENT_HISTORY", "need 30 days", nil), 422, "INSUFFICIENT_HISTORY", "need 30 days", "", false},
		{"rate limited", apperr.RateLimited(1500 * time.Millisecond), 429, "RATE_LIMIT_EXCEEDED", "", "2", false},
		{"rate limited zero", apperr.RateLimited(0), 429, "RATE_LIMIT_EXCEEDED", "", "1", false},
		{"unavailable", apperr.Unavailable("db down", secret), 503, "SERVICE_UNAVAILABLE", "", "", true},
		{"internal", apperr.Internal(secret), 500, "INTERNAL_ERROR", "", "", true},
		{"plain error", secret, 500, "INTERNAL_ERROR", "", "", true},
		{"wrapped", errors.Join(errors.New("ctx"), apperr.NotFound("gone")), 404, "NOT_FOUND", "gone", "", false},
		{"max bytes", &http.MaxBytesError{Limit: 5}, 413, "PAYLOAD_TOO_LARGE", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, httpx.Options{})
			f.engine.GET("/e", func(c *gin.Context) { httpx.Error(c, tt.err) })
			rec := f.get(t, "/e")
			env := assertError(t, rec, tt.status, tt.code)
			if tt.message != "" && env.Error.Message != tt.message {
				t.Errorf("message: expected %q, got %q", tt.message, env.Error.Message)
			}
			if env.Error.Message == "" {
				t.Errorf("message: expected non-empty, got empty")
			}
			if strings.Contains(rec.Body.String(), "password") {
				t.Errorf("body: expected no internals, got %s", rec.Body)
			}
			if got := rec.Header().Get("Retry-After"); got != tt.retryAfter {
				t.Errorf("Retry-After: expected %q, got %q", tt.retryAfter, got)
			}
			var errLines int
			id := rec.Header().Get(httpx.RequestIDHeader)
			for _, l := range f.logs.lines(t) {
				if l["level"] == "ERROR" {
					errLines++
					if l["request_id"] != id || !strings.Contains(l["err"].(string), "password") {
						t.Errorf("error log: expected request_id %s and the cause, got %v", id, l)
					}
				}
			}
			want := 0
			if tt.logged {
				want = 1
			}
			if errLines != want {
				t.Errorf("error log lines: expected %d, got %d: %s", want, errLines, f.logs)
			}
		})
	}
}

func TestInvalidDetails(t *testing.T) {
	f := newFixture(t, httpx.Options{})
	f.engine.GET("/e", func(c *gin.Context) {
		httpx.Error(c, apperr.Invalid("INVALID_CURRENCY_CODE", "unknown currency", map[string]any{"currency_code": "XYZ"}))
	})
	env := assertError(t, f.get(t, "/e"), 400, "INVALID_CURRENCY_CODE")
	if got := env.Error.Details["currency_code"]; got != "XYZ" {
		t.Errorf("details.currency_code: expected XYZ, got %v", got)
	}
}

func TestRequireAdmin(t *testing.T) {
	tests := []struct {
		name     string
		token    string
		header   string
		status   int
		code     string
		wwwAuth  bool
		contains string
	}{
		{"disabled", "", "Bearer anything", 403, "FORBIDDEN", false, "RATEWIRE_ADMIN_TOKEN"},
		{"disabled no header", "", "", 403, "FORBIDDEN", false, "RATEWIRE_ADMIN_TOKEN"},
		{"missing header", "s3cret", "", 401, "UNAUTHORIZED", true, ""},
		{"wrong scheme", "s3cret", "Basic czNjcmV0", 401, "UNAUTHORIZED", true, ""},
		{"empty bearer", "s3cret", "Bearer ", 401, "UNAUTHORIZED", true, ""},
		{"wrong token", "s3cret", "Bearer guess", 403, "FORBIDDEN", false, ""},
		{"prefix of token", "s3cret", "Bearer s3cre", 403, "FORBIDDEN", false, ""},
		{"right token", "s3cret", "Bearer s3cret", 200, "", false, ""},
		{"lower-case scheme", "s3cret", "bearer s3cret", 200, "", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, httpx.Options{})
			var reached bool
			f.engine.POST("/admin", httpx.RequireAdmin(tt.token), func(c *gin.Context) {
				reached = true
				httpx.OK(c, http.StatusOK, "done")
			})
			req := httptest.NewRequest(http.MethodPost, "/admin", nil)
			if tt.header != "" {
				req.Header.Set("Authorization", tt.header)
			}
			rec := f.do(t, req)
			if tt.status == http.StatusOK {
				if rec.Code != http.StatusOK || !reached {
					t.Fatalf("expected 200 and handler reached, got %d reached=%v (%s)", rec.Code, reached, rec.Body)
				}
				return
			}
			env := assertError(t, rec, tt.status, tt.code)
			if reached {
				t.Errorf("handler: expected not reached, got reached")
			}
			if got := rec.Header().Get("WWW-Authenticate") == "Bearer"; got != tt.wwwAuth {
				t.Errorf("WWW-Authenticate Bearer: expected %v, got %q", tt.wwwAuth, rec.Header().Get("WWW-Authenticate"))
			}
			if tt.contains != "" && !strings.Contains(env.Error.Message, tt.contains) {
				t.Errorf("message: expected to mention %q, got %q", tt.contains, env.Error.Message)
			}
		})
	}
}

// TestClientIPBehindTrustedProxies checks who the client is: the address
// a trusted proxy puts in X-Forwarded-For, and otherwise the peer,
// whatever X-Forwarded-For or X-Real-IP it sends.
func TestClientIPBehindTrustedProxies(t *testing.T) {
	for _, tc := range []struct {
		name    string
		trusted []string
		peer    string
		xff     string
		want    string
	}{
		{"no proxy trusted: the peer", nil, "10.0.0.5:4000", "203.0.113.7", "10.0.0.5"},
		{"the gateway: its client", []string{"10.0.0.5/32"}, "10.0.0.5:4000", "203.0.113.7", "203.0.113.7"},
		{"a forged hop before the gateway's", []string{"10.0.0.5/32"}, "10.0.0.5:4000", "1.2.3.4, 203.0.113.7", "203.0.113.7"},
		{"anyone else: ignored", []string{"10.0.0.5/32"}, "198.51.100.9:4000", "203.0.113.7", "198.51.100.9"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := httpx.NewEngine(httpx.Options{TrustedProxies: tc.trusted})
			e.GET("/ip", func(c *gin.Context) { c.String(http.StatusOK, c.ClientIP()) })
			req := httptest.NewRequest(http.MethodGet, "/ip", nil)
			req.RemoteAddr = tc.peer
			req.Header.Set("X-Forwarded-For", tc.xff)
			req.Header.Set("X-Real-IP", "192.0.2.1")
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, req)
			if got := rec.Body.String(); got != tc.want {
				t.Errorf("client: expected %s, got %s", tc.want, got)
			}
		})
	}
}

// TestEdgeHeadersAndStatuses checks what every answer carries: nosniff,
// no-store on errors and admin answers (a public read keeps its
// Cache-Control), a 405 that says which methods the path has, and a
// trailing slash answered 404 in the envelope rather than redirected.
func TestEdgeHeadersAndStatuses(t *testing.T) {
	e := httpx.NewEngine(httpx.Options{})
	e.GET("/items/:id", func(c *gin.Context) { httpx.Cached(c, map[string]string{"id": c.Param("id")}, 30*time.Second) })
	e.POST("/items/:id", func(c *gin.Context) { httpx.OK(c, http.StatusOK, nil) })
	e.DELETE("/admin/cache", httpx.RequireAdmin("tok"), func(c *gin.Context) { httpx.OK(c, http.StatusOK, nil) })
	do := func(method, path string, hdr ...string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		return rec
	}
	for _, tc := range []struct {
		method, path string
		hdr          []string
		status       int
		cache, allow string
	}{
		{"GET", "/items/7", nil, 200, "public, max-age=30", ""},
		{"GET", "/items/7/", nil, 404, "no-store", ""},
		{"PUT", "/items/7", nil, 405, "no-store", "GET, POST"},
		{"GET", "/nowhere", nil, 404, "no-store", ""},
		{"DELETE", "/admin/cache", []string{"Authorization", "Bearer tok"}, 200, "no-store", ""},
		{"DELETE", "/admin/cache", nil, 401, "no-store", ""},
	} {
		rec := do(tc.method, tc.path, tc.hdr...)
		h := rec.Header()
		if rec.Code != tc.status || h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Cache-Control") != tc.cache || h.Get("Allow") != tc.allow {
			t.Errorf("%s %s: expected %d, nosniff, Cache-Control %q, Allow %q; got %d, %q, %q, %q",
				tc.method, tc.path, tc.status, tc.cache, tc.allow, rec.Code, h.Get("X-Content-Type-Options"), h.Get("Cache-Control"), h.Get("Allow"))
		}
		if rec.Code >= 400 && !strings.Contains(rec.Body.String(), `"success":false`) {
			t.Errorf("%s %s: error outside the envelope: %s", tc.method, tc.path, rec.Body.String())
		}
	}
}
