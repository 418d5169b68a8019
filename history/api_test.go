package history_test

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/jmoiron/sqlx"
	"github.com/shopspring/decimal"

	"github.com/ratewire/ratewire/history"
	"github.com/ratewire/ratewire/ingestor"
	"github.com/ratewire/ratewire/shared/config"
	"github.com/ratewire/ratewire/shared/event"
	"github.com/ratewire/ratewire/shared/httpx"
	"github.com/ratewire/ratewire/shared/kafkabus"
	"github.com/ratewire/ratewire/shared/kst"
	"github.com/ratewire/ratewire/shared/testinfra"
)

// at is the service's clock in these tests: 12:00 KST on 2026-11-22.
var at = time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)

// wantStamp is the envelope timestamp of every response at the clock at.
const wantStamp = "2026-11-22T03:00:00.000Z"

// mid is the deterministic KRW rate of code i steps of 5 minutes before at.
func mid(code string, i int) float64 {
	x := float64(i)
	switch code {
	case "USD":
		return 1400 + 10*math.Sin(x/50) - x*0.002
	case "JPY":
		return 9 + 0.05*math.Sin(x/30)
	default: // EUR
		return 1500 + 8*math.Cos(x/40)
	}
}

type stack struct {
	url   string
	db    *sqlx.DB
	redis testinfra.Redis
	w     *kafkabus.Writer
}

// seed writes eight days of 5-minute observations of USD, JPY and EUR, 60
// days of daily rates for them, and 10 days for GBP (too few to forecast).
func seed(t *testing.T, db *sqlx.DB) {
	t.Helper()
	ctx := context.Background()
	if err := ingestor.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	tx := db.MustBeginTx(ctx, nil)
	obs := tx.Rebind(`INSERT INTO rate_observations (currency_code, source, deal_base_rate, recorded_at, run_id, created_at) VALUES (?, 'simulated', ?, ?, 'r', ?)`)
	day := tx.Rebind(`INSERT INTO daily_rates (currency_code, day, open, high, low, close, samples, first_at, last_at, source) VALUES (?, ?, ?, ?, ?, ?, 288, ?, ?, 'simulated')`)
	for _, code := range []string{"USD", "JPY", "EUR"} {
		for i := 0; i < 8*288; i++ {
			ts := at.Add(-time.Duration(i) * 5 * time.Minute)
			if _, err := tx.Exec(obs, code, decimal.NewFromFloat(mid(code, i)).Round(6).String(), ts, ts); err != nil {
				t.Fatal(err)
			}
		}
		for d := 0; d < 60; d++ {
			c := mid(code, d*288)
			o := mid(code, d*288+287)
			dd := at.In(kst.Zone).AddDate(0, 0, -d).Format(time.DateOnly)
			if _, err := tx.Exec(day, code, dd, f(o), f(math.Max(o, c)*1.001), f(math.Min(o, c)*0.999), f(c), at, at); err != nil {
				t.Fatal(err)
			}
		}
	}
	for d := 0; d < 10; d++ {
		dd := at.In(kst.Zone).AddDate(0, 0, -d).Format(time.DateOnly)
		if _, err := tx.Exec(day, "GBP", dd, "1800", "1810", "1790", "1805", at, at); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

func f(x float64) string { return decimal.NewFromFloat(x).Round(6).String() }

func startStack(t *testing.T) stack {
	t.Helper()
	brokers := testinfra.Kafka(t)
	r := testinfra.MiniRedis(t)
	dbURL := testinfra.SQLiteURL(t)
	db := testinfra.OpenDB(t, dbURL)
	seed(t, db)
	env := map[string]string{"RATEWIRE_DATABASE_URL": dbURL, "RATEWIRE_REDIS_URL": r.URL, "RATEWIRE_KAFKA_BROKERS": strings.Join(brokers, ",")}
	cfg, err := config.Load(func(k string) string { return env[k] }, ":0")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- history.Run(ctx, cfg, history.Options{Listener: ln, Now: func() time.Time { return at }, KeyPrefix: r.Prefix})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run returned %v, want nil", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})
	base := "http://" + ln.Addr().String()
	waitHealthy(t, base, done)
	w := kafkabus.NewWriter(kafkabus.WriterConfig{Brokers: brokers, ClientID: "test"})
	t.Cleanup(func() { w.Close() })
	return stack{url: base, db: db, redis: r, w: w}
}

func fetch(t *testing.T, url string, hdr ...string) (int, http.Header, httpx.Envelope) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var e httpx.Envelope
	if len(body) > 0 {
		if err := json.Unmarshal(body, &e); err != nil {
			t.Fatalf("GET %s: body is not the envelope: %s", url, body)
		}
	}
	return resp.StatusCode, resp.Header, e
}

func data[T any](t *testing.T, e httpx.Envelope) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(e.Data, &v); err != nil {
		t.Fatalf("data %s: %v", e.Data, err)
	}
	return v
}

