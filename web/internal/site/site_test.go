package site_test

import (
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ratewire/ratewire/web/internal/api"
	"github.com/ratewire/ratewire/web/internal/site"
)

func init() { gin.SetMode(gin.TestMode) }

// fakeAPI answers the public API paths the pages call, in the services'
// envelope, with answers a test may replace per path.
type fakeAPI struct {
	mu      sync.Mutex
	answers map[string]answer
	seen    []string
}

type answer struct {
	status int
	body   string
}

func ok(data string) answer {
	return answer{200, `{"success":true,"data":` + data + `,"timestamp":"2026-11-25T01:00:00Z"}`}
}

func fail(status int, code, msg string) answer {
	return answer{status, fmt.Sprintf(`{"success":false,"error":{"code":%q,"message":%q},"timestamp":"2026-11-25T01:00:00Z"}`, code, msg)}
}

const usd = `{"currency_code":"USD","currency_name":"미국 달러","deal_base_rate":"1373.98","tts":"1387.72","ttb":"1360.24","source":"simulated","recorded_at":"2026-11-25T00:50:00Z","rate_date":"2026-11-25","updated_at":"2026-11-25T00:50:01Z","version":3,"currency_name_en":"US Dollar","symbol":"US$","display_unit":1,"change":"-3.26","change_percent":"-0.2366","carried_over":false}`
const jpy = `{"currency_code":"JPY","currency_name":"일본 옌","deal_base_rate":"9.6596","tts":null,"ttb":null,"source":"simulated","recorded_at":"2026-11-25T00:50:00Z","rate_date":"2026-11-24","updated_at":"2026-11-25T00:50:01Z","version":2,"currency_name_en":"Japanese Yen","symbol":"JP¥","display_unit":100,"change":"0.026","change_percent":"0.27","carried_over":true}`

