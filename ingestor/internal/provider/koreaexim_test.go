package provider_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/ratewire/ratewire/ingestor/eximtest"

	"github.com/ratewire/ratewire/ingestor/internal/provider"
	"github.com/ratewire/ratewire/shared/kst"
)

// eximNow is Monday 2026-11-23 12:00 KST, after the day's publication.
var eximNow = time.Date(2026, 11, 23, 3, 0, 0, 0, time.UTC)

func TestKoreaEximFetch(t *testing.T) {
	var got url.Values
	var path string
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		got, path = r.URL.Query(), r.URL.Path
		// The live API labels its JSON text/html; the body decides.
		answer(http.StatusOK, "text/html;charset=UTF-8", sample(t, "koreaexim-ap01.json"))(w, r)
	})
	p := &provider.KoreaExim{Key: "auth-key", BaseURL: srv.URL, Now: clock(eximNow)}
	b, err := p.Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if path != "/site/program/financial/exchangeJSON" || got.Get("authkey") != "auth-key" || got.Get("searchdate") != "20261123" || got.Get("data") != "AP01" {
		t.Errorf("requested %s?%s, want exchangeJSON with authkey, searchdate=20261123, data=AP01", path, got.Encode())
	}
	if b.Source != "koreaexim" || !b.FetchedAt.Equal(eximNow) {
		t.Errorf("batch %q fetched %s, want koreaexim at %s", b.Source, b.FetchedAt, eximNow)
	}
	quotes := quoteByCode(t, b.Quotes)
	if _, ok := quotes["KRW"]; ok {
		t.Error("the KRW row was quoted")
	}
	if len(quotes) != 8 {
		t.Errorf("%d quotes, want the 8 foreign rows", len(quotes))
	}
	wantRate(t, quotes, "USD", "1134.5", "1145.84", "1123.15") // thousands separators
	wantRate(t, quotes, "KWD", "4551.5", "4597.02", "4505.97") // ditto, in every field
	wantRate(t, quotes, "JPY", "9.1234", "9.2146", "9.0322")   // JPY(100): exactly /100
	wantRate(t, quotes, "IDR", "0.0872", "0.0881", "0.0863")   // IDR(100)
	wantRate(t, quotes, "CNH", "194.57", "196.51", "192.62")   // CNH stays CNH
	wantRate(t, quotes, "BND", "1054.3", "", "")               // empty tts/ttb: no spread
	wantRate(t, quotes, "SEK", "121.08", "", "")               // "0" tts/ttb: no spread, not 0
	wantRate(t, quotes, "AED", "379.07", "382.86", "375.27")
	if _, ok := quotes["JPY(100)"]; ok {
		t.Error("the (100) suffix was kept in a code")
	}
	if q := quotes["JPY"]; q.Name != "일본 옌" {
		t.Errorf("JPY name %q, want cur_nm 일본 옌", q.Name)
	}
	wantAt := time.Date(2026, 11, 23, 11, 0, 0, 0, kst.Zone)
	for _, q := range b.Quotes {
		if !q.RecordedAt.Equal(wantAt) {
			t.Errorf("%s recorded_at %s, want publication time %s", q.Code, q.RecordedAt, wantAt)
		}
	}
}

func TestKoreaEximSearchDateIsKST(t *testing.T) {
	tests := []struct {
		now  time.Time
		want string
	}{
		{time.Date(2026, 11, 23, 15, 30, 0, 0, time.UTC), "20261124"}, // 00:30 KST the next day, a Tuesday
		{time.Date(2026, 11, 23, 14, 59, 0, 0, time.UTC), "20261123"}, // 23:59 KST, a Monday
	}
	for _, tt := range tests {
		var got string
		srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
			if got == "" { // the first day asked; earlier ones follow
				got = r.URL.Query().Get("searchdate")
			}
			w.Write([]byte("[]"))
		})
		p := &provider.KoreaExim{Key: "k", BaseURL: srv.URL, Now: clock(tt.now)}
		p.Fetch(context.Background())
		if got != tt.want {
			t.Errorf("at %s searchdate=%s, want %s", tt.now, got, tt.want)
		}
	}
}

