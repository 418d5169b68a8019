package stack_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/shopspring/decimal"

	"github.com/ratewire/ratewire/devstack/internal/stack"
)

// Bodies in the providers' real shapes (DESIGN.md §5): Frankfurter's
// /v1/latest and time series in the ECB's base, ExchangeRate-API's
// open-access /v6/latest/USD with its 6 decimals and its pseudo-codes.
const (
	frankfurterLatest = `{"amount":1.0,"base":"EUR","date":"2026-11-20","rates":{"AUD":1.7843,"CAD":1.6182,"CHF":0.9268,` +
		`"CNY":8.2014,"GBP":0.8804,"HKD":8.9683,"IDR":19271.45,"JPY":181.57,"KRW":1695.87,"SGD":1.5046,"USD":1.1523}}`
	frankfurterSeries = `{"amount":1.0,"base":"EUR","start_date":"2026-11-18","end_date":"2026-11-20","rates":{` +
		`"2026-11-18":{"JPY":181.02,"KRW":1690.11,"USD":1.1498},"2026-11-19":{"JPY":181.3,"KRW":1693.4,"USD":1.1511},` +
		`"2026-11-20":{"JPY":181.57,"KRW":1695.87,"USD":1.1523}}}`
	erAPIOpen = `{"result":"success","provider":"https://www.exchangerate-api.com","documentation":"https://www.exchangerate-api.com/docs/free",` +
		`"terms_of_use":"https://www.exchangerate-api.com/terms_of_use","time_last_update_unix":1763596951,` +
		`"time_last_update_utc":"Thu, 20 Nov 2025 00:02:31 +0000","time_next_update_unix":1763684321,` +
		`"time_next_update_utc":"Fri, 21 Nov 2025 00:18:41 +0000","time_eol_unix":0,"base_code":"USD","rates":{"USD":1,` +
		`"AED":3.6725,"BHD":0.376,"EUR":0.863412,"FOK":6.440113,"GBP":0.761293,"GGP":0.761293,"JPY":156.876543,` +
		`"KRW":1466.123456,"KWD":0.306847,"OMR":0.384497,"XOF":566.361522}}`
)

// freshRate is the part of GET /api/v1/currencies/{code} these tests read.
type freshRate struct {
	DealBaseRate decimal.Decimal `json:"deal_base_rate"`
	Source       string          `json:"source"`
	AsOf         time.Time       `json:"as_of"`
	FetchedAt    *time.Time      `json:"fetched_at"`
	NextUpdateAt *time.Time      `json:"next_update_at"`
}

// providerServer answers each request path prefix with its body and
// remembers the request URIs.
type providerServer struct {
	mu   sync.Mutex
	seen []string
}

func (p *providerServer) start(t *testing.T, routes map[string]string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.seen = append(p.seen, r.URL.RequestURI())
		p.mu.Unlock()
		for prefix, body := range routes {
			if strings.HasPrefix(r.URL.Path, prefix) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(body))
				return
			}
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func (p *providerServer) requests() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.seen...)
}

// providerStack starts devstack at now with env, without a backfill unless
// days > 0 (then it waits for it).
func providerStack(t *testing.T, now time.Time, env map[string]string, days int) stack.Addrs {
	t.Helper()
	c := stack.Config{DataDir: t.TempDir(), Host: "127.0.0.1", Getenv: func(k string) string { return env[k] },
		Out: &syncBuffer{}, Log: &syncBuffer{}, Clock: clockwork.NewFakeClockAt(now), BackfillDays: days}
	addrs, backfilled := runStack(t, c)
	if days > 0 {
		waitBackfill(t, backfilled)
	}
	return addrs
}

// freshRateOf waits until code answers 200 and returns it.
func freshRateOf(t *testing.T, a stack.Addrs, code string) freshRate {
	t.Helper()
	var r freshRate
	waitFor(t, 20*time.Second, code+" served", func() bool {
		status, data := get(t, a.Currency+"/api/v1/currencies/"+code)
		return status == 200 && json.Unmarshal(data, &r) == nil
	})
	return r
}