func newFake() *fakeAPI {
	return &fakeAPI{answers: map[string]answer{
		"/api/v1/currencies": ok(`{"count":3,"currencies":[
			{"currency_code":"JPY","currency_name":"일본 옌","currency_name_en":"Japanese Yen","symbol":"JP¥","symbol_narrow":"¥","countries":["JP"],"display_unit":100,"minor_units":0},
			{"currency_code":"KRW","currency_name":"대한민국 원","currency_name_en":"South Korean Won","symbol":"₩","symbol_narrow":"₩","countries":["KR"],"display_unit":1,"minor_units":0},
			{"currency_code":"USD","currency_name":"미국 달러","currency_name_en":"US Dollar","symbol":"US$","symbol_narrow":"$","countries":["US"],"display_unit":1,"minor_units":2}]}`),
		"/api/v1/currencies/multiple":  ok(`{"count":2,"rates":[` + usd + `,` + jpy + `]}`),
		"/api/v1/currencies/USD":       ok(usd),
		"/api/v1/currencies/JPY":       ok(jpy),
		"/api/v1/currencies/search":    ok(`{"country_code":"JP","country_code_alpha3":"JPN","country_name":"일본","country_name_en":"Japan","currency_code":"JPY","currency_name":"일본 옌","currency_name_en":"Japanese Yen","symbol":"JP¥","display_unit":100,"rate":` + jpy + `}`),
		"/api/v1/currencies/convert":   ok(`{"from":"USD","to":"KRW","amount":"1250","rate_type":"bank","rate":"1360.24","result":"1700300","result_unrounded":"1700300","minor_units":0,"legs":[{"currency_code":"USD","direction":"to_krw","rate_type":"ttb","rate":"1360.24"}],"source":"simulated","as_of":"2026-11-25T00:50:00Z","fetched_at":"2026-11-25T00:50:00Z","breakdown":{"currency":"KRW","amount_at_mid":"1717475","margin":"17175","margin_preferential":"17175","preferential_saving":"0","effective_rate":"1360.24","fee_note":"none"}}`),
		"/openapi.json":                answer{200, `{"paths":{"/api/v1/currencies/convert":{"get":{"parameters":[{"name":"from","in":"query"},{"name":"to","in":"query"},{"name":"amount","in":"query"},{"$ref":"#/components/parameters/Channel"},{"name":"preferential","in":"query"}]}}},"components":{"parameters":{"Channel":{"name":"channel","in":"query"}}}}`},
		"/api/v1/history":              ok(`{"target":"JPY","period":"1m","interval":"1d","from":"2026-10-25T10:00:00+09:00","to":"2026-11-25T10:00:00+09:00","results":[{"date":"2026-11-24T00:00:00+09:00","rate":9.6,"open":9.5,"high":9.7,"low":9.4,"change":0.1,"change_percent":1,"samples":24},{"date":"2026-11-25T00:00:00+09:00","rate":9.65,"open":9.6,"high":9.7,"low":9.55,"change":0.05,"change_percent":0.5,"samples":10}],"statistics":{"current":9.65,"average":9.62,"min":9.4,"max":9.7,"change":0.15,"change_percent":1.5,"volatility":0.0077,"data_points":2,"trend":{"direction":"up"}}}`),
		"/api/v1/history/analysis":     ok(`{"sma_20":9.6,"sma_50":null,"ema_20":9.6,"rsi_14":55.5,"bollinger":{"middle":9.6,"upper":9.8,"lower":9.4},"support":9.4,"resistance":9.7,"trend":{"direction":"up"},"series":[{"date":"2026-11-24T00:00:00+09:00","close":9.6,"sma_20":9.58,"bollinger_upper":9.8,"bollinger_lower":9.4},{"date":"2026-11-25T00:00:00+09:00","close":9.65,"sma_20":9.6,"bollinger_upper":9.81,"bollinger_lower":9.41}]}`),
		"/api/v1/history/forecast/JPY": ok(`{"method":"random walk with drift","days":7,"history_points":31,"last_rate":9.65,"forecast":[{"date":"2026-11-26","rate":9.66,"lower_80":9.5,"upper_80":9.8,"lower_95":9.4,"upper_95":9.9}],"backtest":{"horizon_days":7,"trained_through":"2026-11-18","mape_percent":1.25,"mae":0.12,"coverage_80":0.857,"coverage_95":1}}`),
		"/api/v1/rankings":             ok(`{"period":"daily","start_date":"2026-11-25","end_date":"2026-11-25","total_clicks":3,"rankings":[{"rank":1,"country_code":"JP","country_name":"일본","country_name_en":"Japan","currency_code":"JPY","clicks":2},{"rank":2,"country_code":"US","country_name":"미국","country_name_en":"United States","currency_code":"USD","clicks":1}]}`),
		"/api/v1/ingest/runs":          ok(`{"count":1,"runs":[{"run_id":"r1","trigger":"schedule","status":"success","provider":"simulated","reason":"","rate_date":"2026-11-25","fetched":30,"rejected":0,"changed":12,"events":15,"started_at":"2026-11-25T00:50:00Z","finished_at":"2026-11-25T00:50:01Z","duration_ms":12}]}`),
		"/api/v1/ingest/status":        ok(`{"providers":["simulated"],"schedule":"*/5 * * * *","timezone":"Asia/Seoul","next_run":"2026-11-25T10:05:00+09:00","last_success":null,"last_failure":null,"outbox":{"pending":2,"oldest_pending":"2026-11-25T00:59:00Z"}}`),
		"/metrics": {200, "# TYPE ratewire_consumer_lag_messages gauge\nratewire_consumer_lag_messages{group=\"currency-service\",partition=\"2\",topic=\"exchange_rate_updated\"} 7\n" +
			"# TYPE ratewire_consumer_messages_total counter\nratewire_consumer_messages_total{group=\"currency-service\",outcome=\"dlq\",topic=\"cache_invalidation\"} 1\n" +
			"# TYPE ratewire_dlq_messages gauge\nratewire_dlq_messages{topic=\"new_data_received.dlq\"} 4\n" +
			"# TYPE ratewire_outbox_oldest_pending_age_seconds gauge\nratewire_outbox_oldest_pending_age_seconds 65\n"},
	}}
}

func (f *fakeAPI) set(path string, a answer) {
	f.mu.Lock()
	f.answers[path] = a
	f.mu.Unlock()
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	a, found := f.answers[r.URL.Path]
	f.seen = append(f.seen, r.URL.RequestURI())
	f.mu.Unlock()
	if !found {
		a = fail(404, "NOT_FOUND", "no route")
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(a.status)
	io.WriteString(w, a.body)
}

func (f *fakeAPI) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.seen...)
}

// app is the site over a fake API, served by httptest.
type app struct {
	fake *fakeAPI
	srv  *httptest.Server
}

var fixedNow = func() time.Time { return time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC) }

