package ranking_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ratewire/ratewire/ranking"
	"github.com/ratewire/ratewire/shared/config"
	"github.com/ratewire/ratewire/shared/httpx"
	"github.com/ratewire/ratewire/shared/kst"
	"github.com/ratewire/ratewire/shared/testinfra"
)

const adminToken = "test-admin-token"

// clock is a settable clock for Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// service is one running ranking service under test.
type service struct {
	base  string
	clock *clock
	redis testinfra.Redis
	stop  func()
}

// startService runs the service on the given database and Redis with a
// fake clock set to start and limits suitable for tests. Every test
// client sends from 127.0.0.1, most with a fresh X-Client-Id per click,
// so the per-address limits are lifted unless opts sets them; the tests
// of those limits use startServiceEnv.
func startService(t testing.TB, dbURL string, r testinfra.Redis, start time.Time, opts ranking.Options) *service {
	t.Helper()
	if opts.AddressRateLimit == 0 {
		opts.AddressRateLimit = 1 << 30
	}
	if opts.AddressClientIDs == 0 {
		opts.AddressClientIDs = 1 << 30
	}
	return startServiceEnv(t, dbURL, r, start, opts, nil)
}

// startServiceEnv is startService with opts as given and env added to
// the configuration's environment.
func startServiceEnv(t testing.TB, dbURL string, r testinfra.Redis, start time.Time, opts ranking.Options, extra map[string]string) *service {
	t.Helper()
	env := map[string]string{
		"RATEWIRE_DATABASE_URL": dbURL,
		"RATEWIRE_REDIS_URL":    r.URL,
		"RATEWIRE_ADMIN_TOKEN":  adminToken,
	}
	for k, v := range extra {
		env[k] = v
	}
	cfg, err := config.Load(func(k string) string { return env[k] }, config.DefaultRankingAddr)
	if err != nil {
		t.Fatalf("load config: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	clk := &clock{t: start}
	opts.Listener, opts.Now, opts.KeyPrefix = ln, clk.Now, r.Prefix
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ranking.Run(ctx, cfg, opts) }()
	s := &service{base: "http://" + ln.Addr().String(), clock: clk, redis: r}
	var once sync.Once
	s.stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run = %v, want nil after cancel", err)
				}
			case <-time.After(15 * time.Second):
				t.Errorf("Run did not return within 15s of cancel")
			}
		})
	}
	t.Cleanup(s.stop)
	waitHealthy(t, s.base, done)
	return s
}

// call sends a request and decodes the envelope.
func call(t testing.TB, method, url string, body []byte, header map[string]string) (*http.Response, httpx.Envelope) {
	t.Helper()
	var rd *bytes.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	var env httpx.Envelope
	if resp.StatusCode != http.StatusNotModified {
		if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
			t.Fatalf("%s %s: decode envelope: %v", method, url, err)
		}
	}
	return resp, env
}

type clickData struct {
	CountryCode   string `json:"country_code"`
	CountryName   string `json:"country_name"`
	CountryNameEn string `json:"country_name_en"`
	CurrencyCode  string `json:"currency_code"`
	DailyClicks   int64  `json:"daily_clicks"`
	TotalClicks   int64  `json:"total_clicks"`
	CurrentRank   int    `json:"current_rank"`
	Date          string `json:"date"`
	Counted       bool   `json:"counted"`
}

type rankingData struct {
	Period         string  `json:"period"`
	Date           string  `json:"date"`
	StartDate      *string `json:"start_date"`
	EndDate        *string `json:"end_date"`
	TotalClicks    int64   `json:"total_clicks"`
	TotalCountries int     `json:"total_countries"`
	Rankings       []struct {
		Rank          int    `json:"rank"`
		CountryCode   string `json:"country_code"`
		CountryName   string `json:"country_name"`
		CountryNameEn string `json:"country_name_en"`
		CurrencyCode  string `json:"currency_code"`
		Clicks        int64  `json:"clicks"`
	} `json:"rankings"`
}

// click posts one click as client and expects status.
func (s *service) click(t testing.TB, country, client string, want int) clickData {
	t.Helper()
	resp, env := call(t, http.MethodPost, s.base+"/api/v1/rankings/click?country="+urlQuery(country), nil,
		map[string]string{"X-Client-Id": client})
	if resp.StatusCode != want {
		t.Fatalf("click %q by %s: status %d, want %d (%s)", country, client, resp.StatusCode, want, errText(env))
	}
	var d clickData
	if env.Success {
		if err := json.Unmarshal(env.Data, &d); err != nil {
			t.Fatalf("decode click: %v", err)
		}
	}
	return d
}

