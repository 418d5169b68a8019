package provider_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/ratewire/ratewire/ingestor/hanatest"
	"github.com/ratewire/ratewire/ingestor/internal/provider"
	"github.com/ratewire/ratewire/ingestor/internal/rate"
	"github.com/ratewire/ratewire/shared/kst"
)

func hdec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// eqp reports whether p holds want ("" for nil).
func eqp(p *decimal.Decimal, want string) bool {
	if want == "" {
		return p == nil
	}
	return p != nil && p.Equal(hdec(want))
}

// TestParseHanaRealSample reads a captured answer: per-unit division of
// JPY and VND (per 100), cash and remittance legs, nulls, the KST notice
// time.
func TestParseHanaRealSample(t *testing.T) {
	quotes, err := provider.ParseHana(sample(t, "hana-recent.json"))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2022, 2, 28, 21, 1, 28, 0, kst.Zone)
	want := []struct{ code, mid, tts, ttb, cashBuy, cashSell string }{
		{"JPY", "10.4692", "10.5716", "10.3668", "10.6524", "10.286"},
		{"USD", "1204.5", "1216.3", "1192.7", "1225.57", "1183.43"},
		{"VND", "0.0528", "", "", "0.0612", "0.047"},
	}
	if len(quotes) != len(want) {
		t.Fatalf("got %d quotes, want %d", len(quotes), len(want))
	}
	for i, w := range want {
		q := quotes[i]
		if q.Code != w.code || !q.DealBaseRate.Equal(hdec(w.mid)) || !eqp(q.TTS, w.tts) || !eqp(q.TTB, w.ttb) ||
			!eqp(q.CashBuy, w.cashBuy) || !eqp(q.CashSell, w.cashSell) {
			t.Errorf("quote %d = %s mid %s tts %v ttb %v cash %v/%v, want %+v", i, q.Code, q.DealBaseRate, q.TTS, q.TTB, q.CashBuy, q.CashSell, w)
		}
		if !q.RecordedAt.Equal(at) || q.RateDate != "2022-02-28" || q.Name == "" {
			t.Errorf("%s recorded %s for %q named %q, want 21:01:28 KST of 2022-02-28", q.Code, q.RecordedAt, q.RateDate, q.Name)
		}
	}
	if quotes[1].Name != "미국 달러" {
		t.Errorf("USD named %q, want the reference name 미국 달러", quotes[1].Name)
	}
}

// TestParseHanaQuirks covers nulls, missing and repeated codes and bodies
// that are not the forex array.
func TestParseHanaQuirks(t *testing.T) {
	row := func(code, base, cash, unit, count, tm string) string {
		return `{"code":"FRX.KRW` + code + `","currencyCode":"` + code + `","date":"2026-11-23","time":"` + tm +
			`","recurrenceCount":` + count + `,"basePrice":` + base + `,"cashBuyingPrice":` + cash +
			`,"cashSellingPrice":null,"ttBuyingPrice":null,"ttSellingPrice":null,"currencyUnit":` + unit + `}`
	}
	t.Run("null prices are nil, a row without basePrice is skipped", func(t *testing.T) {
		qs, err := provider.ParseHana([]byte("[" + row("USD", "1338", "null", "1", "5", "10:00:00") + "," + row("EUR", "null", "1500", "1", "5", "10:00:00") + "]"))
		if err != nil || len(qs) != 1 || qs[0].Code != "USD" || qs[0].CashBuy != nil || qs[0].TTS != nil {
			t.Fatalf("got %+v (%v), want USD alone without cash or spread", qs, err)
		}
	})
	t.Run("a zero cash price is no quote", func(t *testing.T) {
		qs, err := provider.ParseHana([]byte("[" + row("USD", "1338", "0", "1", "5", "10:00:00") + "]"))
		if err != nil || qs[0].CashBuy != nil {
			t.Fatalf("got %+v (%v), want a nil cash buy", qs, err)
		}
	})
	t.Run("a code listed twice keeps its latest notice", func(t *testing.T) {
		qs, err := provider.ParseHana([]byte("[" + row("USD", "1340", "1360", "1", "7", "10:30:00") + "," + row("USD", "1338", "1361", "1", "6", "10:20:00") + "]"))
		if err != nil || len(qs) != 1 || !qs[0].DealBaseRate.Equal(hdec("1340")) {
			t.Fatalf("got %+v (%v), want notice 7's 1340", qs, err)
		}
	})
	for _, tc := range []struct{ name, body, want string }{
		{"every row unusable", "[" + row("USD", "null", "null", "1", "1", "10:00:00") + "]", "basePrice is null"},
		{"unit not a power of ten", "[" + row("JPY", "912.34", "null", "3", "1", "10:00:00") + "]", "currencyUnit"},
		{"bad time", "[" + row("USD", "1338", "null", "1", "1", "25:99") + "]", "KST notice time"},
		{"negative price", "[" + row("USD", "1338", "-1", "1", "1", "10:00:00") + "]", "not positive"},
		{"an error object", `{"error":{"name":"not_found","message":"Code not found"}}`, "cannot unmarshal"},
		{"prices as words", `[{"code":"FRX.KRWUSD","currencyCode":"USD","basePrice":"abc"}]`, "invalid"},
		{"trailing data", "[]{}", "trailing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := provider.ParseHana([]byte(tc.body))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
	if _, err := provider.ParseHana([]byte(`[]`)); !errors.Is(err, provider.ErrNoData) {
		t.Errorf("[] = %v, want ErrNoData (no code asked is quoted)", err)
	}
}

// TestHanaFetch asks a local server in the Dunamu format for every code in
// one request; codes the bank does not quote are absent, the rest are
// stored per unit.
func TestHanaFetch(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 15, 0, 0, kst.Zone)
	bank := hanatest.New(clock(now))
	var asked []string
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		asked = append(asked, r.URL.Query().Get("codes"))
		bank.ServeHTTP(w, r)
	})
	p, err := provider.New(provider.HanaName, provider.Settings{HanaURL: srv.URL, Now: clock(now.Add(time.Minute))})
	if err != nil {
		t.Fatal(err)
	}
	b, err := p.Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(asked) != 1 || !strings.Contains(asked[0], "FRX.KRWUSD,FRX.KRWJPY") || !strings.Contains(asked[0], "FRX.KRWGBP") {
		t.Errorf("asked %q, want one request for every code", asked)
	}
	if b.Source != "hana" || b.Daily || !b.FetchedAt.Equal(now.Add(time.Minute)) || len(b.Quotes) != len(hanatest.Codes) {
		t.Fatalf("batch %s daily=%v fetched %s with %d quotes, want hana, intraday, %d quotes", b.Source, b.Daily, b.FetchedAt, len(b.Quotes), len(hanatest.Codes))
	}
	for _, q := range b.Quotes {
		w := bank.Quote(q.Code)
		if !q.DealBaseRate.Equal(w.DealBaseRate) || !q.CashBuy.Equal(w.CashBuy) || !q.CashSell.Equal(w.CashSell) ||
			!q.TTS.Equal(w.TTS) || !q.TTB.Equal(w.TTB) || !q.RecordedAt.Equal(now) {
			t.Errorf("%s = %+v, want %+v at %s", q.Code, q, w, now)
		}
	}
	jpy := findQuote(b.Quotes, "JPY")
	if !jpy.DealBaseRate.Equal(hdec("9.1234")) {
		t.Errorf("JPY mid %s, want 912.34 per 100 = 9.1234 per yen", jpy.DealBaseRate)
	}
}