func TestKoreaEximErrors(t *testing.T) {
	row := func(result string) []byte {
		return []byte(`[{"result":` + result + `,"cur_unit":null,"ttb":null,"tts":null,"deal_bas_r":null,"bkpr":null,"yy_efee_r":null,"ten_dd_efee_r":null,"kftc_bkpr":null,"kftc_deal_bas_r":null,"cur_nm":null}]`)
	}
	body := sample(t, "koreaexim-ap01.json")
	tests := []struct {
		name      string
		handler   http.HandlerFunc
		client    *http.Client
		kind      provider.ErrorKind
		retry     time.Duration
		fragments []string
	}{
		{"[] on a non-business day", answer(200, "application/json", []byte("[]")), nil, provider.NoData, 0, []string{"2026-11-23", "no data"}},
		{"[] with whitespace", answer(200, "text/html", []byte(" [ ]\r\n")), nil, provider.NoData, 0, nil},
		{"result 2 with HTTP 200", answer(200, "application/json", row("2")), nil, provider.Permanent, 0, []string{"result 2"}},
		{"result 3 with HTTP 200", answer(200, "application/json", sample(t, "koreaexim-result3.json")), nil, provider.Permanent, 0, []string{"result 3", "auth"}},
		{"result 4 with HTTP 200: until midnight KST", answer(200, "application/json", row("4")), nil, provider.RateLimited, 12 * time.Hour, []string{"result 4", "limit"}},
		{"result as a string", answer(200, "application/json", row(`"3"`)), nil, provider.Permanent, 0, []string{"result 3"}},
		{"unknown result", answer(200, "application/json", row("9")), nil, provider.Temporary, 0, []string{"result 9"}},
		{"HTML error page", answer(200, "text/html; charset=UTF-8", []byte("<script>alert('잘못된 접근입니다');</script>")), nil, provider.Temporary, 0, []string{"non-JSON", "text/html"}},
		{"redirect to an HTML page", func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/error" {
				http.Redirect(w, r, "/error", http.StatusFound)
				return
			}
			answer(200, "text/html", []byte("<html>error</html>"))(w, r)
		}, nil, provider.Temporary, 0, []string{"non-JSON", "text/html"}},
		{"429", answer(429, "", nil, "Retry-After", "60"), nil, provider.RateLimited, time.Minute, nil},
		{"502", answer(502, "text/html", []byte("<html>Bad Gateway</html>")), nil, provider.Temporary, 0, []string{"502"}},
		{"malformed number", answer(200, "application/json", []byte(`[{"result":1,"cur_unit":"USD","ttb":"1,123.15","tts":"1,145.84","deal_bas_r":"1.134,5","cur_nm":"미국 달러"}]`)), nil, provider.Temporary, 0, []string{"USD", "deal_bas_r"}},
		{"bad unit", answer(200, "application/json", []byte(`[{"result":1,"cur_unit":"JPY(7)","ttb":"1","tts":"1","deal_bas_r":"1","cur_nm":"x"}]`)), nil, provider.Temporary, 0, []string{"JPY(7)"}},
		{"zero deal_bas_r", answer(200, "application/json", []byte(`[{"result":1,"cur_unit":"USD","ttb":"","tts":"","deal_bas_r":"0","cur_nm":"미국 달러"}]`)), nil, provider.Temporary, 0, []string{"not positive"}},
		{"only the KRW row", answer(200, "application/json", []byte(`[{"result":1,"cur_unit":"KRW","ttb":"0","tts":"0","deal_bas_r":"1","cur_nm":"한국 원"}]`)), nil, provider.Temporary, 0, []string{"no foreign-currency rows"}},
		{"an object, not an array", answer(200, "application/json", []byte(`{"result":1}`)), nil, provider.Temporary, 0, []string{"malformed"}},
		{"truncated JSON", answer(200, "application/json", body[:len(body)/3]), nil, provider.Temporary, 0, []string{"malformed"}},
		{"connection cut mid-body", truncated(body), nil, provider.Temporary, 0, []string{"read body"}},
		{"timeout", sleepy, shortClient(), provider.Temporary, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := serve(t, tt.handler)
			p := &provider.KoreaExim{Key: "k", BaseURL: srv.URL, Client: tt.client, Now: clock(eximNow)}
			_, err := p.Fetch(context.Background())
			wantFailure(t, err, "koreaexim", tt.kind, tt.fragments...)
			if _, retry := provider.Classify(err); retry != tt.retry {
				t.Errorf("retry after %s, want %s", retry, tt.retry)
			}
			if noData := errors.Is(err, provider.ErrNoData); noData != (tt.kind == provider.NoData) {
				t.Errorf("errors.Is(err, ErrNoData) = %v for a %s error", noData, tt.kind)
			}
		})
	}
}