// clientSeq numbers the clients of clicks: unique in the test binary, so
// services sharing a Redis never see one client twice.
var clientSeq atomic.Int64

// clicks sends n counted clicks on country, each by a different client.
func (s *service) clicks(t testing.TB, country string, n int) {
	t.Helper()
	for range n {
		s.click(t, country, fmt.Sprintf("c-%s-%d", country, clientSeq.Add(1)), http.StatusCreated)
	}
}

func (s *service) ranking(t testing.TB, query string) rankingData {
	t.Helper()
	resp, env := call(t, http.MethodGet, s.base+"/api/v1/rankings?"+query, nil, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET rankings?%s: status %d (%s)", query, resp.StatusCode, errText(env))
	}
	var d rankingData
	if err := json.Unmarshal(env.Data, &d); err != nil {
		t.Fatalf("decode rankings: %v", err)
	}
	return d
}

// order renders a ranking as "rank:CODE=clicks ..." for comparisons.
func (d rankingData) order() string {
	var parts []string
	for _, e := range d.Rankings {
		parts = append(parts, strconv.Itoa(e.Rank)+":"+e.CountryCode+"="+strconv.FormatInt(e.Clicks, 10))
	}
	return strings.Join(parts, " ")
}

func urlQuery(s string) string {
	return strings.NewReplacer("%", "%25", "&", "%26", " ", "%20", "+", "%2B", "#", "%23", "?", "%3F").Replace(s)
}

func errText(env httpx.Envelope) string {
	if env.Error == nil {
		return "no error body"
	}
	return env.Error.Code + ": " + env.Error.Message
}

func sqliteMini(t *testing.T, start time.Time, opts ranking.Options) *service {
	return startService(t, testinfra.SQLiteURL(t), testinfra.MiniRedis(t), start, opts)
}

// noon is a KST midday, far from any day boundary.
var noon = time.Date(2026, 11, 18, 12, 0, 0, 0, kst.Zone) // a Wednesday

func TestClickAcceptsEveryNameOfJapan(t *testing.T) {
	s := sqliteMini(t, noon, ranking.Options{})
	for i, name := range []string{"일본", "JP", "Japan", "jpn", "JAPAN", " japan ", "jp"} {
		d := s.click(t, name, "client-"+strconv.Itoa(i), http.StatusCreated)
		if d.CountryCode != "JP" || d.CountryName != "일본" || d.CountryNameEn != "Japan" || d.CurrencyCode != "JPY" {
			t.Errorf("click %q: got %+v, want JP 일본 Japan JPY", name, d)
		}
		if d.DailyClicks != int64(i+1) || d.TotalClicks != int64(i+1) || d.CurrentRank != 1 || !d.Counted {
			t.Errorf("click %q: daily %d total %d rank %d counted %v, want %d %d 1 true",
				name, d.DailyClicks, d.TotalClicks, d.CurrentRank, d.Counted, i+1, i+1)
		}
		if d.Date != "2026-11-18" {
			t.Errorf("click %q: date %s, want 2026-11-18", name, d.Date)
		}
	}
	// A JSON body works the same as the query parameter.
	resp, env := call(t, http.MethodPost, s.base+"/api/v1/rankings/click", []byte(`{"country":"일본"}`),
		map[string]string{"X-Client-Id": "json-client"})
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("JSON click: status %d (%s), want 201", resp.StatusCode, errText(env))
	}
	r := s.ranking(t, "period=daily")
	if got := r.order(); got != "1:JP=8" {
		t.Errorf("daily ranking: %s, want 1:JP=8", got)
	}
}