func findQuote(qs []rate.Quote, code string) rate.Quote {
	for _, q := range qs {
		if q.Code == code {
			return q
		}
	}
	return rate.Quote{}
}

// TestHanaErrors: HTML error pages, 429 with Retry-After, 5xx and an empty
// answer are classified for the ingest service.
func TestHanaErrors(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 15, 0, 0, kst.Zone)
	for _, tc := range []struct {
		name   string
		h      http.HandlerFunc
		kind   provider.ErrorKind
		retry  time.Duration
		detail string
	}{
		{"html page with 200", answer(200, "text/html", []byte("<!DOCTYPE html><html><body>점검 중</body></html>")), provider.Temporary, 0, "text/html"},
		{"html 502", answer(502, "text/html", []byte("<html><body>Bad Gateway</body></html>")), provider.Temporary, 0, "server error"},
		{"429", answer(429, "application/json", []byte(`{"error":"too many requests"}`), "Retry-After", "30"), provider.RateLimited, 30 * time.Second, "too many"},
		{"403", answer(403, "text/html", []byte("Forbidden")), provider.Permanent, 0, "access refused"},
		{"empty array", answer(200, "application/json", []byte(`[]`)), provider.NoData, 0, "no code asked"},
		{"error object", answer(200, "application/json", []byte(`{"error":{"message":"bad codes"}}`)), provider.Temporary, 0, "malformed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := serve(t, tc.h)
			p := &provider.Hana{BaseURL: srv.URL, Now: clock(now)}
			_, err := p.Fetch(context.Background())
			kind, retry := provider.Classify(err)
			if err == nil || kind != tc.kind || retry != tc.retry || !strings.Contains(err.Error(), tc.detail) {
				t.Fatalf("error %v (%s, retry %s), want %s retry %s mentioning %q", err, kind, retry, tc.kind, tc.retry, tc.detail)
			}
		})
	}
}

func FuzzParseHana(f *testing.F) {
	f.Add(sample(f, "hana-recent.json"))
	f.Add([]byte(`[]`))
	f.Add([]byte(`[{"code":"FRX.KRWUSD","currencyCode":"USD","date":"2026-11-23","time":"10:00:00","recurrenceCount":1,"basePrice":1e400,"currencyUnit":1}]`))
	f.Add([]byte(`[{"code":"FRX.KRWJPY","currencyCode":"JPY","date":"2026-11-23","time":"10:00:00","basePrice":912.34,"cashBuyingPrice":null,"currencyUnit":100}]`))
	f.Add([]byte(`<html>error</html>`))
	f.Fuzz(func(t *testing.T, body []byte) {
		quotes, err := provider.ParseHana(body)
		if err != nil {
			return
		}
		if len(quotes) == 0 {
			t.Fatal("accepted a body with no quotes")
		}
		for i, q := range quotes {
			if len(q.Code) != 3 || q.Code == "KRW" || (i > 0 && quotes[i-1].Code >= q.Code) || q.Name == "" {
				t.Errorf("bad, unsorted or unnamed code %q", q.Code)
			}
			if !q.DealBaseRate.IsPositive() || q.RecordedAt.IsZero() || q.RateDate != kst.Day(q.RecordedAt) {
				t.Errorf("%s: mid %s at %s for %q", q.Code, q.DealBaseRate, q.RecordedAt, q.RateDate)
			}
			for _, p := range []*decimal.Decimal{q.TTS, q.TTB, q.CashBuy, q.CashSell} {
				if p != nil && !p.IsPositive() {
					t.Errorf("%s has a non-positive price %s", q.Code, p)
				}
			}
		}
	})
}
