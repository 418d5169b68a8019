package history_test

import (
	"net/http"
	"testing"

	"github.com/ratewire/ratewire/shared/testinfra/apitest"
)

// TestOpenAPI fetches /openapi.json from a running service, checks it is a
// valid OpenAPI document, then sends requests covering every route (and
// every documented status a request can provoke: 304, 400, 404, 422, and
// 503 with the database and then Redis gone) and validates each request
// and each response, headers and body, against it. It also checks that
// every operation of the document was exercised.
func TestOpenAPI(t *testing.T) {
	s := startStack(t)
	spec := apitest.Load(t, s.url)
	spec.CheckAll([]apitest.Case{
		{Method: "GET", Path: "/healthz", Status: 200},
		{Method: "GET", Path: "/readyz", Status: 200},
		{Method: "GET", Path: "/metrics", Status: 200},
		{Method: "GET", Path: "/openapi.json", Status: 200},

		{Method: "GET", Path: "/api/v1/history?target=usd&period=1w", Status: 200},
		{Method: "GET", Path: "/api/v1/history?target=USD&base=JPY&period=1d&interval=15m", Status: 200},
		{Method: "GET", Path: "/api/v1/history?target=EUR&from=2026-11-01&to=2026-11-20", Status: 200},
		{Method: "GET", Path: "/api/v1/history?target=JPY&base=EUR&from=2026-11-21T00:00:00%2B09:00", Status: 200},
		{Method: "GET", Path: "/api/v1/history?target=USD&period=3m", Status: 200},
		{Method: "GET", Path: "/api/v1/history?target=USD&period=1m", ETag: true, Status: 304},
		{Method: "GET", Path: "/api/v1/history?target=USD&period=2w", Status: 400, Invalid: true},
		{Method: "GET", Path: "/api/v1/history?target=USD&period=1w&interval=5m", Status: 400},
		{Method: "GET", Path: "/api/v1/history?target=USD&period=1w&interval=2h", Status: 400, Invalid: true},
		{Method: "GET", Path: "/api/v1/history?target=USD&period=1w&from=2026-11-01", Status: 400},
		{Method: "GET", Path: "/api/v1/history?target=USD&from=2026-11-20&to=2026-11-19", Status: 400},
		{Method: "GET", Path: "/api/v1/history?target=USD&from=yesterday", Status: 400, Invalid: true},
		{Method: "GET", Path: "/api/v1/history?target=US1", Status: 400, Invalid: true},
		{Method: "GET", Path: "/api/v1/history?target=USD&base=usd", Status: 400},
		{Method: "GET", Path: "/api/v1/history?period=1w", Status: 400, Invalid: true},
		{Method: "GET", Path: "/api/v1/history?target=CHF&period=1w", Status: 404},
		{Method: "GET", Path: "/api/v1/history?target=USD&from=2020-01-01&to=2020-01-02", Status: 404},

		{Method: "GET", Path: "/api/v1/history/stats?target=EUR&period=1d", Status: 200},
		{Method: "GET", Path: "/api/v1/history/stats?target=GBP&period=1w&interval=1d", Status: 200},
		{Method: "GET", Path: "/api/v1/history/stats?target=USD&base=EUR&period=1m&interval=1w", Status: 200},
		{Method: "GET", Path: "/api/v1/history/stats?target=USD&period=1w", ETag: true, Status: 304},
		{Method: "GET", Path: "/api/v1/history/stats?target=USD&period=5y", Status: 400, Invalid: true},
		{Method: "GET", Path: "/api/v1/history/stats?target=USDX", Status: 400, Invalid: true},
		{Method: "GET", Path: "/api/v1/history/stats?target=CHF", Status: 404},

		{Method: "GET", Path: "/api/v1/history/compare?targets=USD,JPY,EUR&period=1m", Status: 200},
		{Method: "GET", Path: "/api/v1/history/compare?targets=usd,eur&base=JPY&period=1d", Status: 200},
		{Method: "GET", Path: "/api/v1/history/compare?targets=USD,EUR&period=1w&interval=4h", Status: 200},
		{Method: "GET", Path: "/api/v1/history/compare?targets=EUR,USD&period=1m", ETag: true, Status: 304},
		{Method: "GET", Path: "/api/v1/history/compare?targets=USD&period=1m", Status: 400, Invalid: true},
		{Method: "GET", Path: "/api/v1/history/compare?targets=USD,USD&period=1m", Status: 400},
		{Method: "GET", Path: "/api/v1/history/compare?targets=USD,KRW", Status: 400},
		{Method: "GET", Path: "/api/v1/history/compare?targets=USD,XX&period=1m", Status: 400, Invalid: true},
		{Method: "GET", Path: "/api/v1/history/compare?targets=USD,EUR&period=10y", Status: 400, Invalid: true},
		{Method: "GET", Path: "/api/v1/history/compare?targets=USD,CHF&period=1m", Status: 404},

		{Method: "GET", Path: "/api/v1/history/analysis?target=USD&period=1m", Status: 200},
		{Method: "GET", Path: "/api/v1/history/analysis?target=USD&base=EUR&period=1w", Status: 200},
		{Method: "GET", Path: "/api/v1/history/analysis?target=GBP&period=1m", Status: 200},
		{Method: "GET", Path: "/api/v1/history/analysis?target=JPY&period=1m", ETag: true, Status: 304},
		{Method: "GET", Path: "/api/v1/history/analysis?target=USD&period=1y&interval=1h", Status: 400},
		{Method: "GET", Path: "/api/v1/history/analysis?target=1SD", Status: 400, Invalid: true},
		{Method: "GET", Path: "/api/v1/history/analysis?target=CHF", Status: 404},

		{Method: "GET", Path: "/api/v1/history/forecast/USD?days=7", Status: 200},
		{Method: "GET", Path: "/api/v1/history/forecast/eur?base=JPY&days=30", Status: 200},
		{Method: "GET", Path: "/api/v1/history/forecast/JPY", Status: 200},
		{Method: "GET", Path: "/api/v1/history/forecast/USD?days=3", ETag: true, Status: 304},
		{Method: "GET", Path: "/api/v1/history/forecast/USD?days=31", Status: 400, Invalid: true},
		{Method: "GET", Path: "/api/v1/history/forecast/USD?days=x", Status: 400, Invalid: true},
		{Method: "GET", Path: "/api/v1/history/forecast/U5D", Status: 400, Invalid: true},
		{Method: "GET", Path: "/api/v1/history/forecast/KRW", Status: 400},
		{Method: "GET", Path: "/api/v1/history/forecast/GBP?days=7", Status: 422},
		{Method: "GET", Path: "/api/v1/history/forecast/CHF", Status: 404},
	})

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
		spec.Check(apitest.Case{Method: "GET", Path: path, Status: http.StatusServiceUnavailable})
	}
	// Redis gone: not ready.
	s.redis.Mini.Close()
	spec.Check(apitest.Case{Method: "GET", Path: "/readyz", Status: http.StatusServiceUnavailable})

	spec.Exercised()
}