func newApp(t *testing.T) *app {
	t.Helper()
	f := newFake()
	up := httptest.NewServer(f)
	t.Cleanup(up.Close)
	client := api.New(api.Endpoints{Currency: up.URL, History: up.URL, Ranking: up.URL, Ingestor: up.URL}, time.Second, nil)
	s, err := site.New(site.Config{API: client, Now: fixedNow, KafkaUIURL: "http://localhost:8081"})
	if err != nil {
		t.Fatal(err)
	}
	e := gin.New()
	s.Register(e)
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return &app{fake: f, srv: srv}
}

func (a *app) get(t *testing.T, path string, cookies ...*http.Cookie) (int, string, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, a.srv.URL+path, nil)
	for _, c := range cookies {
		req.AddCookie(c)
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

// untranslated finds a template key shown instead of its words.
var untranslated = regexp.MustCompile(`>[^<]*?\b((?:board|convert|currency|search|popular|status|err|nav|legend|trend|svc|app|lang)\.[a-z0-9_.]+)`)

// TestPagesRender: every page renders with the API's figures, formatted
// as people read them, with no template key left untranslated.
func TestPagesRender(t *testing.T) {
	a := newApp(t)
	for _, tt := range []struct {
		path string
		want []string
	}{
		{"/", []string{`data-code="USD"`, `data-version="3"`, "1,373.98", "-3.26 (-0.24%)", "1,387.72", "965.96", "+2.60 (+0.27%)", "지난 영업일 환율", `data-symbols="USD,JPY"`, "100단위", "송금 보낼 때"}},
		{"/convert?amount=1,250&from=usd&to=KRW", []string{`data-result="1700300"`, "1,250 USD는 1,700,300 KRW입니다.", "<dt>매매기준율로 바꾸면</dt><dd>1,717,475 KRW</dd>", "<dt>은행 마진(우대 전)</dt><dd>17,175 KRW</dd>", "<dt>실제 적용 환율</dt><dd>1 USD = 1,360.24 KRW</dd>", "<dt>fee note</dt><dd>none</dd>", `name="channel"`, `name="preferential"`}},
		{"/search?q=%EC%9D%BC%EB%B3%B8", []string{"일본의 통화는 JPY(일본 옌)입니다.", `data-country="JP"`, `href="/currency/JPY?country=JP"`, "965.96"}},
		{"/currency/JPY?period=1m&country=JP", []string{"일본 옌 (JPY) 환율", "일본의 통화", "<svg", `class="candle`, `class="sma"`, `class="forecast"`, "966.00원 안팎", "평균 오차는 1.25%(약 12.00원)", "80% 구간에 86%", "0.77%"}},
		{"/popular", []string{`data-country="JP"`, "일본", "미국", `data-period="daily"`}},
		{"/status", []string{"exchange_rate_updated", "cache_invalidation.dlq", `<td>new_data_received.dlq</td><td class="num">4</td>`, "*/5 * * * *", `id="outbox-pending">2<`, "1m5s", "http://localhost:8081", "schedule"}},
	} {
		status, body, h := a.get(t, tt.path)
		if status != 200 {
			t.Errorf("GET %s = %d, want 200:\n%s", tt.path, status, body)
			continue
		}
		if ct := h.Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Errorf("GET %s Content-Type %q", tt.path, ct)
		}
		if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
			t.Errorf("GET %s CSP %q, want self only", tt.path, csp)
		}
		text := html.UnescapeString(body)
		for _, w := range tt.want {
			if !strings.Contains(body, w) && !strings.Contains(text, w) {
				t.Errorf("GET %s lacks %q", tt.path, w)
			}
		}
		if m := untranslated.FindStringSubmatch(body); m != nil {
			t.Errorf("GET %s shows the key %q instead of words", tt.path, m[1])
		}
	}
}

