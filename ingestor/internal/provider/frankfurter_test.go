package provider_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/ratewire/ratewire/ingestor/internal/provider"
)

var frankNow = time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC)

func TestFrankfurterFetch(t *testing.T) {
	var got string
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		got = r.URL.RequestURI()
		answer(200, "application/json", sample(t, "frankfurter-latest.json"))(w, r)
	})
	p := &provider.Frankfurter{BaseURL: srv.URL + "/", Now: clock(frankNow)}
	b, err := p.Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got != "/v1/latest?base=EUR" {
		t.Errorf("requested %s, want /v1/latest?base=EUR", got)
	}
	if b.Source != "frankfurter" || !b.FetchedAt.Equal(frankNow) {
		t.Errorf("batch %q fetched %s, want frankfurter at %s", b.Source, b.FetchedAt, frankNow)
	}
	quotes := quoteByCode(t, b.Quotes)
	// KRW per unit = KRW per EUR / units per EUR, to the fewer significant
	// digits of the two (1695.87 has 6).
	wantRate(t, quotes, "USD", "1471.7", "", "")    // 1695.87/1.1523 = 1471.71830...: 5 digits
	wantRate(t, quotes, "EUR", "1695.87", "", "")   // the base itself: KRW per EUR as published
	wantRate(t, quotes, "JPY", "9.3400", "", "")    // 1695.87/181.57 = 9.33998...: 5 digits round up
	wantRate(t, quotes, "AUD", "950.44", "", "")    // 1695.87/1.7843 = 950.44219...
	wantRate(t, quotes, "GBP", "1926", "", "")      // 1695.87/0.8804 = 1926.24943...: 4 digits
	wantRate(t, quotes, "IDR", "0.0879991", "", "") // 1695.87/19271.45 = 0.087999138...: 6 digits
	wantRate(t, quotes, "HUF", "4.4123", "", "")    // 1695.87/384.35 = 4.4123065...: 5 digits
	if len(b.Quotes) != 29 {
		t.Errorf("%d quotes, want the 28 currencies besides KRW and EUR itself", len(b.Quotes))
	}
	wantAt := time.Date(2026, 11, 20, 15, 0, 0, 0, time.UTC)
	for _, q := range b.Quotes {
		if !q.RecordedAt.Equal(wantAt) || q.RateDate != "2026-11-20" {
			t.Errorf("%s recorded_at %s for %q, want the ECB date 2026-11-20 at 15:00 UTC %s", q.Code, q.RecordedAt, q.RateDate, wantAt)
		}
	}
}

func TestFrankfurterAmount(t *testing.T) {
	// An amount other than 1 means the rates are for that many EUR; the
	// amount is exact and limits no precision.
	quotes, err := provider.ParseFrankfurterLatest([]byte(`{"amount":1000,"base":"EUR","date":"2026-11-20","rates":{"USD":1152.3,"KRW":1695870}}`))
	if err != nil {
		t.Fatal(err)
	}
	wantRate(t, quoteByCode(t, quotes), "USD", "1471.7", "", "")
	wantRate(t, quoteByCode(t, quotes), "EUR", "1695.87", "", "")
}

