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

	"github.com/ratewire/ratewire/ingestor/internal/provider"
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
	wantAt := time.Date(2026, 11, 23, 11, 0, 0, 0, provider.KST)
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
		{time.Date(2026, 11, 22, 15, 30, 0, 0, time.UTC), "20261123"}, // 00:30 KST the next day
		{time.Date(2026, 11, 22, 14, 59, 0, 0, time.UTC), "20261122"}, // 23:59 KST
	}
	for _, tt := range tests {
		var got string
		srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
			got = r.URL.Query().Get("searchdate")
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
		{"[] on a non-business day", answer(200, "application/json", []byte("[]")), nil, provider.NoData, 0, []string{"20261123", "no data"}},
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
	from := time.Date(2026, 11, 19, 0, 0, 0, 0, provider.KST)
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
	want := []time.Time{time.Date(2026, 11, 19, 11, 0, 0, 0, provider.KST), time.Date(2026, 11, 23, 11, 0, 0, 0, provider.KST)}
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
	from := time.Date(2026, 11, 16, 0, 0, 0, 0, provider.KST) // Mon 16 .. Mon 23: 6 weekdays
	batches, err := p.FetchRange(context.Background(), from, eximNow)
	wantFailure(t, err, "koreaexim", provider.RateLimited, "2026-11-18")
	if len(batches) != 2 || calls.Load() != 3 {
		t.Errorf("%d batches after %d requests, want the 2 days before the limit and no request after it", len(batches), calls.Load())
	}
}
