package history_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// TestOpenAPI fetches /openapi.json from a running service, checks it is a
// valid OpenAPI document, then sends requests covering every route (and
// every documented status a request can provoke: 304, 400, 404, 422, and
// 503 with the database and then Redis gone) and validates each request
// and each response, headers and body, against it. It also checks that
// every operation of the document was exercised.
func TestOpenAPI(t *testing.T) {
	s := startStack(t)
	ctx := context.Background()
	resp, err := http.Get(s.url + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("GET /openapi.json = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	doc, err := openapi3.NewLoader().LoadFromData(raw)
	if err != nil {
		t.Fatalf("load /openapi.json: %v", err)
	}
	if err := doc.Validate(ctx); err != nil {
		t.Fatalf("/openapi.json is not a valid OpenAPI document: %v", err)
	}
	doc.Servers = openapi3.Servers{{URL: s.url}}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}

	etagOf := func(path string) string {
		t.Helper()
		resp, err := http.Get(s.url + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("ETag") == "" {
			t.Fatalf("GET %s = %d with ETag %q", path, resp.StatusCode, resp.Header.Get("ETag"))
		}
		return resp.Header.Get("ETag")
	}
	type tc struct {
		path   string
		hdr    []string
		status int
	}
	cond := func(path string) tc { return tc{path, []string{"If-None-Match", etagOf(path)}, http.StatusNotModified} }
	cases := []tc{
		{"/healthz", nil, 200},
		{"/readyz", nil, 200},
		{"/metrics", nil, 200},
		{"/openapi.json", nil, 200},

		{"/api/v1/history?target=usd&period=1w", nil, 200},
		{"/api/v1/history?target=USD&base=JPY&period=1d&interval=15m", nil, 200},
		{"/api/v1/history?target=EUR&from=2026-11-01&to=2026-11-20", nil, 200},
		{"/api/v1/history?target=JPY&base=EUR&from=2026-11-21T00:00:00%2B09:00", nil, 200},
		{"/api/v1/history?target=USD&period=3m", nil, 200},
		cond("/api/v1/history?target=USD&period=1m"),
		{"/api/v1/history?target=USD&period=2w", nil, 400},
		{"/api/v1/history?target=USD&period=1w&interval=5m", nil, 400},
		{"/api/v1/history?target=USD&period=1w&interval=2h", nil, 400},
		{"/api/v1/history?target=USD&period=1w&from=2026-11-01", nil, 400},
		{"/api/v1/history?target=USD&from=2026-11-20&to=2026-11-19", nil, 400},
		{"/api/v1/history?target=USD&from=yesterday", nil, 400},
		{"/api/v1/history?target=US1", nil, 400},
		{"/api/v1/history?target=USD&base=usd", nil, 400},
		{"/api/v1/history?period=1w", nil, 400},
		{"/api/v1/history?target=CHF&period=1w", nil, 404},
		{"/api/v1/history?target=USD&from=2020-01-01&to=2020-01-02", nil, 404},

		{"/api/v1/history/stats?target=EUR&period=1d", nil, 200},
		{"/api/v1/history/stats?target=GBP&period=1w&interval=1d", nil, 200},
		{"/api/v1/history/stats?target=USD&base=EUR&period=1m&interval=1w", nil, 200},
		cond("/api/v1/history/stats?target=USD&period=1w"),
		{"/api/v1/history/stats?target=USD&period=5y", nil, 400},
		{"/api/v1/history/stats?target=USDX", nil, 400},
		{"/api/v1/history/stats?target=CHF", nil, 404},

		{"/api/v1/history/compare?targets=USD,JPY,EUR&period=1m", nil, 200},
		{"/api/v1/history/compare?targets=usd,eur&base=JPY&period=1d", nil, 200},
		{"/api/v1/history/compare?targets=USD,EUR&period=1w&interval=4h", nil, 200},
		cond("/api/v1/history/compare?targets=EUR,USD&period=1m"),
		{"/api/v1/history/compare?targets=USD&period=1m", nil, 400},
		{"/api/v1/history/compare?targets=USD,USD&period=1m", nil, 400},
		{"/api/v1/history/compare?targets=USD,KRW", nil, 400},
		{"/api/v1/history/compare?targets=USD,XX&period=1m", nil, 400},
		{"/api/v1/history/compare?targets=USD,EUR&period=10y", nil, 400},
		{"/api/v1/history/compare?targets=USD,CHF&period=1m", nil, 404},

		{"/api/v1/history/analysis?target=USD&period=1m", nil, 200},
		{"/api/v1/history/analysis?target=USD&base=EUR&period=1w", nil, 200},
		{"/api/v1/history/analysis?target=GBP&period=1m", nil, 200},
		cond("/api/v1/history/analysis?target=JPY&period=1m"),
		{"/api/v1/history/analysis?target=USD&period=1y&interval=1h", nil, 400},
		{"/api/v1/history/analysis?target=1SD", nil, 400},
		{"/api/v1/history/analysis?target=CHF", nil, 404},

		{"/api/v1/history/forecast/USD?days=7", nil, 200},
		{"/api/v1/history/forecast/eur?base=JPY&days=30", nil, 200},
		{"/api/v1/history/forecast/JPY", nil, 200},
		cond("/api/v1/history/forecast/USD?days=3"),
		{"/api/v1/history/forecast/USD?days=31", nil, 400},
		{"/api/v1/history/forecast/USD?days=x", nil, 400},
		{"/api/v1/history/forecast/U5D", nil, 400},
		{"/api/v1/history/forecast/KRW", nil, 400},
		{"/api/v1/history/forecast/GBP?days=7", nil, 422},
		{"/api/v1/history/forecast/CHF", nil, 404},
	}
	seen := map[string]bool{}
	check := func(c tc) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, s.url+c.path, nil)
		for i := 0; i+1 < len(c.hdr); i += 2 {
			req.Header.Set(c.hdr[i], c.hdr[i+1])
		}
		route, params, err := router.FindRoute(req)
		if err != nil {
			t.Errorf("GET %s: not in the document: %v", c.path, err)
			return
		}
		seen[req.Method+" "+route.Path] = true
		in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
		// Requests answered 400 are invalid on purpose; every other one must
		// match the document.
		if c.status != http.StatusBadRequest {
			if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
				t.Errorf("GET %s: request does not match the document: %v", c.path, err)
			}
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status {
			t.Errorf("GET %s = %d %s, want %d", c.path, resp.StatusCode, body, c.status)
			return
		}
		out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
			Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}}
		out.SetBodyBytes(body)
		if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
			t.Errorf("GET %s: %d response does not match the document: %v\nbody: %.2000s", c.path, resp.StatusCode, err, body)
		}
		if resp.StatusCode >= 400 && !bytes.Contains(body, []byte(`"success":false`)) {
			t.Errorf("GET %s: error without the envelope: %s", c.path, body)
		}
	}
	for _, c := range cases {
		check(c)
	}

	// The database gone: every data route answers 503 for what is not
	// cached, while /readyz (a ping) still passes.
	for _, table := range []string{"rate_observations", "daily_rates"} {
		if _, err := s.db.Exec("ALTER TABLE " + table + " RENAME TO " + table + "_gone"); err != nil {
			t.Fatal(err)
		}
	}
	for _, path := range []string{
		"/api/v1/history?target=EUR&base=JPY&period=1w",
		"/api/v1/history/stats?target=JPY&base=USD&period=1d",
		"/api/v1/history/compare?targets=JPY,EUR&base=USD&period=1w",
		"/api/v1/history/analysis?target=EUR&base=USD&period=1m",
		"/api/v1/history/forecast/JPY?base=USD&days=2",
	} {
		check(tc{path, nil, http.StatusServiceUnavailable})
	}
	// Redis gone: not ready.
	s.redis.Mini.Close()
	check(tc{"/readyz", nil, http.StatusServiceUnavailable})

	var missing []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			if !seen[method+" "+path] {
				missing = append(missing, method+" "+path)
			}
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("operations never exercised: %s", strings.Join(missing, ", "))
	}
}