// TestErrorsInWords: API failures become sentences and statuses, never
// the API's JSON.
func TestErrorsInWords(t *testing.T) {
	for _, tt := range []struct {
		name, path, apiPath string
		ans                 answer
		status              int
		want                string
	}{
		{"unknown country", "/search?q=atlantis", "/api/v1/currencies/search", fail(400, "INVALID_COUNTRY", `"atlantis" is not a known country`), 404, "‘atlantis’(이)라는 나라를 찾지 못했습니다"},
		{"unknown currency", "/currency/XYZ", "/api/v1/currencies/XYZ", fail(404, "NOT_FOUND", "no rate"), 404, "‘XYZ’ 통화는 ratewire가 다루지 않습니다"},
		{"service down", "/", "/api/v1/currencies/multiple", fail(503, "SERVICE_UNAVAILABLE", "database: dial tcp 10.0.0.5:5432"), 503, "환율 서비스가 응답하지 않습니다"},
		{"gateway html", "/popular", "/api/v1/rankings", answer{502, "<html>Bad Gateway</html>"}, 503, "인기 순위 서비스가 응답하지 않습니다"},
		{"no spread", "/convert?amount=5&from=USD&to=KRW", "/api/v1/currencies/convert", fail(422, "RATE_UNAVAILABLE", "no spread"), 422, "은행 매매율을 알려 주지 않습니다"},
		{"bad amount", "/convert?amount=-5&from=USD&to=KRW", "", answer{}, 400, "금액은 0보다 큰 숫자로"},
		{"rate limited", "/popular", "/api/v1/rankings", fail(429, "RATE_LIMIT_EXCEEDED", "slow down"), 429, "요청이 너무 많습니다"},
		{"no page", "/nowhere", "", answer{}, 404, "찾는 페이지가 없습니다"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := newApp(t)
			if tt.apiPath != "" {
				a.fake.set(tt.apiPath, tt.ans)
			}
			status, body, h := a.get(t, tt.path)
			if status != tt.status || !strings.Contains(body, tt.want) {
				t.Errorf("GET %s = %d, want %d with %q:\n%s", tt.path, status, tt.status, tt.want, body)
			}
			if !strings.HasPrefix(h.Get("Content-Type"), "text/html") {
				t.Errorf("GET %s answered %s, want a page", tt.path, h.Get("Content-Type"))
			}
			for _, leak := range []string{`"success"`, "10.0.0.5", "SERVICE_UNAVAILABLE", "<html>Bad Gateway"} {
				if strings.Contains(body, leak) {
					t.Errorf("GET %s shows %q to people", tt.path, leak)
				}
			}
		})
	}
}