// TestKoreaEximRedactsKey: the authkey travels in the query string.
func TestKoreaEximRedactsKey(t *testing.T) {
	const key = "AbC123&x=y%z"
	echo := func(status int) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(status)
			w.Write([]byte("<p>bad request " + r.URL.RawQuery + " key=" + r.URL.Query().Get("authkey") + "</p>"))
		}
	}
	closed := serve(t, echo(200))
	closedURL := closed.URL
	closed.Close()
	for _, tt := range []struct {
		name    string
		base    string
		handler http.HandlerFunc
		client  *http.Client
	}{
		{"connection refused", closedURL, nil, nil},
		{"timeout", "", sleepy, shortClient()},
		{"HTML echo", "", echo(200), nil},
		{"500 echo", "", echo(500), nil},
		{"redirect echo", "", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Location", "/login/"+url.PathEscape(r.URL.Query().Get("authkey"))+"?return="+url.QueryEscape(r.URL.String()))
			w.WriteHeader(http.StatusFound)
		}, &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			base := tt.base
			if tt.handler != nil {
				base = serve(t, tt.handler).URL
			}
			p := &provider.KoreaExim{Key: key, BaseURL: base, Client: tt.client, Now: clock(eximNow)}
			_, err := p.Fetch(context.Background())
			wantFailure(t, err, "koreaexim", provider.Temporary, "REDACTED")
			for _, form := range []string{key, url.QueryEscape(key), url.QueryEscape(url.QueryEscape(key)), "AbC123"} {
				if strings.Contains(err.Error(), form) {
					t.Errorf("error %q leaks the key as %q", err, form)
				}
			}
		})
	}
}

func TestKoreaEximFetchRange(t *testing.T) {
	// Thu 19 and Mon 23 publish, Fri 20 is a holiday ([]), 21-22 are a
	// weekend and must not be requested at all.
	var mu sync.Mutex
	var asked []string
	var inFlight, maxInFlight atomic.Int32
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := maxInFlight.Load(); n > m && !maxInFlight.CompareAndSwap(m, n); m = maxInFlight.Load() {
		}
		time.Sleep(5 * time.Millisecond) // let requests overlap if they can
		d := r.URL.Query().Get("searchdate")
		mu.Lock()
		asked = append(asked, d)
		mu.Unlock()
		if d == "20261120" {
			w.Write([]byte("[]"))
			return
		}
		w.Write(sample(t, "koreaexim-ap01.json"))
	})
	p := &provider.KoreaExim{Key: "k", BaseURL: srv.URL, Now: clock(eximNow), Concurrency: 5}
	from := time.Date(2026, 11, 19, 0, 0, 0, 0, kst.Zone)
	batches, err := p.FetchRange(context.Background(), from, eximNow.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(asked) != 3 {
		t.Errorf("requested %v, want 20261119, 20261120 and 20261123 only", asked)
	}
	if m := maxInFlight.Load(); m > 2 {
		t.Errorf("%d requests in flight, want at most 2", m)
	}
	want := []time.Time{time.Date(2026, 11, 19, 11, 0, 0, 0, kst.Zone), time.Date(2026, 11, 23, 11, 0, 0, 0, kst.Zone)}
	if len(batches) != len(want) {
		t.Fatalf("%d batches, want %d (the holiday skipped)", len(batches), len(want))
	}
	for i, b := range batches {
		if got := b.Quotes[0].RecordedAt; !got.Equal(want[i]) || b.Source != "koreaexim" {
			t.Errorf("batch %d from %s recorded %s, want koreaexim at %s", i, b.Source, got, want[i])
		}
	}
}