func TestClickErrors(t *testing.T) {
	s := sqliteMini(t, noon, ranking.Options{})
	tests := []struct {
		name   string
		url    string
		body   string
		header map[string]string
		status int
		code   string
	}{
		{"unknown country", "?country=Atlantis", "", nil, 400, "INVALID_COUNTRY"},
		{"unknown code", "?country=XX", "", nil, 400, "INVALID_COUNTRY"},
		{"private-use code", "?country=XK", "", nil, 400, "INVALID_COUNTRY"},
		{"macro region", "?country=EU", "", nil, 400, "INVALID_COUNTRY"},
		{"missing", "", "", nil, 400, "INVALID_COUNTRY"},
		{"empty JSON country", "", `{"country":""}`, nil, 400, "INVALID_COUNTRY"},
		{"unknown JSON country", "", `{"country":"Narnia"}`, nil, 400, "INVALID_COUNTRY"},
		{"malformed JSON", "", `{"country":`, nil, 400, "INVALID_PARAMETER"},
		{"JSON not an object", "", `["JP"]`, nil, 400, "INVALID_PARAMETER"},
		{"bad client id", "?country=JP", "", map[string]string{"X-Client-Id": "has spaces in it"}, 400, "INVALID_PARAMETER"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body []byte
			if tt.body != "" {
				body = []byte(tt.body)
			}
			resp, env := call(t, http.MethodPost, s.base+"/api/v1/rankings/click"+tt.url, body, tt.header)
			if resp.StatusCode != tt.status || env.Success || env.Error == nil || env.Error.Code != tt.code {
				t.Errorf("status %d code %s, want %d %s", resp.StatusCode, errText(env), tt.status, tt.code)
			}
		})
	}
	// None of them created anything.
	if r := s.ranking(t, "period=all&limit=50"); len(r.Rankings) != 0 || r.TotalClicks != 0 {
		t.Errorf("after rejected clicks: all-time ranking %s (total %d), want empty", r.order(), r.TotalClicks)
	}
}

func TestRankingsQueryErrors(t *testing.T) {
	s := sqliteMini(t, noon, ranking.Options{})
	tests := []struct {
		query string
		code  string
	}{
		{"period=yearly", "INVALID_PERIOD"},
		{"period=DAILY", "INVALID_PERIOD"},
		{"limit=0", "INVALID_PARAMETER"},
		{"limit=51", "INVALID_PARAMETER"},
		{"limit=ten", "INVALID_PARAMETER"},
		{"date=2026-13-01", "INVALID_PARAMETER"},
		{"date=18.11.2026", "INVALID_PARAMETER"},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			resp, env := call(t, http.MethodGet, s.base+"/api/v1/rankings?"+tt.query, nil, nil)
			if resp.StatusCode != 400 || env.Error == nil || env.Error.Code != tt.code {
				t.Errorf("status %d %s, want 400 %s", resp.StatusCode, errText(env), tt.code)
			}
		})
	}
	for _, q := range []string{"days=0", "days=91", "days=x"} {
		resp, env := call(t, http.MethodGet, s.base+"/api/v1/rankings/stats/JP?"+q, nil, nil)
		if resp.StatusCode != 400 || env.Error == nil || env.Error.Code != "INVALID_PARAMETER" {
			t.Errorf("stats?%s: status %d %s, want 400 INVALID_PARAMETER", q, resp.StatusCode, errText(env))
		}
	}
	resp, env := call(t, http.MethodGet, s.base+"/api/v1/rankings/stats/Atlantis", nil, nil)
	if resp.StatusCode != 400 || env.Error == nil || env.Error.Code != "INVALID_COUNTRY" {
		t.Errorf("stats of an unknown country: status %d %s, want 400 INVALID_COUNTRY", resp.StatusCode, errText(env))
	}
}

func TestTiesShareRank(t *testing.T) {
	s := sqliteMini(t, noon, ranking.Options{})
	s.clicks(t, "US", 3)
	s.clicks(t, "JP", 2)
	s.clicks(t, "FR", 2)
	s.clicks(t, "DE", 1)
	s.clicks(t, "CN", 2)
	r := s.ranking(t, "period=daily")
	if got, want := r.order(), "1:US=3 2:CN=2 2:FR=2 2:JP=2 5:DE=1"; got != want {
		t.Errorf("daily ranking: %s, want %s", got, want)
	}
	if r.TotalClicks != 10 || r.TotalCountries != 5 {
		t.Errorf("totals: %d clicks %d countries, want 10 and 5", r.TotalClicks, r.TotalCountries)
	}
	if got := s.ranking(t, "period=daily&limit=3").order(); got != "1:US=3 2:CN=2 2:FR=2" {
		t.Errorf("limit=3: %s, want 1:US=3 2:CN=2 2:FR=2", got)
	}
	// A click's own rank is the competition rank too.
	if d := s.click(t, "DE", "one-more", http.StatusCreated); d.CurrentRank != 2 || d.DailyClicks != 2 {
		t.Errorf("DE's 2nd click: rank %d with %d clicks, want rank 2 (tied) with 2", d.CurrentRank, d.DailyClicks)
	}
	e := s.ranking(t, "period=daily").Rankings[0]
	if e.CountryName != "미국" || e.CountryNameEn != "United States" || e.CurrencyCode != "USD" {
		t.Errorf("first entry: %+v, want 미국 / United States / USD", e)
	}
}