// TestServiceUnreachable: a service that does not listen at all is a page
// saying so.
func TestServiceUnreachable(t *testing.T) {
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	s, err := site.New(site.Config{API: api.New(api.Endpoints{Currency: down.URL, History: down.URL, Ranking: down.URL, Ingestor: down.URL}, time.Second, nil), Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	e := gin.New()
	s.Register(e)
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest("GET", "/?lang=en", nil))
	if rec.Code != 503 || !strings.Contains(rec.Body.String(), "The rates service is not answering") {
		t.Errorf("GET / with the currency service down = %d:\n%s", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest("GET", "/status", nil))
	if rec.Code != 200 || strings.Count(rec.Body.String(), "지표를 읽을 수 없습니다") != 3 || !strings.Contains(rec.Body.String(), "환율 수집 서비스가 응답하지 않습니다") {
		t.Errorf("status page with everything down = %d, want 200 naming each unreachable part:\n%s", rec.Code, rec.Body)
	}
}

// TestLanguageSwitch: Korean by default, ?lang=en switches and is
// remembered in a cookie, ?lang=ko switches back, other values are ignored.
func TestLanguageSwitch(t *testing.T) {
	a := newApp(t)
	_, body, _ := a.get(t, "/")
	if !strings.Contains(body, `<html lang="ko">`) || !strings.Contains(body, "오늘의 환율") || !strings.Contains(body, "미국 달러") {
		t.Error("default page is not Korean")
	}
	_, body, h := a.get(t, "/?lang=en")
	if !strings.Contains(body, `<html lang="en">`) || !strings.Contains(body, "Today&#39;s rates") || !strings.Contains(body, "US Dollar") {
		t.Error("?lang=en page is not English")
	}
	resp := http.Response{Header: h}
	var langCookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "lang" {
			langCookie = c
		}
	}
	if langCookie == nil || langCookie.Value != "en" || !langCookie.HttpOnly {
		t.Fatalf("?lang=en set cookies %v, want lang=en (HttpOnly)", h["Set-Cookie"])
	}
	if !strings.Contains(body, `href="/?lang=ko"`) {
		t.Error("English page has no link back to Korean")
	}
	if _, body, _ = a.get(t, "/popular", langCookie); !strings.Contains(body, "Popular destinations") || !strings.Contains(body, "Japan") {
		t.Error("the cookie does not keep English on the next page")
	}
	if _, body, _ = a.get(t, "/popular?lang=ko", langCookie); !strings.Contains(body, "인기 여행지") {
		t.Error("?lang=ko does not switch back")
	}
	if _, body, _ = a.get(t, "/popular?lang=fr"); !strings.Contains(body, "인기 여행지") {
		t.Error("an unknown language is not ignored")
	}
}

// TestSuggest: Korean, English and ISO codes, best matches first, only
// currencies the platform quotes (the fake quotes JPY and USD).
func TestSuggest(t *testing.T) {
	a := newApp(t)
	for _, tt := range []struct {
		q, want string
	}{
		{"일본", "JP"}, {"일", "JP"}, {"japan", "JP"}, {"JPN", "JP"}, {"jp", "JP"}, {"united states", "US"}, {"미국", "US"},
	} {
		status, body, _ := a.get(t, "/suggest?q="+strings.ReplaceAll(tt.q, " ", "+"))
		var got []struct {
			Code string `json:"country_code"`
			Href string `json:"href"`
		}
		if status != 200 || json.Unmarshal([]byte(body), &got) != nil || len(got) == 0 || got[0].Code != tt.want {
			t.Errorf("suggest %q = %d %s, want %s first", tt.q, status, body, tt.want)
			continue
		}
		if !strings.HasPrefix(got[0].Href, "/currency/") {
			t.Errorf("suggest %q href %q", tt.q, got[0].Href)
		}
	}
	for _, q := range []string{"", "zzzz", "프랑스", strings.Repeat("가", 300)} {
		if _, body, _ := a.get(t, "/suggest?q="+q); strings.TrimSpace(body) != "[]" {
			t.Errorf("suggest %q = %s, want []", q, body)
		}
	}
}

// TestConverterWithoutChannel: a service whose document lacks channel and
// preferential gets neither field, and a refusal of them (an older replica)
// converts without them and says so.
func TestConverterWithoutChannel(t *testing.T) {
	a := newApp(t)
	a.fake.set("/openapi.json", answer{200, `{"paths":{"/api/v1/currencies/convert":{"get":{"parameters":[{"name":"from","in":"query"}]}}}}`})
	_, body, _ := a.get(t, "/convert?amount=5&from=USD&to=KRW&channel=cash")
	if strings.Contains(body, `name="channel"`) || strings.Contains(body, `name="preferential"`) {
		t.Error("converter offers channel or preferential the API does not declare")
	}
	for _, r := range a.fake.requests() {
		if strings.Contains(r, "channel=") {
			t.Errorf("sent %s to a service without channel", r)
		}
	}

	b := newApp(t)
	var calls int
	var mu sync.Mutex
	conv := b.fake.answers["/api/v1/currencies/convert"]
	refuser := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/v1/currencies/convert" {
			mu.Lock()
			calls++
			mu.Unlock()
			if r.URL.Query().Has("channel") {
				w.WriteHeader(400)
				io.WriteString(w, fail(400, "INVALID_PARAMETER", "unknown parameter channel").body)
				return
			}
			io.WriteString(w, conv.body)
			return
		}
		b.fake.ServeHTTP(w, r)
	}))
	defer refuser.Close()
	s, _ := site.New(site.Config{API: api.New(api.Endpoints{Currency: refuser.URL, History: refuser.URL, Ranking: refuser.URL, Ingestor: refuser.URL}, time.Second, nil), Now: fixedNow})
	e := gin.New()
	s.Register(e)
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest("GET", "/convert?amount=1250&from=USD&to=KRW&channel=cash&preferential=90", nil))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `data-result="1700300"`) || !strings.Contains(rec.Body.String(), "송금 환율로 계산했습니다") || calls != 2 {
		t.Errorf("refused channel: %d after %d calls:\n%s", rec.Code, calls, rec.Body)
	}
}

// TestConverterCashLegs: a cash conversion names the bank's cash rate of
// each leg in words, in both languages (the leg's rate_type is cash_buy or
// cash_sell, which the remittance fixtures never showed).
func TestConverterCashLegs(t *testing.T) {
	a := newApp(t)
	a.fake.set("/api/v1/currencies/convert", ok(`{"from":"USD","to":"JPY","amount":"100","rate_type":"bank","channel":"cash","preferential":"0","rate":"150.5","result":"15050","result_unrounded":"15050","minor_units":0,"legs":[`+
		`{"currency_code":"USD","direction":"to_krw","rate_type":"cash_sell","rate":"1352.12"},{"currency_code":"JPY","direction":"from_krw","rate_type":"cash_buy","rate":"9.38"}],`+
		`"source":"simulated","as_of":"2026-11-25T00:50:00Z","fetched_at":"2026-11-25T00:50:00Z"}`))
	for _, tt := range []struct{ lang, sell, buy string }{{"ko", "현찰 팔 때", "현찰 살 때"}, {"en", "Sell cash", "Buy cash"}} {
		status, body, _ := a.get(t, "/convert?amount=100&from=USD&to=JPY&channel=cash&lang="+tt.lang)
		if status != 200 {
			t.Fatalf("%s: %d\n%s", tt.lang, status, body)
		}
		if m := untranslated.FindStringSubmatch(body); m != nil {
			t.Errorf("%s: shows the key %q instead of words", tt.lang, m[1])
		}
		text := html.UnescapeString(body)
		if !strings.Contains(text, "USD: "+tt.sell) || !strings.Contains(text, "JPY: "+tt.buy) {
			t.Errorf("%s: legs do not name %q and %q:\n%s", tt.lang, tt.sell, tt.buy, body)
		}
	}
}