func TestKoreaEximFetchRangeStopsOnError(t *testing.T) {
	var calls atomic.Int32
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.URL.Query().Get("searchdate") == "20261118" {
			w.Write([]byte(`[{"result":4}]`))
			return
		}
		w.Write(sample(t, "koreaexim-ap01.json"))
	})
	p := &provider.KoreaExim{Key: "k", BaseURL: srv.URL, Now: clock(eximNow), Delay: time.Millisecond}
	from := time.Date(2026, 11, 16, 0, 0, 0, 0, kst.Zone) // Mon 16 .. Mon 23: 6 weekdays
	batches, err := p.FetchRange(context.Background(), from, eximNow)
	wantFailure(t, err, "koreaexim", provider.RateLimited, "2026-11-18")
	if len(batches) != 2 || calls.Load() != 3 {
		t.Errorf("%d batches after %d requests, want the 2 days before the limit and no request after it", len(batches), calls.Load())
	}
}

// TestKoreaEximLatestAtAnyHour runs Fetch at fixed instants against a bank
// that answers as the real one does: the latest rates are those of the
// most recent day that answers rows, recorded at that day's publication
// or at the fetch time if earlier, never in the future.
func TestKoreaEximLatestAtAnyHour(t *testing.T) {
	inKST := func(y int, m time.Month, d, h, min, s int) time.Time {
		return time.Date(y, m, d, h, min, s, 0, kst.Zone)
	}
	// Wed 23 - Fri 25 September 2026 are a three-day holiday; 31 December
	// and 1 January are bank holidays.
	holidays := []string{"2026-09-23", "2026-09-24", "2026-09-25", "2026-12-31", "2027-01-01"}
	tests := []struct {
		name     string
		now      time.Time
		wantDay  string
		wantAt   time.Time
		wantAsks int // requests made (weekends are not asked)
	}{
		{"weekday 00:30", inKST(2026, 11, 25, 0, 30, 0), "2026-11-24", inKST(2026, 11, 24, 11, 0, 0), 2},
		{"weekday 10:59", inKST(2026, 11, 25, 10, 59, 0), "2026-11-24", inKST(2026, 11, 24, 11, 0, 0), 2},
		{"weekday 11:01", inKST(2026, 11, 25, 11, 1, 0), "2026-11-25", inKST(2026, 11, 25, 11, 0, 0), 1},
		{"weekday 23:59", inKST(2026, 11, 25, 23, 59, 0), "2026-11-25", inKST(2026, 11, 25, 11, 0, 0), 1},
		{"Saturday", inKST(2026, 11, 28, 12, 0, 0), "2026-11-27", inKST(2026, 11, 27, 11, 0, 0), 1},
		{"Monday 09:00", inKST(2026, 11, 30, 9, 0, 0), "2026-11-27", inKST(2026, 11, 27, 11, 0, 0), 2},
		{"Monday 09:00 after a three-day holiday", inKST(2026, 9, 28, 9, 0, 0), "2026-09-22", inKST(2026, 9, 22, 11, 0, 0), 5},
		{"31 December 23:59:59", inKST(2026, 12, 31, 23, 59, 59), "2026-12-30", inKST(2026, 12, 30, 11, 0, 0), 2},
		{"1 January 00:00:01", inKST(2027, 1, 1, 0, 0, 1), "2026-12-30", inKST(2026, 12, 30, 11, 0, 0), 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bank := eximtest.New("k", clock(tt.now), holidays...)
			srv := serve(t, bank.ServeHTTP)
			p := &provider.KoreaExim{Key: "k", BaseURL: srv.URL, Now: clock(tt.now)}
			b, err := p.Fetch(context.Background())
			if err != nil {
				t.Fatalf("Fetch at %s: %v", tt.now, err)
			}
			if !b.Daily || len(b.Quotes) != len(eximtest.Codes) {
				t.Fatalf("batch daily=%v with %d quotes, want a daily batch of %d", b.Daily, len(b.Quotes), len(eximtest.Codes))
			}
			for _, q := range b.Quotes {
				want := bank.Quote(tt.wantDay, q.Code)
				if q.RateDate != tt.wantDay || !q.RecordedAt.Equal(tt.wantAt) || q.RecordedAt.After(tt.now) {
					t.Errorf("%s belongs to %q recorded %s, want %s recorded %s", q.Code, q.RateDate, q.RecordedAt, tt.wantDay, tt.wantAt)
				}
				if !q.DealBaseRate.Equal(want.DealBaseRate) || !eqDec(q.TTS, want.TTS) || !eqDec(q.TTB, want.TTB) {
					t.Errorf("%s = %s tts %v ttb %v, want %s's %s tts %v ttb %v", q.Code, q.DealBaseRate, q.TTS, q.TTB,
						tt.wantDay, want.DealBaseRate, want.TTS, want.TTB)
				}
			}
			if asked := bank.Asked(); len(asked) != tt.wantAsks || asked[len(asked)-1] != tt.wantDay {
				t.Errorf("asked %v, want %d requests ending with %s", asked, tt.wantAsks, tt.wantDay)
			}
		})
	}
}