// wantWithin fails unless got is within tolerance (relative) of want.
func wantWithin(t *testing.T, what string, got, want decimal.Decimal, tolerance string) {
	t.Helper()
	dev := got.Sub(want).Div(want).Abs()
	if dev.GreaterThan(decimal.RequireFromString(tolerance)) {
		t.Errorf("%s = %s, exact cross %s: off by %s, want within %s", what, got, want.StringFixed(8), dev.StringFixed(8), tolerance)
	}
}

// TestFrankfurterUSDIsTheExactEURCross: with Frankfurter configured and
// answering in its real shape, devstack asks in EUR (latest and the
// backfill series) and serves USD within 0.01 % of the exact cross
// KRW/EUR over USD/EUR, with its freshness: the ECB's date, the fetch
// time, and Monday 16:00 CET as the next update.
func TestFrankfurterUSDIsTheExactEURCross(t *testing.T) {
	var fake providerServer
	srv := fake.start(t, map[string]string{"/v1/latest": frankfurterLatest, "/v1/2026-": frankfurterSeries})
	now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC) // Monday, before the ECB's 16:00 CET
	a := providerStack(t, now, map[string]string{"RATEWIRE_PROVIDERS": "frankfurter", "RATEWIRE_FRANKFURTER_URL": srv.URL}, 5)
	// The backfill alone already serves USD; the start-up run asks for the
	// latest rates once the ingestor has migrated (SQLite's write lock is
	// the backfill's until then).
	waitFor(t, 30*time.Second, "the start-up run's request for the latest rates", func() bool {
		return slices.ContainsFunc(fake.requests(), func(uri string) bool { return strings.HasPrefix(uri, "/v1/latest") })
	})

	usd := freshRateOf(t, a, "USD")
	exact := decimal.RequireFromString("1695.87").DivRound(decimal.RequireFromString("1.1523"), 30)
	wantWithin(t, "USD", usd.DealBaseRate, exact, "0.0001")
	if usd.Source != "frankfurter" || !usd.AsOf.Equal(time.Date(2026, 11, 20, 15, 0, 0, 0, time.UTC)) {
		t.Errorf("USD from %q as of %s, want frankfurter as of the ECB's 2026-11-20", usd.Source, usd.AsOf)
	}
	if usd.FetchedAt == nil || !usd.FetchedAt.Equal(now) {
		t.Errorf("USD fetched at %v, want %s", usd.FetchedAt, now)
	}
	if want := time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC); usd.NextUpdateAt == nil || !usd.NextUpdateAt.Equal(want) {
		t.Errorf("USD next update %v, want Monday 16:00 CET %s", usd.NextUpdateAt, want)
	}
	eur := freshRateOf(t, a, "EUR")
	if !eur.DealBaseRate.Equal(decimal.RequireFromString("1695.87")) {
		t.Errorf("EUR = %s, want the published 1695.87 KRW per EUR", eur.DealBaseRate)
	}
	for _, uri := range fake.requests() {
		if !strings.HasSuffix(uri, "?base=EUR") {
			t.Errorf("asked Frankfurter for %s, want every request in base EUR", uri)
		}
	}
	if len(fake.requests()) < 2 {
		t.Errorf("requests %v, want the latest rates and the backfill series", fake.requests())
	}
}