// TestStaticAssets: assets are embedded, typed, cacheable by version and
// revalidated by ETag.
func TestStaticAssets(t *testing.T) {
	a := newApp(t)
	_, page, _ := a.get(t, "/")
	m := regexp.MustCompile(`src="(/static/board\.js\?v=([0-9a-f]+))"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatal("rates page does not load board.js by version")
	}
	status, body, h := a.get(t, m[1])
	if status != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/javascript") || !strings.Contains(h.Get("Cache-Control"), "immutable") || !strings.Contains(body, "EventSource") {
		t.Errorf("GET %s = %d %v", m[1], status, h)
	}
	req, _ := http.NewRequest("GET", a.srv.URL+"/static/board.js", nil)
	req.Header.Set("If-None-Match", `"`+m[2]+`"`)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 304 {
		t.Errorf("revalidation = %d, want 304", resp.StatusCode)
	}
	if status, _, _ := a.get(t, "/static/nope.js"); status != 404 {
		t.Errorf("unknown asset = %d, want 404", status)
	}
}

// TestCurrencyPageCountry: ?country= shows the country only when it pays
// in the page's currency, and only a real code goes into the tab links.
func TestCurrencyPageCountry(t *testing.T) {
	a := newApp(t)
	_, body, _ := a.get(t, "/currency/JPY?period=3m&country=jp")
	if !strings.Contains(body, "일본의 통화") || !strings.Contains(body, `href="?period=1y&amp;country=JP"`) {
		t.Error("?country=jp on JPY: no country line or tab links without it")
	}
	_, body, _ = a.get(t, `/currency/JPY?country=US"><script>`)
	if strings.Contains(body, "의 통화") || !strings.Contains(body, `href="?period=1y"`) || strings.Contains(body, `"><script>`) {
		t.Error("a country that does not pay in JPY (or no country at all) is shown or echoed")
	}
	if status, _, _ := a.get(t, "/currency/JPY?period=10y"); status != 200 {
		t.Errorf("unknown period = %d, want the default period", status)
	}
}

// TestBoardBeforeFirstRun: on a fresh start the currency list is empty;
// the board says so, and shows the rates as soon as they exist (the empty
// list is not kept).
func TestBoardBeforeFirstRun(t *testing.T) {
	a := newApp(t)
	full := a.fake.answers["/api/v1/currencies"]
	// The service lists KRW, the base, even before it has any rate.
	a.fake.set("/api/v1/currencies", ok(`{"count":1,"currencies":[{"currency_code":"KRW","currency_name":"대한민국 원","currency_name_en":"South Korean Won","symbol":"₩","symbol_narrow":"₩","countries":["KR"],"display_unit":1,"minor_units":0}]}`))
	status, body, _ := a.get(t, "/")
	if status != 200 || !strings.Contains(body, "아직 수집된 환율이 없습니다") || strings.Contains(body, "<table") {
		t.Errorf("board before the first run = %d:\n%s", status, body)
	}
	a.fake.set("/api/v1/currencies", full)
	if _, body, _ = a.get(t, "/"); !strings.Contains(body, `data-code="USD"`) {
		t.Error("board after the first run still has no rates")
	}
}

// TestWrongMethod: a POST to a page is a 405 page with Allow, not JSON.
func TestWrongMethod(t *testing.T) {
	a := newApp(t)
	resp, err := http.Post(a.srv.URL+"/convert", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(string(body), "입력한 값을 확인해 주세요") {
		t.Errorf("POST /convert = %d Allow %q %s:\n%s", resp.StatusCode, resp.Header.Get("Allow"), resp.Header.Get("Content-Type"), body)
	}
}