func TestFrankfurterErrors(t *testing.T) {
	body := sample(t, "frankfurter-latest.json")
	tests := []struct {
		name      string
		handler   http.HandlerFunc
		client    *http.Client
		kind      provider.ErrorKind
		retry     time.Duration
		fragments []string
	}{
		{"404 not found", answer(404, "application/json", []byte(`{"message":"not found"}`)), nil, provider.Permanent, 0, []string{"404", "not found"}},
		{"422", answer(422, "application/json", []byte(`{"message":"invalid base currency"}`)), nil, provider.Permanent, 0, []string{"422", "invalid base"}},
		{"404 from a proxy", answer(404, "text/html", []byte(`<html>404</html>`)), nil, provider.Permanent, 0, []string{"404"}},
		{"429 Retry-After", answer(429, "", nil, "Retry-After", "120"), nil, provider.RateLimited, 2 * time.Minute, nil},
		{"500", answer(500, "text/plain", []byte("boom")), nil, provider.Temporary, 0, []string{"500"}},
		{"another base than asked", answer(200, "application/json", []byte(`{"amount":1.0,"base":"KRW","date":"2026-11-20","rates":{"USD":0.00072}}`)), nil, provider.Permanent, 0, []string{"base", "KRW", "RATEWIRE_FRANKFURTER_URL"}},
		{"bad date", answer(200, "application/json", []byte(`{"amount":1.0,"base":"EUR","date":"20/11/2026","rates":{"USD":1.1523,"KRW":1695.87}}`)), nil, provider.Temporary, 0, []string{"date"}},
		{"negative rate", answer(200, "application/json", []byte(`{"amount":1.0,"base":"EUR","date":"2026-11-20","rates":{"USD":-1.1523,"KRW":1695.87}}`)), nil, provider.Temporary, 0, []string{"USD", "not positive"}},
		{"zero KRW", answer(200, "application/json", []byte(`{"amount":1.0,"base":"EUR","date":"2026-11-20","rates":{"USD":1.1523,"KRW":0}}`)), nil, provider.Temporary, 0, []string{"KRW", "not positive"}},
		{"absurd exponent", answer(200, "application/json", []byte(`{"amount":1.0,"base":"EUR","date":"2026-11-20","rates":{"USD":1e-50,"KRW":1695.87}}`)), nil, provider.Temporary, 0, []string{"out of range"}},
		{"no KRW to cross through", answer(200, "application/json", []byte(`{"amount":1.0,"base":"EUR","date":"2026-11-20","rates":{"USD":1.1523}}`)), nil, provider.Temporary, 0, []string{"no KRW"}},
		{"empty rates", answer(200, "application/json", []byte(`{"amount":1.0,"base":"EUR","date":"2026-11-20","rates":{}}`)), nil, provider.Temporary, 0, []string{"no KRW"}},
		{"truncated JSON", answer(200, "application/json", body[:len(body)-10]), nil, provider.Temporary, 0, []string{"malformed"}},
		{"connection cut mid-body", truncated(body), nil, provider.Temporary, 0, []string{"read body"}},
		{"plain text", answer(200, "text/plain", []byte("ok")), nil, provider.Temporary, 0, []string{"text/plain"}},
		{"timeout", sleepy, shortClient(), provider.Temporary, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := serve(t, tt.handler)
			p := &provider.Frankfurter{BaseURL: srv.URL, Client: tt.client, Now: clock(frankNow)}
			_, err := p.Fetch(context.Background())
			wantFailure(t, err, "frankfurter", tt.kind, tt.fragments...)
			if _, retry := provider.Classify(err); retry != tt.retry {
				t.Errorf("retry after %s, want %s", retry, tt.retry)
			}
		})
	}
}