type statsBody struct {
	Base, Target, Period, Interval string
	Current, Average, Min, Max     *float64
	Change                         *float64
	ChangePercent                  *float64 `json:"change_percent"`
	Volatility                     *float64
	DataPoints                     int `json:"data_points"`
	Trend                          struct{ Direction string }
	From, To                       time.Time
}

type historyBody struct {
	Base, Target, Period, Interval string
	Results                        []struct {
		Date                  time.Time
		Rate, Open, High, Low float64
		Change                float64
		ChangePercent         float64 `json:"change_percent"`
	}
	Statistics statsBody
}

func TestHistoryEndpoints(t *testing.T) {
	s := startStack(t)

	// A week of USD in KRW, hourly: 168 buckets of the seeded rates, and a
	// 169th, 12:00 KST: the clock reads on a run's stamp (as the default
	// cron does), and that run's observation is answered, not left out of
	// an answer the cache then keeps.
	status, hdr, e := fetch(t, s.url+"/api/v1/history?target=usd&period=1w")
	if status != 200 || !e.Success {
		t.Fatalf("history = %d %+v", status, e.Error)
	}
	// Responses are stamped by the service's clock, not the wall clock.
	if e.Timestamp != wantStamp {
		t.Errorf("history timestamp %q, want the service clock %q", e.Timestamp, wantStamp)
	}
	h := data[historyBody](t, e)
	if h.Base != "KRW" || h.Target != "USD" || h.Interval != "1h" || len(h.Results) != 169 {
		t.Fatalf("history %s/%s at %s with %d points, want USD/KRW at 1h with 169", h.Target, h.Base, h.Interval, len(h.Results))
	}
	// The hourly bucket 11:00-12:00 KST closes at 11:55 KST (i = 1); the
	// last, 12:00 KST, holds the observation at the clock (i = 0), and the
	// window's to is the second after it.
	if prev := h.Results[167]; math.Abs(prev.Rate-mid("USD", 1)) > 1e-5 || !prev.Date.Equal(at.Add(-time.Hour)) {
		t.Errorf("bucket %v close %v, want %v close %v", prev.Date, prev.Rate, at.Add(-time.Hour), mid("USD", 1))
	}
	if last := h.Results[168]; math.Abs(last.Rate-mid("USD", 0)) > 1e-5 || !last.Date.Equal(at) || last.Open != last.Rate {
		t.Errorf("last bucket %v open %v close %v, want %v opening and closing at %v", last.Date, last.Open, last.Rate, at, mid("USD", 0))
	}
	if h.Statistics.DataPoints != 169 || h.Statistics.Volatility == nil || *h.Statistics.Volatility <= 0 {
		t.Errorf("statistics %+v", h.Statistics)
	}
	var window struct{ From, To time.Time }
	if err := json.Unmarshal(e.Data, &window); err != nil || !window.To.Equal(at.Add(time.Second)) || !window.From.Equal(at.AddDate(0, 0, -7)) {
		t.Errorf("window %s..%s (%v), want %s..%s", window.From, window.To, err, at.AddDate(0, 0, -7), at.Add(time.Second))
	}
	// The second answer comes from the cache, with the ETag stored beside
	// it: it must still be the hash of the data sent.
	if status, hdr2, e2 := fetch(t, s.url+"/api/v1/history?target=USD&period=1w"); status != 200 ||
		hdr.Get("ETag") != httpx.ETagOf(e.Data) || hdr2.Get("ETag") != httpx.ETagOf(e2.Data) || string(e2.Data) != string(e.Data) {
		t.Errorf("ETags %s (miss) and %s (hit), want the hash of identical data", hdr.Get("ETag"), hdr2.Get("ETag"))
	}
	if status, _, _ := fetch(t, s.url+"/api/v1/history?target=USD&period=1w", "If-None-Match", hdr.Get("ETag")); status != http.StatusNotModified {
		t.Errorf("conditional GET = %d, want 304", status)
	}

	// The same week with JPY as the base: cross rates on aligned timestamps.
	_, _, e = fetch(t, s.url+"/api/v1/history?target=USD&base=JPY&period=1w")
	hj := data[historyBody](t, e)
	wantCross := mid("USD", 0) / mid("JPY", 0)
	if len(hj.Results) != 169 || math.Abs(hj.Results[168].Rate-wantCross) > 1e-4 {
		t.Errorf("USD in JPY: %d buckets, last close %v, want 169 closing at %v", len(hj.Results), hj.Results[len(hj.Results)-1].Rate, wantCross)
	}

	// Stats of a day, one shape always: 288 buckets and the run at the
	// clock's.
	_, _, e = fetch(t, s.url+"/api/v1/history/stats?target=EUR&period=1d")
	st := data[statsBody](t, e)
	if st.DataPoints != 289 || st.Interval != "5m" || st.Current == nil || math.Abs(*st.Current-mid("EUR", 0)) > 1e-5 || st.Trend.Direction == "" {
		t.Errorf("stats = %+v", st)
	}
	var raw map[string]any
	_ = json.Unmarshal(e.Data, &raw)
	for _, k := range []string{"current", "average", "min", "max", "change", "change_percent", "volatility", "trend", "data_points", "from", "to"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("stats has no %q: %s", k, e.Data)
		}
	}

	// Compare three currencies over a month of daily rates.
	status, _, e = fetch(t, s.url+"/api/v1/history/compare?targets=USD,JPY,EUR&period=1m")
	type cmp struct {
		Interval   string
		Currencies []struct {
			Code           string `json:"currency_code"`
			ChangeRank     int    `json:"change_rank"`
			VolatilityRank int    `json:"volatility_rank"`
		}
		Correlation struct {
			Codes  []string
			Matrix [][]*float64
		}
		Best struct {
			Code string `json:"currency_code"`
		} `json:"best_performer"`
		Worst struct {
			Code string `json:"currency_code"`
		} `json:"worst_performer"`
	}
	c := data[cmp](t, e)
	if status != 200 || c.Interval != "1d" || len(c.Currencies) != 3 || len(c.Correlation.Matrix) != 3 || c.Best.Code == "" || c.Best.Code == c.Worst.Code {
		t.Fatalf("compare = %d %s", status, e.Data)
	}
	if m := c.Correlation.Matrix; m[0][0] == nil || *m[0][0] != 1 || m[0][1] == nil || *m[0][1] != *m[1][0] {
		t.Errorf("correlation matrix %s, want 1 on the diagonal and symmetric", e.Data)
	}

	// Analysis of a month, in KRW and in EUR.
	for _, base := range []string{"KRW", "EUR"} {
		status, _, e = fetch(t, s.url+"/api/v1/history/analysis?target=USD&period=1m&base="+base)
		a := data[struct {
			SMA20     *float64 `json:"sma_20"`
			SMA50     *float64 `json:"sma_50"`
			RSI14     *float64 `json:"rsi_14"`
			Bollinger struct{ Upper, Lower *float64 }
			Support   *float64
			Series    []any
		}](t, e)
		if status != 200 || a.SMA20 == nil || a.SMA50 == nil || a.RSI14 == nil || *a.RSI14 < 0 || *a.RSI14 > 100 ||
			a.Bollinger.Upper == nil || *a.Bollinger.Upper <= *a.Bollinger.Lower || a.Support == nil || len(a.Series) == 0 {
			t.Errorf("analysis in %s = %d %s", base, status, e.Data)
		}
	}

	// Forecast a week of USD.
	status, _, e = fetch(t, s.url+"/api/v1/history/forecast/USD?days=7")
	fc := data[struct {
		Forecast []struct {
			Date    string
			Rate    float64
			Lower95 float64 `json:"lower_95"`
			Upper95 float64 `json:"upper_95"`
		}
		Backtest struct {
			MAPE *float64 `json:"mape_percent"`
		}
	}](t, e)
	if status != 200 || len(fc.Forecast) != 7 || fc.Forecast[0].Date != "2026-11-23" || fc.Backtest.MAPE == nil ||
		!(fc.Forecast[6].Lower95 < fc.Forecast[6].Rate && fc.Forecast[6].Rate < fc.Forecast[6].Upper95) {
		t.Errorf("forecast = %d %s", status, e.Data)
	}

	for _, tc := range []struct {
		path   string
		status int
		code   string
	}{
		{"/api/v1/history?target=USD&period=2w", 400, "INVALID_PERIOD"},
		{"/api/v1/history?target=USD&period=1w&interval=5m", 400, "INVALID_PARAMETER"}, // 2016 points
		{"/api/v1/history?target=USD&from=2026-11-20&to=2026-11-19", 400, "INVALID_PARAMETER"},
		{"/api/v1/history?target=US1", 400, "INVALID_CURRENCY_CODE"},
		{"/api/v1/history?target=USD&base=KRW1", 400, "INVALID_CURRENCY_CODE"},
		{"/api/v1/history?period=1w", 400, "INVALID_CURRENCY_CODE"},
		{"/api/v1/history?target=CHF&period=1w", 404, "NOT_FOUND"},
		{"/api/v1/history?target=USD&from=2020-01-01&to=2020-01-02", 404, "NOT_FOUND"}, // empty range of data
		{"/api/v1/history/stats?target=USD&period=5y", 400, "INVALID_PERIOD"},
		{"/api/v1/history/compare?targets=USD&period=1m", 400, "INVALID_PARAMETER"},
		{"/api/v1/history/compare?targets=USD,XX&period=1m", 400, "INVALID_CURRENCY_CODE"},
		{"/api/v1/history/compare?targets=USD,CHF&period=1m", 404, "NOT_FOUND"},
		{"/api/v1/history/analysis?target=USD&period=1y&interval=1h", 400, "INVALID_PARAMETER"},
		{"/api/v1/history/forecast/USD?days=31", 400, "INVALID_PARAMETER"},
		{"/api/v1/history/forecast/GBP?days=7", 422, "INSUFFICIENT_HISTORY"},
		{"/api/v1/history/forecast/CHF", 404, "NOT_FOUND"},
	} {
		status, _, body := fetch(t, s.url+tc.path)
		if status != tc.status || body.Success || body.Error == nil || body.Error.Code != tc.code || body.Error.Message == "" ||
			body.Timestamp != wantStamp {
			t.Errorf("GET %s = %d %+v at %s, want %d %s at %s", tc.path, status, body.Error, body.Timestamp, tc.status, tc.code, wantStamp)
		}
	}
}