// TestKSTDayBoundary clicks once just before and once just after a KST
// midnight: each click lands on its own KST day, whatever the UTC day (15:00
// UTC is midnight KST, so UTC-day thinking would put both on one day), and
// on the week and month of that day: the same or the next.
func TestKSTDayBoundary(t *testing.T) {
	tests := []struct {
		name                string
		before, after       time.Time
		dayBefore, dayAfter string
		sameWeek, sameMonth bool
	}{
		{"a Wednesday night", time.Date(2026, 11, 18, 23, 59, 59, 0, kst.Zone), time.Date(2026, 11, 19, 0, 0, 1, 0, kst.Zone),
			"2026-11-18", "2026-11-19", true, true},
		{"00:30 KST is 15:30 UTC the day before", time.Date(2026, 11, 19, 14, 59, 59, 0, time.UTC), time.Date(2026, 11, 19, 15, 30, 0, 0, time.UTC),
			"2026-11-19", "2026-11-20", true, true},
		{"Saturday to Sunday", time.Date(2026, 11, 21, 23, 59, 59, 0, kst.Zone), time.Date(2026, 11, 22, 0, 0, 0, 0, kst.Zone),
			"2026-11-21", "2026-11-22", true, true},
		{"Sunday to Monday starts a week", time.Date(2026, 11, 22, 23, 59, 59, 0, kst.Zone), time.Date(2026, 11, 23, 0, 30, 0, 0, kst.Zone),
			"2026-11-22", "2026-11-23", false, true},
		{"31 December to 1 January, one ISO week", time.Date(2026, 12, 31, 23, 59, 59, 0, kst.Zone), time.Date(2027, 1, 1, 0, 30, 0, 0, kst.Zone),
			"2026-12-31", "2027-01-01", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := sqliteMini(t, tt.before, ranking.Options{})
			if d := s.click(t, "JP", "a", http.StatusCreated); d.Date != tt.dayBefore || d.DailyClicks != 1 {
				t.Errorf("click at %s: date %s daily %d, want %s, 1", tt.before, d.Date, d.DailyClicks, tt.dayBefore)
			}
			s.clock.Set(tt.after)
			d := s.click(t, "JP", "b", http.StatusCreated)
			if d.Date != tt.dayAfter || d.DailyClicks != 1 || d.TotalClicks != 2 {
				t.Errorf("click at %s: date %s daily %d total %d, want %s, 1, 2", tt.after, d.Date, d.DailyClicks, d.TotalClicks, tt.dayAfter)
			}
			for _, day := range []string{tt.dayBefore, tt.dayAfter} {
				if got := s.ranking(t, "period=daily&date="+day).order(); got != "1:JP=1" {
					t.Errorf("daily %s: %s, want 1:JP=1", day, got)
				}
			}
			if got := s.ranking(t, "period=daily").Date; got != tt.dayAfter {
				t.Errorf("default date: %s, want today in KST, %s", got, tt.dayAfter)
			}
			for _, p := range []struct {
				period string
				same   bool
			}{{"weekly", tt.sameWeek}, {"monthly", tt.sameMonth}} {
				want := "1:JP=1"
				if p.same {
					want = "1:JP=2"
				}
				if got := s.ranking(t, "period="+p.period).order(); got != want {
					t.Errorf("%s containing %s: %s, want %s", p.period, tt.dayAfter, got, want)
				}
			}
		})
	}
}