func TestFrankfurterFetchRange(t *testing.T) {
	var got string
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		got = r.URL.RequestURI()
		answer(200, "application/json", sample(t, "frankfurter-series.json"))(w, r)
	})
	p := &provider.Frankfurter{BaseURL: srv.URL, Now: clock(frankNow)}
	tests := []struct {
		name     string
		from, to time.Time
		wantURI  string
		want     []string // dates of the batches
	}{
		{"whole series", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 1, 6, 23, 0, 0, 0, time.UTC),
			"/v1/2026-01-01..2026-01-06?base=EUR", []string{"2026-01-02", "2026-01-05", "2026-01-06"}},
		{"days outside [from, to] dropped", time.Date(2026, 1, 3, 0, 0, 0, 0, time.UTC), time.Date(2026, 1, 6, 12, 0, 0, 0, time.UTC),
			"/v1/2026-01-03..2026-01-06?base=EUR", []string{"2026-01-05"}}, // 01-06 15:00 is after to
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			batches, err := p.FetchRange(context.Background(), tt.from, tt.to)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.wantURI {
				t.Errorf("requested %s, want %s", got, tt.wantURI)
			}
			if len(batches) != len(tt.want) {
				t.Fatalf("%d batches, want %d (%v)", len(batches), len(tt.want), tt.want)
			}
			for i, b := range batches {
				wantAt, _ := time.Parse(time.DateOnly, tt.want[i])
				wantAt = wantAt.Add(15 * time.Hour)
				for _, q := range b.Quotes {
					if !q.RecordedAt.Equal(wantAt) || q.TTS != nil || q.TTB != nil {
						t.Errorf("batch %d %s recorded %s (tts %v ttb %v), want %s with no spread", i, q.Code, q.RecordedAt, q.TTS, q.TTB, wantAt)
					}
				}
			}
		})
	}
	// Per-day crosses: 2026-01-05 KRW 1690.1 (5 digits) / USD 1.1705.
	batches, _ := p.FetchRange(context.Background(), time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC), time.Date(2026, 1, 5, 23, 0, 0, 0, time.UTC))
	if len(batches) != 1 {
		t.Fatalf("%d batches for one day, want 1", len(batches))
	}
	wantRate(t, quoteByCode(t, batches[0].Quotes), "USD", "1443.9", "", "") // 1443.8957...
	wantRate(t, quoteByCode(t, batches[0].Quotes), "EUR", "1690.1", "", "")
	wantRate(t, quoteByCode(t, batches[0].Quotes), "JPY", "9.225", "", "") // 1690.1/183.2 = 9.22543...: 4 digits
}

func TestFrankfurterFetchRangeError(t *testing.T) {
	srv := serve(t, answer(404, "application/json", []byte(`{"message":"not found"}`)))
	p := &provider.Frankfurter{BaseURL: srv.URL, Now: clock(frankNow)}
	_, err := p.FetchRange(context.Background(), time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1990, 2, 1, 0, 0, 0, 0, time.UTC))
	wantFailure(t, err, "frankfurter", provider.Permanent, "not found")
}

// TestCrossPrecision pins the precision rule (DESIGN.md §5): a cross is
// rounded, half away from zero, to the fewer significant digits of its
// inputs, counting the digits as written.
func TestCrossPrecision(t *testing.T) {
	tests := []struct{ krw, units, want string }{
		{"1695.87", "1.1523", "1471.7"},            // 6 and 5 digits: 1471.71830...
		{"1466.123456", "0.306847", "4778.03"},     // 10 and 6
		{"1466.123456", "0.376", "3900"},           // 3 digits: 3899.26... (not 3899.2645...)
		{"1466.1235", "16698.1456", "0.087801576"}, // a currency worth less than a won
		{"1000", "0.00072", "1400000"},             // 2 digits: 1388888.8... is 1.4e6, not 1388888.8889
		{"1.5", "2", "0.8"},                        // 1 digit: 0.75 rounds half away from zero
		{"2.5", "1", "3"},                          // 1 digit each: exact ties round up
		{"100", "3", "30"},                         // 1 digit: 33.3...
		{"1690.10", "1.1705", "1443.9"},            // a written trailing zero counts: 6 and 5
	}
	for _, tt := range tests {
		got, err := provider.Cross(dec(t, tt.krw), dec(t, tt.units))
		if err != nil {
			t.Fatalf("cross(%s, %s): %v", tt.krw, tt.units, err)
		}
		if !got.Equal(dec(t, tt.want)) {
			t.Errorf("cross(%s, %s) = %s, want %s", tt.krw, tt.units, got, tt.want)
		}
	}
	if _, err := provider.Cross(dec(t, "0"), dec(t, "1.2")); err == nil {
		t.Error("cross of a zero KRW rate gave no error")
	}
}
