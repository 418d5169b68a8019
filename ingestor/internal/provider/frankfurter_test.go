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
	if got != "/v1/latest?base=KRW" {
		t.Errorf("requested %s, want /v1/latest?base=KRW", got)
	}
	if b.Source != "frankfurter" || !b.FetchedAt.Equal(frankNow) {
		t.Errorf("batch %q fetched %s, want frankfurter at %s", b.Source, b.FetchedAt, frankNow)
	}
	quotes := quoteByCode(t, b.Quotes)
	wantRate(t, quotes, "USD", "1408.4507042254", "", "") // 1/0.00071
	wantRate(t, quotes, "EUR", "1538.4615384615", "", "") // 1/0.00065
	wantRate(t, quotes, "JPY", "9.2686996014", "", "")    // 1/0.10789
	wantRate(t, quotes, "AUD", "952.380952381", "", "")   // 1/0.00105 = 952.38095238095...: rounds up
	wantAt := time.Date(2026, 11, 20, 15, 0, 0, 0, time.UTC)
	for _, q := range b.Quotes {
		if !q.RecordedAt.Equal(wantAt) || q.RateDate != "2026-11-20" {
			t.Errorf("%s recorded_at %s for %q, want the ECB date 2026-11-20 at 15:00 UTC %s", q.Code, q.RecordedAt, q.RateDate, wantAt)
		}
	}
}

func TestFrankfurterAmount(t *testing.T) {
	// An amount other than 1 means the rates are for that many KRW.
	quotes, err := provider.ParseFrankfurterLatest([]byte(`{"amount":1000,"base":"KRW","date":"2026-11-20","rates":{"USD":0.71}}`))
	if err != nil {
		t.Fatal(err)
	}
	wantRate(t, quoteByCode(t, quotes), "USD", "1408.4507042254", "", "")
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
		{"wrong base", answer(200, "application/json", []byte(`{"amount":1.0,"base":"EUR","date":"2026-11-20","rates":{"USD":1.05}}`)), nil, provider.Temporary, 0, []string{"base"}},
		{"bad date", answer(200, "application/json", []byte(`{"amount":1.0,"base":"KRW","date":"20/11/2026","rates":{"USD":0.0007}}`)), nil, provider.Temporary, 0, []string{"date"}},
		{"negative rate", answer(200, "application/json", []byte(`{"amount":1.0,"base":"KRW","date":"2026-11-20","rates":{"USD":-0.0007}}`)), nil, provider.Temporary, 0, []string{"USD", "not positive"}},
		{"absurd exponent", answer(200, "application/json", []byte(`{"amount":1.0,"base":"KRW","date":"2026-11-20","rates":{"USD":1e-50}}`)), nil, provider.Temporary, 0, []string{"out of range"}},
		{"empty rates", answer(200, "application/json", []byte(`{"amount":1.0,"base":"KRW","date":"2026-11-20","rates":{}}`)), nil, provider.Temporary, 0, []string{"no rates"}},
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
			"/v1/2026-01-01..2026-01-06?base=KRW", []string{"2026-01-02", "2026-01-05", "2026-01-06"}},
		{"days outside [from, to] dropped", time.Date(2026, 1, 3, 0, 0, 0, 0, time.UTC), time.Date(2026, 1, 6, 12, 0, 0, 0, time.UTC),
			"/v1/2026-01-03..2026-01-06?base=KRW", []string{"2026-01-05"}}, // 01-06 15:00 is after to
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
	// Exact per-day values: 2026-01-05 USD 1/0.000705.
	batches, _ := p.FetchRange(context.Background(), time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC), time.Date(2026, 1, 5, 23, 0, 0, 0, time.UTC))
	if len(batches) != 1 {
		t.Fatalf("%d batches for one day, want 1", len(batches))
	}
	wantRate(t, quoteByCode(t, batches[0].Quotes), "USD", "1418.4397163121", "", "")
	wantRate(t, quoteByCode(t, batches[0].Quotes), "EUR", "1666.6666666667", "", "")
}

func TestFrankfurterFetchRangeError(t *testing.T) {
	srv := serve(t, answer(404, "application/json", []byte(`{"message":"not found"}`)))
	p := &provider.Frankfurter{BaseURL: srv.URL, Now: clock(frankNow)}
	_, err := p.FetchRange(context.Background(), time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1990, 2, 1, 0, 0, 0, 0, time.UTC))
	wantFailure(t, err, "frankfurter", provider.Permanent, "not found")
}