func TestPeriodsOrderCountries(t *testing.T) {
	// Monday 2026-11-16 .. Sunday 2026-11-22 is one week; 2026-11-23 starts the next.
	s := sqliteMini(t, time.Date(2026, 10, 31, 12, 0, 0, 0, kst.Zone), ranking.Options{})
	at := func(day int, month time.Month) { s.clock.Set(time.Date(2026, month, day, 12, 0, 0, 0, kst.Zone)) }
	s.clicks(t, "FR", 5) // October: outside November's month
	at(15, time.November)
	s.clicks(t, "DE", 4) // Sunday before the week
	at(16, time.November)
	s.clicks(t, "US", 2) // Monday, first day of the week
	at(22, time.November)
	s.clicks(t, "JP", 3) // Sunday, last day of the week
	s.clicks(t, "US", 2)
	at(23, time.November)
	s.clicks(t, "GB", 1) // next Monday

	tests := []struct {
		query, want, start, end string
	}{
		{"period=daily&date=2026-11-22", "1:JP=3 2:US=2", "2026-11-22", "2026-11-22"},
		{"period=weekly&date=2026-11-19", "1:US=4 2:JP=3", "2026-11-16", "2026-11-22"},
		{"period=weekly&date=2026-11-22", "1:US=4 2:JP=3", "2026-11-16", "2026-11-22"},
		{"period=weekly&date=2026-11-15", "1:DE=4", "2026-11-09", "2026-11-15"},
		{"period=weekly", "1:GB=1", "2026-11-23", "2026-11-29"},
		{"period=monthly&date=2026-11-01", "1:DE=4 1:US=4 3:JP=3 4:GB=1", "2026-11-01", "2026-11-30"},
		{"period=monthly&date=2026-10-31", "1:FR=5", "2026-10-01", "2026-10-31"},
		{"period=all", "1:FR=5 2:DE=4 2:US=4 4:JP=3 5:GB=1", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			r := s.ranking(t, tt.query)
			if got := r.order(); got != tt.want {
				t.Errorf("ranking: %s, want %s", got, tt.want)
			}
			start, end := "", ""
			if r.StartDate != nil {
				start = *r.StartDate
			}
			if r.EndDate != nil {
				end = *r.EndDate
			}
			if start != tt.start || end != tt.end {
				t.Errorf("bounds: %q..%q, want %q..%q", start, end, tt.start, tt.end)
			}
		})
	}
}

func TestDuplicateAndRateLimit(t *testing.T) {
	s := sqliteMini(t, noon, ranking.Options{RateLimit: 3, RateWindow: time.Minute, DedupeWindow: 10 * time.Second})
	first := s.click(t, "JP", "alice", http.StatusCreated)
	again := s.click(t, "일본", "alice", http.StatusOK)
	if !first.Counted || again.Counted || again.DailyClicks != 1 || again.TotalClicks != 1 || again.CurrentRank != 1 {
		t.Errorf("repeat inside the window: first %+v, repeat %+v; want the repeat not counted, daily 1", first, again)
	}
	other := s.click(t, "US", "alice", http.StatusCreated) // another country is a new click
	if !other.Counted {
		t.Errorf("click on another country: counted=false, want true")
	}
	resp, env := call(t, http.MethodPost, s.base+"/api/v1/rankings/click?country=FR", nil, map[string]string{"X-Client-Id": "alice"})
	if resp.StatusCode != http.StatusTooManyRequests || env.Error == nil || env.Error.Code != "RATE_LIMIT_EXCEEDED" {
		t.Fatalf("4th click in the window: status %d %s, want 429 RATE_LIMIT_EXCEEDED", resp.StatusCode, errText(env))
	}
	ra, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	if err != nil || ra < 1 || ra > 60 {
		t.Errorf("Retry-After: %q, want 1..60 seconds", resp.Header.Get("Retry-After"))
	}
	// Other clients are not affected, and the refused click counted nothing.
	s.click(t, "FR", "bob", http.StatusCreated)
	if got := s.ranking(t, "period=daily").order(); got != "1:FR=1 1:JP=1 1:US=1" {
		t.Errorf("ranking: %s, want 1:FR=1 1:JP=1 1:US=1", got)
	}
	// Without X-Client-Id the remote address is the client.
	for i := range 3 {
		resp, env := call(t, http.MethodPost, s.base+"/api/v1/rankings/click?country="+[]string{"DE", "GB", "CN"}[i], nil, nil)
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("anonymous click %d: status %d %s, want 201", i, resp.StatusCode, errText(env))
		}
	}
	if resp, _ := call(t, http.MethodPost, s.base+"/api/v1/rankings/click?country=IT", nil, nil); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("4th anonymous click from one address: status %d, want 429", resp.StatusCode)
	}
}

func TestRateLimitSharedAcrossInstances(t *testing.T) {
	r := testinfra.MiniRedis(t)
	dbURL := testinfra.SQLiteURL(t)
	opts := ranking.Options{RateLimit: 2, RateWindow: time.Minute}
	a := startService(t, dbURL, r, noon, opts)
	b := startService(t, dbURL, r, noon, opts)
	a.click(t, "JP", "carol", http.StatusCreated)
	b.click(t, "US", "carol", http.StatusCreated)
	a.click(t, "FR", "carol", http.StatusTooManyRequests)
	b.click(t, "DE", "carol", http.StatusTooManyRequests)
	if got := b.ranking(t, "period=daily").order(); got != "1:JP=1 1:US=1" {
		t.Errorf("ranking: %s, want 1:JP=1 1:US=1", got)
	}
}