// TestKoreaEximEarlyPublication: rows for today before 11:00 KST are
// recorded at the fetch time, not in the future.
func TestKoreaEximEarlyPublication(t *testing.T) {
	now := time.Date(2026, 11, 25, 10, 30, 0, 0, kst.Zone)
	srv := serve(t, answer(200, "text/html", sample(t, "koreaexim-ap01.json")))
	p := &provider.KoreaExim{Key: "k", BaseURL: srv.URL, Now: clock(now)}
	b, err := p.Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if q := b.Quotes[0]; !q.RecordedAt.Equal(now) || q.RateDate != "2026-11-25" {
		t.Errorf("early rows recorded %s for %q, want %s for 2026-11-25", q.RecordedAt, q.RateDate, now)
	}
}

// TestKoreaEximNothingFor10Days: a bank silent for the whole lookback is
// no data, not an error, after at most KoreaEximLookback days.
func TestKoreaEximNothingFor10Days(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, kst.Zone)
	var days []string
	for d := range provider.KoreaEximLookback {
		days = append(days, now.AddDate(0, 0, -d).Format(time.DateOnly))
	}
	bank := eximtest.New("k", clock(now), days...)
	srv := serve(t, bank.ServeHTTP)
	p := &provider.KoreaExim{Key: "k", BaseURL: srv.URL, Now: clock(now)}
	_, err := p.Fetch(context.Background())
	wantFailure(t, err, "koreaexim", provider.NoData, "2026-11-25", "2026-11-16")
	if n := len(bank.Asked()); n != 8 { // 10 days, two of them a weekend
		t.Errorf("%d requests, want 8", n)
	}
}

func eqDec(a, b *decimal.Decimal) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Equal(*b)
}