// TestExchangeRateAPIKWDIsTheExactUSDCross: with ExchangeRate-API
// configured and answering in its real shape, devstack asks in USD and
// serves KWD within 0.01 % of the exact cross KRW/USD over KWD/USD, with
// the API's own next update time; its pseudo-codes are not served, the
// CFA franc (XOF, an active code) is.
func TestExchangeRateAPIKWDIsTheExactUSDCross(t *testing.T) {
	var fake providerServer
	srv := fake.start(t, map[string]string{"/v6/latest/USD": erAPIOpen})
	now := time.Date(2025, 11, 20, 3, 0, 0, 0, time.UTC)
	a := providerStack(t, now, map[string]string{"RATEWIRE_PROVIDERS": "exchangerate-api", "RATEWIRE_EXCHANGERATE_API_URL": srv.URL}, 0)

	kwd := freshRateOf(t, a, "KWD")
	exact := decimal.RequireFromString("1466.123456").DivRound(decimal.RequireFromString("0.306847"), 30)
	wantWithin(t, "KWD", kwd.DealBaseRate, exact, "0.0001")
	if kwd.Source != "exchangerate-api" || !kwd.AsOf.Equal(time.Unix(1763596951, 0)) {
		t.Errorf("KWD from %q as of %s, want exchangerate-api as of time_last_update_unix", kwd.Source, kwd.AsOf)
	}
	if kwd.NextUpdateAt == nil || !kwd.NextUpdateAt.Equal(time.Unix(1763684321, 0)) {
		t.Errorf("KWD next update %v, want time_next_update_unix 1763684321", kwd.NextUpdateAt)
	}
	usd := freshRateOf(t, a, "USD")
	if !usd.DealBaseRate.Equal(decimal.RequireFromString("1466.123456")) {
		t.Errorf("USD = %s, want the published 1466.123456", usd.DealBaseRate)
	}
	freshRateOf(t, a, "XOF")
	for _, code := range []string{"FOK", "GGP"} {
		if status, _ := get(t, a.Currency+"/api/v1/currencies/"+code); status == 200 {
			t.Errorf("%s, not an ISO 4217 currency, is served", code)
		}
	}
	for _, uri := range fake.requests() {
		if uri != "/v6/latest/USD" {
			t.Errorf("asked ExchangeRate-API for %s, want /v6/latest/USD", uri)
		}
	}
}

// TestCrossCheckThroughTheStack: with both configured, a quote of
// ExchangeRate-API more than 3 % from Frankfurter's is not served, and the
// public run history says which, against whom and by how much.
func TestCrossCheckThroughTheStack(t *testing.T) {
	// ExchangeRate-API's JPY 5 % off the ECB's; its USD agrees.
	er := strings.Replace(erAPIOpen, `"JPY":156.876543`, `"JPY":149.032716`, 1)
	er = strings.Replace(er, `"KRW":1466.123456`, `"KRW":1471.7`, 1)
	var fake providerServer
	erSrv := fake.start(t, map[string]string{"/v6/latest/USD": er})
	frSrv := fake.start(t, map[string]string{"/v1/latest": frankfurterLatest})
	now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	a := providerStack(t, now, map[string]string{"RATEWIRE_PROVIDERS": "exchangerate-api,frankfurter",
		"RATEWIRE_EXCHANGERATE_API_URL": erSrv.URL, "RATEWIRE_FRANKFURTER_URL": frSrv.URL}, 0)

	if usd := freshRateOf(t, a, "USD"); usd.Source != "exchangerate-api" {
		t.Errorf("USD from %s, want exchangerate-api (the first provider)", usd.Source)
	}
	if status, _ := get(t, a.Currency+"/api/v1/currencies/JPY"); status == 200 {
		t.Error("JPY, 5 % off the reference, is served")
	}
	var runs struct {
		Runs []struct {
			Provider   string `json:"provider"`
			CrossCheck *struct {
				Reference string `json:"reference"`
				Rejected  []struct {
					Code      string `json:"currency_code"`
					Deviation string `json:"deviation"`
				} `json:"rejected"`
			} `json:"cross_check"`
		} `json:"runs"`
	}
	waitFor(t, 20*time.Second, "a run with a cross-check", func() bool {
		_, data := get(t, a.Ingestor+"/api/v1/ingest/runs?limit=5")
		return json.Unmarshal(data, &runs) == nil && len(runs.Runs) > 0 && runs.Runs[0].CrossCheck != nil
	})
	cc := runs.Runs[0].CrossCheck
	if cc.Reference != "frankfurter" || len(cc.Rejected) != 1 || cc.Rejected[0].Code != "JPY" {
		t.Errorf("cross-check %+v, want JPY rejected against frankfurter", cc)
	}
}
