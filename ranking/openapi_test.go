package ranking_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/ratewire/ratewire/ranking"
)

// bearerOnly is the document's bearer scheme as a request validator sees
// it: an "Authorization: Bearer <token>" header must be present. Whether
// the token is right is the server's business (403).
func bearerOnly(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	scheme, token, ok := strings.Cut(in.RequestValidationInput.Request.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return errors.New("no Authorization: Bearer header")
	}
	return nil
}

// TestOpenAPI fetches /openapi.json from a running service, checks it is a
// valid OpenAPI document, then sends requests covering every route and
// every status a request can provoke (rate limit and Redis down included).
// Each request is validated against the document: those the document
// allows must pass and those it forbids must fail. Each response, status,
// headers and body, must match the document. Every operation of the
// document must be exercised.
func TestOpenAPI(t *testing.T) {
	s := sqliteMini(t, noon, ranking.Options{RateLimit: 3, RateWindow: time.Minute, DedupeWindow: 10 * time.Second})
	ctx := context.Background()
	resp, err := http.Get(s.base + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	doc, err := openapi3.NewLoader().LoadFromData(raw)
	if err != nil {
		t.Fatalf("load /openapi.json: %v", err)
	}
	if err := doc.Validate(ctx); err != nil {
		t.Fatalf("/openapi.json is not a valid OpenAPI document: %v", err)
	}
	doc.Servers = openapi3.Servers{{URL: s.base}}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}

	type testCase struct {
		method, path string
		body         string
		hdr          []string
		etag         bool // send If-None-Match with the path's current ETag
		status       int
		valid        bool // the document allows the request
	}
	etagOf := func(path string) string {
		resp, err := http.Get(s.base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.Header.Get("ETag") == "" {
			t.Fatalf("GET %s: no ETag", path)
		}
		return resp.Header.Get("ETag")
	}
	newRequest := func(tc testCase) *http.Request {
		var body io.Reader
		if tc.body != "" {
			body = strings.NewReader(tc.body)
		}
		req, err := http.NewRequest(tc.method, s.base+tc.path, body)
		if err != nil {
			t.Fatal(err)
		}
		if tc.body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		for i := 0; i+1 < len(tc.hdr); i += 2 {
			req.Header.Set(tc.hdr[i], tc.hdr[i+1])
		}
		return req
	}
	seen := map[string]bool{}
	run := func(tc testCase) {
		t.Helper()
		name := tc.method + " " + tc.path
		if tc.etag {
			tc.hdr = append(tc.hdr, "If-None-Match", etagOf(tc.path))
		}
		probe := newRequest(tc)
		route, params, err := router.FindRoute(probe)
		if err != nil {
			t.Errorf("%s: not in the document: %v", name, err)
			return
		}
		seen[tc.method+" "+route.Path] = true
		in := &openapi3filter.RequestValidationInput{Request: probe, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: bearerOnly, MultiError: true}}
		switch err := openapi3filter.ValidateRequest(ctx, in); {
		case tc.valid && err != nil:
			t.Errorf("%s: request does not match the document: %v", name, err)
		case !tc.valid && err == nil:
			t.Errorf("%s: the document allows a request the service must refuse", name)
		}
		resp, err := http.DefaultClient.Do(newRequest(tc))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s = %d %s, want %d", name, resp.StatusCode, body, tc.status)
			return
		}
		// ValidateResponse skips 304; the status must be documented all the same.
		if route.Operation.Responses.Status(resp.StatusCode) == nil {
			t.Errorf("%s: status %d is not documented", name, resp.StatusCode)
		}
		out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
			Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}}
		out.SetBodyBytes(body)
		if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
			t.Errorf("%s: %d response does not match the document: %v\nbody: %s", name, resp.StatusCode, err, body)
		}
		if resp.StatusCode >= 400 && !bytes.Contains(body, []byte(`"success":false`)) {
			t.Errorf("%s: error without the envelope: %s", name, body)
		}
	}

	const click = "/api/v1/rankings/click"
	bearer := "Bearer " + adminToken
	big := `{"country":"JP","pad":"` + strings.Repeat("x", 5000) + `"}`
	huge := `{"country":"JP","pad":"` + strings.Repeat("x", 1<<20) + `"}`
	for _, tc := range []testCase{
		{"GET", "/healthz", "", nil, false, 200, true},
		{"GET", "/readyz", "", nil, false, 200, true},
		{"GET", "/metrics", "", nil, false, 200, true},
		{"GET", "/openapi.json", "", nil, false, 200, true},

		{"POST", click + "?country=JP", "", []string{"X-Client-Id", "alice"}, false, 201, true},
		{"POST", click + "?country=" + url.QueryEscape("일본"), "", []string{"X-Client-Id", "alice"}, false, 200, true}, // a repeat
		{"POST", click, `{"country":"United States"}`, []string{"X-Client-Id", "bob"}, false, 201, true},
		{"POST", click + "?country=fra", "", nil, false, 201, true}, // the remote address is the client
		{"POST", click + "?country=kor", "", []string{"X-Client-Id", "alice"}, false, 201, true},
		{"POST", click + "?country=DE", "", []string{"X-Client-Id", "alice"}, false, 429, true},
		{"POST", click + "?country=Narnia", "", []string{"X-Client-Id", "carol"}, false, 400, true},
		{"POST", click, "", []string{"X-Client-Id", "carol"}, false, 400, true},
		{"POST", click, `{"country":""}`, []string{"X-Client-Id", "carol"}, false, 400, false},
		{"POST", click, `["JP"]`, []string{"X-Client-Id", "carol"}, false, 400, false},
		{"POST", click, big, []string{"X-Client-Id", "carol"}, false, 400, false},
		// Expect: 100-continue lets the server refuse the body unread.
		{"POST", click, huge, []string{"X-Client-Id", "carol", "Expect", "100-continue"}, false, 413, false},
		{"POST", click + "?country=JP", "", []string{"X-Client-Id", "has spaces"}, false, 400, false},

		{"GET", "/api/v1/rankings", "", nil, false, 200, true},
		{"GET", "/api/v1/rankings?period=weekly&date=2026-11-18&limit=5", "", nil, false, 200, true},
		{"GET", "/api/v1/rankings?period=monthly&limit=50", "", nil, false, 200, true},
		{"GET", "/api/v1/rankings?period=all", "", nil, false, 200, true},
		{"GET", "/api/v1/rankings?period=daily", "", nil, true, 304, true},
		{"GET", "/api/v1/rankings?period=yearly", "", nil, false, 400, false},
		{"GET", "/api/v1/rankings?limit=0", "", nil, false, 400, false},
		{"GET", "/api/v1/rankings?limit=ten", "", nil, false, 400, false},
		{"GET", "/api/v1/rankings?date=2026-13-01", "", nil, false, 400, true}, // well-formed, no such day
		{"GET", "/api/v1/rankings?date=18.11.2026", "", nil, false, 400, false},

		{"GET", "/api/v1/rankings/stats/jpn?days=4", "", nil, false, 200, true},
		{"GET", "/api/v1/rankings/stats/" + url.PathEscape("미국"), "", nil, false, 200, true},
		{"GET", "/api/v1/rankings/stats/KR?days=90", "", nil, true, 304, true},
		{"GET", "/api/v1/rankings/stats/Narnia", "", nil, false, 400, true},
		{"GET", "/api/v1/rankings/stats/JP?days=91", "", nil, false, 400, false},
		{"GET", "/api/v1/rankings/stats/JP?days=x", "", nil, false, 400, false},

		{"POST", "/api/v1/rankings/reset?date=2026-11-17", "", []string{"Authorization", bearer}, false, 200, true},
		{"POST", "/api/v1/rankings/reset", "", []string{"Authorization", bearer}, false, 200, true},
		{"POST", "/api/v1/rankings/reset?date=2026-02-30", "", []string{"Authorization", bearer}, false, 400, true},
		{"POST", "/api/v1/rankings/reset?date=tomorrow", "", []string{"Authorization", bearer}, false, 400, false},
		{"POST", "/api/v1/rankings/reset", "", nil, false, 401, false},
		{"POST", "/api/v1/rankings/reset", "", []string{"Authorization", "Basic " + adminToken}, false, 401, false},
		{"POST", "/api/v1/rankings/reset", "", []string{"Authorization", "Bearer wrong"}, false, 403, true},
	} {
		run(tc)
	}

	// Redis down: not ready (503), and clicks still count, from SQL.
	addr := s.redis.Mini.Addr()
	s.redis.Mini.Close()
	run(testCase{"GET", "/readyz", "", nil, false, 503, true})
	run(testCase{"POST", click + "?country=JP", "", []string{"X-Client-Id", "dave"}, false, 201, true})
	if err := s.redis.Mini.StartAddr(addr); err != nil {
		t.Fatalf("restart miniredis: %v", err)
	}

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
