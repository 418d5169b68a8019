package ranking_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ratewire/ratewire/ranking"
	"github.com/ratewire/ratewire/shared/testinfra/apitest"
)

// TestOpenAPI fetches /openapi.json from a running service, checks it is a
// valid OpenAPI document, then sends requests covering every route and
// every status a request can provoke (rate limit and Redis down included).
// Each request is validated against the document: those the document
// allows must pass and those it forbids must fail. Each response, status,
// headers and body, must match the document. Every operation of the
// document must be exercised.
func TestOpenAPI(t *testing.T) {
	s := sqliteMini(t, noon, ranking.Options{RateLimit: 3, RateWindow: time.Minute, DedupeWindow: 10 * time.Second})
	spec := apitest.Load(t, s.base)
	type testCase struct {
		method, path string
		body         string
		hdr          []string
		etag         bool // send If-None-Match with the path's current ETag
		status       int
		valid        bool // the document allows the request
	}
	run := func(tc testCase) {
		t.Helper()
		spec.Check(apitest.Case{Method: tc.method, Path: tc.path, Body: tc.body, Header: tc.hdr, ETag: tc.etag,
			Status: tc.status, Invalid: !tc.valid})
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

	spec.Exercised()
}
