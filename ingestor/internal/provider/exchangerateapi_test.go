package provider_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ratewire/ratewire/ingestor/internal/provider"
)

var erNow = time.Date(2025, 11, 20, 3, 0, 0, 0, time.UTC)

func TestExchangeRateAPISuccess(t *testing.T) {
	tests := []struct {
		name, key, sample, wantPath string
		want                        map[string]string // code -> mid
		wantRecorded                int64
	}{
		{
			// The keyed answer carries 4 decimals: KRW 1466.1235 has 8
			// significant digits, KWD 0.3068 only 4.
			name: "keyed v6", key: "k3y", sample: "exchangerate-api-keyed.json", wantPath: "/v6/k3y/latest/USD",
			want: map[string]string{
				"USD": "1466.1235",   // the base itself: KRW per USD as published
				"KWD": "4779",        // 1466.1235/0.3068 = 4778.75977...: 4 digits
				"JPY": "9.345718",    // 1466.1235/156.8765 = 9.3457178...: 7 digits
				"IDR": "0.087801576", // 1466.1235/16698.1456 = 0.08780157646...: 8 digits
				"EUR": "1698",        // 1466.1235/0.8634 = 1698.0814...
				"AED": "399.22",      // 1466.1235/3.6725 = 399.21675...
			},
			wantRecorded: 1763596801,
		},
		{
			// The open answer carries 6 decimals.
			name: "keyless open access", sample: "exchangerate-api-open.json", wantPath: "/v6/latest/USD",
			want: map[string]string{
				"USD": "1466.123456",
				"KWD": "4778.03",       // 1466.123456/0.306847 = 4778.0323...: 6 digits
				"OMR": "3813.09",       // 1466.123456/0.384497 = 3813.0894...
				"BHD": "3900",          // 1466.123456/0.376 = 3899.26...: BHD has 3 digits
				"JPY": "9.34571497",    // 9 digits
				"IRR": "0.03481447489", // 1466.123456/42112.467891
				"CNY": "205.9702",
			},
			wantRecorded: 1763596951,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var gotPath string
			srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
				gotPath = r.URL.Path
				answer(http.StatusOK, "application/json", sample(t, tt.sample))(w, r)
			})
			p := &provider.ExchangeRateAPI{Key: tt.key, BaseURL: srv.URL, Now: clock(erNow)}
			b, err := p.Fetch(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if gotPath != tt.wantPath {
				t.Errorf("requested %s, want %s", gotPath, tt.wantPath)
			}
			if b.Source != "exchangerate-api" || !b.FetchedAt.Equal(erNow) {
				t.Errorf("batch source %q fetched %s, want exchangerate-api at %s", b.Source, b.FetchedAt, erNow)
			}
			quotes := quoteByCode(t, b.Quotes)
			if _, ok := quotes["KRW"]; ok {
				t.Error("KRW itself was quoted")
			}
			for code, mid := range tt.want {
				wantRate(t, quotes, code, mid, "", "") // no spread: never invented
			}
			for _, q := range b.Quotes {
				if !q.RecordedAt.Equal(time.Unix(tt.wantRecorded, 0)) {
					t.Errorf("%s recorded_at %s, want time_last_update_unix %d", q.Code, q.RecordedAt, tt.wantRecorded)
				}
			}
			if q := quotes["USD"]; q.Name != "미국 달러" {
				t.Errorf("USD name %q, want 미국 달러", q.Name)
			}
		})
	}
}