func TestStats(t *testing.T) {
	s := sqliteMini(t, time.Date(2026, 11, 16, 9, 0, 0, 0, kst.Zone), ranking.Options{})
	s.clicks(t, "JP", 2)
	s.clock.Set(time.Date(2026, 11, 18, 9, 0, 0, 0, kst.Zone))
	s.clicks(t, "JP", 3)
	s.clicks(t, "US", 1)
	resp, env := call(t, http.MethodGet, s.base+"/api/v1/rankings/stats/jpn?days=4", nil, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("stats: status %d %s", resp.StatusCode, errText(env))
	}
	var d struct {
		CountryCode  string  `json:"country_code"`
		Days         int     `json:"days"`
		StartDate    string  `json:"start_date"`
		EndDate      string  `json:"end_date"`
		TotalClicks  int64   `json:"total_clicks"`
		DailyAverage float64 `json:"daily_average"`
		Daily        []struct {
			Date   string `json:"date"`
			Clicks int64  `json:"clicks"`
		} `json:"daily"`
	}
	if err := json.Unmarshal(env.Data, &d); err != nil {
		t.Fatal(err)
	}
	if d.CountryCode != "JP" || d.Days != 4 || d.StartDate != "2026-11-15" || d.EndDate != "2026-11-18" ||
		d.TotalClicks != 5 || d.DailyAverage != 1.25 {
		t.Errorf("stats: %+v, want JP, 4 days 2026-11-15..2026-11-18, total 5, average 1.25", d)
	}
	var days []string
	for _, x := range d.Daily {
		days = append(days, x.Date+"="+strconv.FormatInt(x.Clicks, 10))
	}
	if got, want := strings.Join(days, " "), "2026-11-15=0 2026-11-16=2 2026-11-17=0 2026-11-18=3"; got != want {
		t.Errorf("daily: %s, want %s", got, want)
	}
	// Read endpoints answer If-None-Match with 304.
	etag := resp.Header.Get("ETag")
	if etag == "" {
		t.Fatal("stats: no ETag")
	}
	if resp, _ := call(t, http.MethodGet, s.base+"/api/v1/rankings/stats/jpn?days=4", nil, map[string]string{"If-None-Match": etag}); resp.StatusCode != http.StatusNotModified {
		t.Errorf("stats with If-None-Match: status %d, want 304", resp.StatusCode)
	}
	rr, _ := call(t, http.MethodGet, s.base+"/api/v1/rankings", nil, nil)
	if resp, _ := call(t, http.MethodGet, s.base+"/api/v1/rankings", nil, map[string]string{"If-None-Match": rr.Header.Get("ETag")}); resp.StatusCode != http.StatusNotModified {
		t.Errorf("rankings with If-None-Match: status %d, want 304", resp.StatusCode)
	}
}