// TestUpdateDropsExactlyTheEntriesOfThatCurrency fills history, stats and
// analysis entries for several pairs, publishes exchange_rate_updated for
// USD over embedded Kafka, and checks that every entry involving USD (as
// base or target) goes and every other stays.
func TestUpdateDropsExactlyTheEntriesOfThatCurrency(t *testing.T) {
	s := startStack(t)
	paths := []string{
		"/api/v1/history?target=USD&period=1w", "/api/v1/history/stats?target=USD&period=1m",
		"/api/v1/history/analysis?target=USD&period=1m", "/api/v1/history?target=EUR&base=USD&period=1d",
		"/api/v1/history/stats?target=USD&base=JPY&period=1w", "/api/v1/history/compare?targets=EUR,USD&period=1m",
		"/api/v1/history/forecast/USD?days=5",
		"/api/v1/history?target=JPY&period=1w", "/api/v1/history/stats?target=EUR&period=1m",
		"/api/v1/history/analysis?target=JPY&base=EUR&period=1m", "/api/v1/history/forecast/EUR?days=5",
	}
	for _, p := range paths {
		if status, _, e := fetch(t, s.url+p); status != 200 {
			t.Fatalf("GET %s = %d %+v", p, status, e.Error)
		}
	}
	entries := cacheEntries(s.redis.Mini)
	var withUSD, without []string
	for _, k := range entries {
		if strings.Contains(k, "USD") {
			withUSD = append(withUSD, k)
		} else {
			without = append(without, k)
		}
	}
	if len(withUSD) != 7 || len(without) != 4 {
		t.Fatalf("cached entries %v, want 7 involving USD and 4 not", entries)
	}

	ev := &event.ExchangeRateUpdated{Rate: event.Rate{CurrencyCode: "USD", CurrencyName: "미국 달러", DealBaseRate: decimal.RequireFromString("1410"),
		Source: "simulated", RecordedAt: at, UpdatedAt: at, Version: 2}}
	event.Stamp(ev, "test-run")
	m, err := event.Encode(ev, "test")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.w.Publish(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(cacheEntries(s.redis.Mini)) != len(without) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	after := cacheEntries(s.redis.Mini)
	if strings.Join(after, " ") != strings.Join(without, " ") {
		t.Fatalf("entries after the USD update = %v, want exactly %v", after, without)
	}

	// Answers still come, and refill the cache.
	if status, _, _ := fetch(t, s.url+paths[0]); status != 200 || len(cacheEntries(s.redis.Mini)) != len(without)+1 {
		t.Errorf("refill after invalidation: status %d, entries %v", status, cacheEntries(s.redis.Mini))
	}

	// Redis down: answers from the database.
	s.redis.Mini.Close()
	for _, p := range paths {
		if status, _, e := fetch(t, s.url+p); status != 200 || !e.Success {
			t.Errorf("GET %s with Redis down = %d %+v, want 200 from the database", p, status, e.Error)
		}
	}
}

// cacheEntries lists the answer entries (not the generation and index
// bookkeeping) in miniredis, sorted.
func cacheEntries(m *miniredis.Miniredis) []string {
	var out []string
	for _, k := range m.Keys() {
		// Generations, key indexes and the consumer's processed event ids
		// are bookkeeping, not cached answers.
		if !strings.HasPrefix(k, "history:gen:") && !strings.HasPrefix(k, "history:index:") && !strings.HasPrefix(k, "dedupe:") {
			out = append(out, k)
		}
	}
	return out
}