func TestExchangeRateAPIErrors(t *testing.T) {
	errBody := func(kind string) []byte {
		return []byte(`{"result":"error","documentation":"https://www.exchangerate-api.com/docs","terms-of-use":"https://www.exchangerate-api.com/terms","error-type":"` + kind + `"}`)
	}
	keyed := sample(t, "exchangerate-api-keyed.json")
	tests := []struct {
		name      string
		handler   http.HandlerFunc
		client    *http.Client
		kind      provider.ErrorKind
		retry     time.Duration
		status    int
		fragments []string
	}{
		{"invalid-key with HTTP 200", answer(200, "application/json", errBody("invalid-key")), nil, provider.Permanent, 0, 200, []string{"invalid-key"}},
		{"invalid-key with HTTP 403", answer(403, "application/json", errBody("invalid-key")), nil, provider.Permanent, 0, 403, []string{"invalid-key"}},
		{"inactive-account", answer(200, "application/json", errBody("inactive-account")), nil, provider.Permanent, 0, 200, []string{"inactive-account"}},
		{"unsupported-code with 404", answer(404, "application/json", errBody("unsupported-code")), nil, provider.Permanent, 0, 404, []string{"unsupported-code"}},
		{"malformed-request with 400", answer(400, "application/json", errBody("malformed-request")), nil, provider.Permanent, 0, 400, []string{"malformed-request"}},
		{"quota-reached", answer(200, "application/json", errBody("quota-reached")), nil, provider.RateLimited, provider.DefaultQuotaRetryAfter, 200, []string{"quota-reached"}},
		{"unknown error-type", answer(200, "application/json", errBody("something-new")), nil, provider.Temporary, 0, 200, []string{"something-new"}},
		{"429 Retry-After seconds", answer(429, "application/json", errBody("quota-reached"), "Retry-After", "30"), nil, provider.RateLimited, 30 * time.Second, 429, []string{"429"}},
		{"429 Retry-After HTTP-date", answer(429, "text/plain", []byte("slow down"), "Retry-After", erNow.Add(2*time.Minute).Format(http.TimeFormat)), nil, provider.RateLimited, 2 * time.Minute, 429, []string{"slow down"}},
		{"429 without Retry-After", answer(429, "", nil), nil, provider.RateLimited, 20 * time.Minute, 429, nil},
		{"429 with a past Retry-After", answer(429, "", nil, "Retry-After", "0"), nil, provider.RateLimited, 20 * time.Minute, 429, nil},
		{"500", answer(500, "text/plain", []byte("internal error")), nil, provider.Temporary, 0, 500, []string{"internal error"}},
		{"503 Retry-After", answer(503, "text/html", []byte("<html>maintenance</html>"), "Retry-After", "5"), nil, provider.Temporary, 5 * time.Second, 503, nil},
		{"HTML page with 200", answer(200, "text/html; charset=utf-8", []byte("<!DOCTYPE html><html>Cloudflare</html>")), nil, provider.Temporary, 0, 200, []string{"non-JSON", "text/html"}},
		{"empty body", answer(200, "application/json", nil), nil, provider.Temporary, 0, 200, []string{"empty body"}},
		{"malformed JSON", answer(200, "application/json", []byte(`{"result":"success","conversion_rates":{"USD":}}`)), nil, provider.Temporary, 0, 200, []string{"malformed"}},
		{"truncated JSON", answer(200, "application/json", keyed[:len(keyed)-40]), nil, provider.Temporary, 0, 200, []string{"malformed"}},
		{"connection cut mid-body", truncated(keyed), nil, provider.Temporary, 0, 200, []string{"read body"}},
		{"rate given as a string", answer(200, "application/json", []byte(`{"result":"success","base_code":"USD","time_last_update_unix":1,"conversion_rates":{"KRW":1466.1235,"JPY":"x"}}`)), nil, provider.Temporary, 0, 200, []string{"malformed"}},
		{"zero rate", answer(200, "application/json", []byte(`{"result":"success","base_code":"USD","time_last_update_unix":1,"conversion_rates":{"KRW":1466.1235,"JPY":0}}`)), nil, provider.Temporary, 0, 200, []string{"JPY", "not positive"}},
		{"another base than asked", answer(200, "application/json", []byte(`{"result":"success","base_code":"KRW","time_last_update_unix":1,"conversion_rates":{"USD":0.000716}}`)), nil, provider.Permanent, 0, 200, []string{"base_code", "KRW", "RATEWIRE_EXCHANGERATE_API_URL"}},
		{"no timestamp", answer(200, "application/json", []byte(`{"result":"success","base_code":"USD","conversion_rates":{"KRW":1466.1235}}`)), nil, provider.Temporary, 0, 200, []string{"time_last_update_unix"}},
		{"no KRW to cross through", answer(200, "application/json", []byte(`{"result":"success","base_code":"USD","time_last_update_unix":1,"conversion_rates":{"USD":1,"JPY":156.8765}}`)), nil, provider.Temporary, 0, 200, []string{"no KRW"}},
		{"timeout", sleepy, shortClient(), provider.Temporary, 0, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := serve(t, tt.handler)
			p := &provider.ExchangeRateAPI{Key: "k3y", BaseURL: srv.URL, Client: tt.client, Now: clock(erNow)}
			_, err := p.Fetch(context.Background())
			pe := wantFailure(t, err, "exchangerate-api", tt.kind, tt.fragments...)
			if _, retry := provider.Classify(err); retry != tt.retry {
				t.Errorf("retry after %s, want %s", retry, tt.retry)
			}
			if pe.Status != tt.status {
				t.Errorf("status %d, want %d", pe.Status, tt.status)
			}
		})
	}
}

// TestExchangeRateAPIRedactsKey checks that the key, which travels in the
// URL path, appears in no error message, whichever way the fetch fails.
func TestExchangeRateAPIRedactsKey(t *testing.T) {
	const key = "sEcr3t+key/42"
	echo := func(status int, contentType string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", contentType)
			w.WriteHeader(status)
			w.Write([]byte("request for " + r.URL.String() + " and " + r.URL.Path + " failed"))
		}
	}
	closed := serve(t, echo(200, "text/plain"))
	closedURL := closed.URL
	closed.Close()
	tests := []struct {
		name    string
		baseURL string
		handler http.HandlerFunc
		client  *http.Client
	}{
		{"connection refused", closedURL, nil, nil},
		{"timeout", "", sleepy, shortClient()},
		{"HTML page echoing the URL", "", echo(200, "text/html"), nil},
		{"5xx echoing the URL", "", echo(502, "text/plain"), nil},
		{"redirect loop", "", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, r.URL.String(), http.StatusFound) }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := tt.baseURL
			if tt.handler != nil {
				base = serve(t, tt.handler).URL
			}
			p := &provider.ExchangeRateAPI{Key: key, BaseURL: base, Client: tt.client, Now: clock(erNow)}
			_, err := p.Fetch(context.Background())
			wantFailure(t, err, "exchangerate-api", provider.Temporary)
			for _, form := range []string{key, url.PathEscape(key), url.QueryEscape(key), "sEcr3t"} {
				if strings.Contains(err.Error(), form) {
					t.Errorf("error %q leaks the key as %q", err, form)
				}
			}
			if !strings.Contains(err.Error(), "REDACTED") { // the URL is still named, without its key
				t.Errorf("error %q: want the key replaced by REDACTED", err)
			}
		})
	}
}