func TestReset(t *testing.T) {
	s := sqliteMini(t, noon, ranking.Options{})
	s.clicks(t, "JP", 3)
	s.clicks(t, "US", 1)
	s.clock.Set(noon.AddDate(0, 0, 1))
	s.clicks(t, "JP", 2)

	auth := map[string]string{"Authorization": "Bearer " + adminToken}
	for _, tt := range []struct {
		name   string
		header map[string]string
		status int
	}{
		{"no token", nil, 401},
		{"wrong token", map[string]string{"Authorization": "Bearer nope"}, 403},
	} {
		resp, env := call(t, http.MethodPost, s.base+"/api/v1/rankings/reset?date=2026-11-18", nil, tt.header)
		if resp.StatusCode != tt.status || env.Success {
			t.Errorf("reset with %s: status %d, want %d", tt.name, resp.StatusCode, tt.status)
		}
	}
	if resp, env := call(t, http.MethodPost, s.base+"/api/v1/rankings/reset?date=yesterday", nil, auth); resp.StatusCode != 400 || env.Error.Code != "INVALID_PARAMETER" {
		t.Errorf("reset with a bad date: status %d %s, want 400 INVALID_PARAMETER", resp.StatusCode, errText(env))
	}
	if got := s.ranking(t, "period=all").order(); got != "1:JP=5 2:US=1" {
		t.Fatalf("before reset: %s, want 1:JP=5 2:US=1 (refused resets must change nothing)", got)
	}

	resp, env := call(t, http.MethodPost, s.base+"/api/v1/rankings/reset?date=2026-11-18", nil, auth)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("reset: status %d %s", resp.StatusCode, errText(env))
	}
	var d struct {
		ResetID          int64  `json:"reset_id"`
		Date             string `json:"date"`
		RemovedCountries int    `json:"removed_countries"`
		RemovedClicks    int64  `json:"removed_clicks"`
		Removed          []struct {
			CountryCode string `json:"country_code"`
			Clicks      int64  `json:"clicks"`
		} `json:"removed"`
		ResetAt time.Time `json:"reset_at"`
	}
	if err := json.Unmarshal(env.Data, &d); err != nil {
		t.Fatal(err)
	}
	if d.ResetID == 0 || d.Date != "2026-11-18" || d.RemovedCountries != 2 || d.RemovedClicks != 4 ||
		len(d.Removed) != 2 || d.Removed[0].CountryCode != "JP" || d.Removed[0].Clicks != 3 || d.Removed[1].CountryCode != "US" {
		t.Errorf("reset answer: %+v, want id, 2026-11-18, 2 countries, 4 clicks, [JP 3, US 1]", d)
	}
	if want := noon.AddDate(0, 0, 1); !d.ResetAt.Equal(want) {
		t.Errorf("reset_at %s, want the service clock, %s", d.ResetAt, want)
	}
	if got := s.ranking(t, "period=daily&date=2026-11-18").order(); got != "" {
		t.Errorf("reset day after reset: %s, want empty", got)
	}
	for q, want := range map[string]string{
		"period=daily&date=2026-11-19":  "1:JP=2",
		"period=weekly&date=2026-11-18": "1:JP=2",
		"period=all":                    "1:JP=2",
	} {
		if got := s.ranking(t, q).order(); got != want {
			t.Errorf("%s after reset: %s, want %s", q, got, want)
		}
	}
	// The boards rebuilt from SQL agree with the ones the reset updated.
	s.redis.Mini.FlushAll()
	if got := s.ranking(t, "period=all").order(); got != "1:JP=2" {
		t.Errorf("all-time after reset and flush: %s, want 1:JP=2", got)
	}
}

func TestAdminDisabledWithoutToken(t *testing.T) {
	r := testinfra.MiniRedis(t)
	env := map[string]string{"RATEWIRE_DATABASE_URL": testinfra.SQLiteURL(t), "RATEWIRE_REDIS_URL": r.URL}
	cfg, _ := config.Load(func(k string) string { return env[k] }, config.DefaultRankingAddr)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- ranking.Run(ctx, cfg, ranking.Options{Listener: ln, Now: func() time.Time { return noon }})
	}()
	defer func() { cancel(); <-done }()
	base := "http://" + ln.Addr().String()
	waitHealthy(t, base, done)
	resp, env2 := call(t, http.MethodPost, base+"/api/v1/rankings/reset", nil, map[string]string{"Authorization": "Bearer x"})
	if resp.StatusCode != http.StatusForbidden || env2.Error == nil || env2.Error.Code != "FORBIDDEN" {
		t.Errorf("reset with no admin token configured: status %d %s, want 403 FORBIDDEN", resp.StatusCode, errText(env2))
	}
}

// TestFlushingRedisLosesNoCount runs on miniredis with SQLite and on a
// real Redis with PostgreSQL: the leaderboards are rebuilt from SQL after
// Redis loses them, and clicks made after the loss are counted once.
func TestFlushingRedisLosesNoCount(t *testing.T) {
	testinfra.ForEachRedis(t, func(t *testing.T, r testinfra.Redis) {
		dbURL := testinfra.SQLiteURL(t)
		if r.Mini == nil {
			dbURL = testinfra.PostgresURL(t)
		}
		s := startService(t, dbURL, r, noon, ranking.Options{})
		s.clicks(t, "JP", 3)
		s.clicks(t, "KR", 2)
		before := s.ranking(t, "period=weekly").order()
		if before != "1:JP=3 2:KR=2" {
			t.Fatalf("before flush: %s, want 1:JP=3 2:KR=2", before)
		}
		flush(t, r)
		// A click while the boards are gone is parked, then counted once.
		if d := s.click(t, "KR", "after-flush", http.StatusCreated); d.DailyClicks != 3 || d.TotalClicks != 3 || d.CurrentRank != 1 {
			t.Errorf("click after flush: daily %d total %d rank %d, want 3 3 1", d.DailyClicks, d.TotalClicks, d.CurrentRank)
		}
		for _, p := range []string{"daily", "weekly", "monthly", "all"} {
			if got := s.ranking(t, "period="+p).order(); got != "1:JP=3 1:KR=3" {
				t.Errorf("%s after flush: %s, want 1:JP=3 1:KR=3", p, got)
			}
		}
		s.clicks(t, "JP", 1)
		if got := s.ranking(t, "period=all").order(); got != "1:JP=4 2:KR=3" {
			t.Errorf("all after another click: %s, want 1:JP=4 2:KR=3", got)
		}
	})
}

// flush empties the test's Redis: FLUSHALL on miniredis, the test's own
// keys on a shared real server.
func flush(t *testing.T, r testinfra.Redis) {
	t.Helper()
	if r.Mini != nil {
		r.Mini.FlushAll()
		return
	}
	ctx := context.Background()
	iter := r.Client.Scan(ctx, 0, r.Prefix+"*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Fatalf("scan: %v", err)
	}
	if len(keys) == 0 {
		t.Fatal("flush: the service wrote no Redis keys under the test prefix")
	}
	if err := r.Client.Del(ctx, keys...).Err(); err != nil {
		t.Fatalf("del: %v", err)
	}
}

// TestRedisDown checks the documented behaviour without Redis: clicks are
// still counted in SQL (limits fail open), rankings come from SQL, and
// when Redis returns the boards catch up.
func TestRedisDown(t *testing.T) {
	r := testinfra.MiniRedis(t)
	s := startService(t, testinfra.SQLiteURL(t), r, noon, ranking.Options{})
	s.clicks(t, "JP", 2)
	if got := s.ranking(t, "period=daily").order(); got != "1:JP=2" {
		t.Fatalf("before: %s", got)
	}
	addr := r.Mini.Addr()
	r.Mini.Close()
	d := s.click(t, "JP", "while-down", http.StatusCreated)
	if d.DailyClicks != 3 || d.TotalClicks != 3 || d.CurrentRank != 1 {
		t.Errorf("click with Redis down: daily %d total %d rank %d, want 3 3 1", d.DailyClicks, d.TotalClicks, d.CurrentRank)
	}
	s.click(t, "US", "while-down", http.StatusCreated)
	if got := s.ranking(t, "period=daily").order(); got != "1:JP=3 2:US=1" {
		t.Errorf("ranking with Redis down: %s, want 1:JP=3 2:US=1 (from SQL)", got)
	}
	// Redis comes back with its old data (as after a restart with
	// persistence): the boards that missed clicks are rebuilt, not stale.
	if err := r.Mini.StartAddr(addr); err != nil {
		t.Fatalf("restart miniredis: %v", err)
	}
	if got := s.ranking(t, "period=all").order(); got != "1:JP=3 2:US=1" {
		t.Errorf("ranking after Redis returned: %s, want 1:JP=3 2:US=1", got)
	}
	s.clicks(t, "US", 2)
	if got := s.ranking(t, "period=daily").order(); got != "1:JP=3 1:US=3" {
		t.Errorf("ranking after more clicks: %s, want 1:JP=3 1:US=3", got)
	}
}

// TestGracefulShutdownWritesEveryClick stops the service while clicks are
// in flight: every click that was answered 201 is in SQL afterwards.
func TestGracefulShutdownWritesEveryClick(t *testing.T) {
	r := testinfra.MiniRedis(t)
	dbURL := testinfra.SQLiteURL(t)
	s := startService(t, dbURL, r, noon, ranking.Options{RateLimit: 1000})
	var wg sync.WaitGroup
	var mu sync.Mutex
	answered := 0
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				req, _ := http.NewRequest(http.MethodPost, s.base+"/api/v1/rankings/click?country=JP", nil)
				req.Header.Set("X-Client-Id", fmt.Sprintf("w%d-%d", w, i))
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					return // the server has stopped
				}
				resp.Body.Close()
				if resp.StatusCode == http.StatusCreated {
					mu.Lock()
					answered++
					mu.Unlock()
				} else if resp.StatusCode != http.StatusServiceUnavailable {
					t.Errorf("click during shutdown: status %d, want 201 or 503", resp.StatusCode)
					return
				}
			}
		}()
	}
	for {
		mu.Lock()
		n := answered
		mu.Unlock()
		if n >= 50 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	s.stop()
	wg.Wait()

	db := testinfra.OpenDB(t, dbURL)
	var stored int
	if err := db.Get(&stored, `SELECT COALESCE(SUM(clicks), 0) FROM country_clicks WHERE country_code = 'JP'`); err != nil {
		t.Fatal(err)
	}
	if stored < answered {
		t.Errorf("stored %d clicks, but %d were answered 201: graceful shutdown lost clicks", stored, answered)
	}
}
