package provider_test

import (
	"errors"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/ratewire/ratewire/ingestor/internal/provider"
	"github.com/ratewire/ratewire/ingestor/internal/rate"
	"github.com/ratewire/ratewire/shared/kst"
)

// The fuzz targets below cover every parser of provider bodies. Their seed
// corpora (the real-format samples in testdata plus error and quirk
// bodies) run in the normal test run; `go test -fuzz=FuzzParseKoreaExim`
// explores further. Each checks that a parser never panics and that
// whatever it accepts satisfies the package's promises.

func FuzzParseExchangeRateAPI(f *testing.F) {
	for _, s := range []string{"exchangerate-api-keyed.json", "exchangerate-api-open.json", "exchangerate-api-error.json"} {
		f.Add(sample(f, s))
	}
	f.Add([]byte(`{"result":"error","error-type":"quota-reached"}`))
	f.Add([]byte(`{"result":"success","base_code":"USD","time_last_update_unix":1,"rates":{"USD":1,"KRW":"1466.12"}}`))
	f.Add([]byte(`{"result":"success","base_code":"USD","time_last_update_unix":1,"rates":{"KRW":1466.12,"JPY":0}}`))
	f.Add([]byte(`{"result":"success","base_code":"USD","time_last_update_unix":1,"rates":{"KRW":1e30,"JPY":1e-30}}`))
	f.Add([]byte(`{"result":"success","base_code":"KRW","time_last_update_unix":1,"rates":{"USD":7.16e-4}}`))
	f.Add([]byte(`{"result":"succ`))
	f.Fuzz(func(t *testing.T, body []byte) {
		if next := provider.ExchangeRateAPINext(body); !next.IsZero() && next.Before(time.Unix(1, 0)) {
			t.Errorf("next update %s from %q", next, body)
		}
		quotes, err := provider.ParseExchangeRateAPI(body)
		if err != nil {
			var pe *provider.Error
			if errors.As(err, &pe) && pe.Kind != provider.Permanent && pe.Kind != provider.RateLimited && pe.Kind != provider.Temporary {
				t.Errorf("error-type classified as %s", pe.Kind)
			}
			return
		}
		checkQuotes(t, quotes, false)
	})
}

func FuzzParseKoreaExim(f *testing.F) {
	f.Add(sample(f, "koreaexim-ap01.json"))
	f.Add(sample(f, "koreaexim-result3.json"))
	f.Add([]byte(`[]`))
	f.Add([]byte(`[{"result":"4"}]`))
	f.Add([]byte(`[{"result":1,"cur_unit":"JPY(100)","ttb":"903.22","tts":"921.46","deal_bas_r":"912.34","cur_nm":"일본 옌"}]`))
	f.Add([]byte(`[{"result":1,"cur_unit":"VND(1000)","ttb":"0","tts":"","deal_bas_r":"1,234,567.8","cur_nm":""}]`))
	f.Add([]byte(`<html>error</html>`))
	day := time.Date(2026, 11, 23, 0, 0, 0, 0, kst.Zone)
	f.Fuzz(func(t *testing.T, body []byte) {
		quotes, err := provider.ParseKoreaExim(body, day, day.Add(11*time.Hour))
		if err != nil {
			if errors.Is(err, provider.ErrNoData) {
				if k, _ := provider.Classify(err); k != provider.NoData {
					t.Errorf("ErrNoData classified as %s", k)
				}
			}
			return
		}
		checkQuotes(t, quotes, true)
		for _, q := range quotes {
			if !q.RecordedAt.Equal(day.Add(11*time.Hour)) || q.RateDate != "2026-11-23" {
				t.Errorf("%s recorded at %s for %q, want 11:00 KST of 2026-11-23", q.Code, q.RecordedAt, q.RateDate)
			}
		}
	})
}

func FuzzParseFrankfurterLatest(f *testing.F) {
	f.Add(sample(f, "frankfurter-latest.json"))
	f.Add([]byte(`{"message":"not found"}`))
	f.Add([]byte(`{"amount":1000,"base":"EUR","date":"2026-11-20","rates":{"USD":1152.3,"KRW":1695870}}`))
	f.Add([]byte(`{"amount":0,"base":"EUR","date":"2026-11-20","rates":{"USD":1.1523,"KRW":1695.87}}`))
	f.Add([]byte(`{"amount":1.0,"base":"KRW","date":"2026-11-20","rates":{"USD":0.00072}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		quotes, err := provider.ParseFrankfurterLatest(body)
		if err != nil {
			return
		}
		checkQuotes(t, quotes, false)
		if h := quotes[0].RecordedAt; h.Hour() != 15 || h.Location() != time.UTC {
			t.Errorf("recorded at %s, want 15:00 UTC", h)
		}
	})
}

func FuzzParseFrankfurterSeries(f *testing.F) {
	f.Add(sample(f, "frankfurter-series.json"))
	f.Add([]byte(`{"amount":1.0,"base":"EUR","start_date":"2026-01-02","end_date":"2026-01-02","rates":{}}`))
	f.Add([]byte(`{"amount":1.0,"base":"EUR","rates":{"2026-01-02":{}}}`))
	f.Add([]byte(`{"amount":1.0,"base":"EUR","rates":{"bad":{"USD":1.17,"KRW":1690.1}}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		days, err := provider.ParseFrankfurterSeries(body)
		if err != nil {
			return
		}
		for i, quotes := range days {
			if len(quotes) == 0 {
				t.Fatalf("day %d has no quotes", i)
			}
			checkQuotes(t, quotes, false)
			if i > 0 && !days[i-1][0].RecordedAt.Before(quotes[0].RecordedAt) {
				t.Errorf("days out of order: %s then %s", days[i-1][0].RecordedAt, quotes[0].RecordedAt)
			}
		}
	})
}

// checkQuotes asserts what every accepted body must give: sorted unique
// ISO-like codes without KRW, a name, a positive mid, one RecordedAt, and
// a spread only where the provider quotes one (positive when present).
func checkQuotes(t *testing.T, quotes []rate.Quote, spread bool) {
	t.Helper()
	if len(quotes) == 0 {
		t.Fatal("accepted a body with no quotes")
	}
	for i, q := range quotes {
		if len(q.Code) != 3 || q.Code == "KRW" || (i > 0 && quotes[i-1].Code >= q.Code) {
			t.Errorf("bad or unsorted code %q", q.Code)
		}
		if q.Name == "" {
			t.Errorf("%s has no name", q.Code)
		}
		if !q.DealBaseRate.IsPositive() {
			t.Errorf("%s mid %s is not positive", q.Code, q.DealBaseRate)
		}
		if !q.RecordedAt.Equal(quotes[0].RecordedAt) {
			t.Errorf("%s recorded at %s, others at %s", q.Code, q.RecordedAt, quotes[0].RecordedAt)
		}
		if !spread && (q.TTS != nil || q.TTB != nil) {
			t.Errorf("%s has an invented spread", q.Code)
		}
		if q.TTS != nil && !q.TTS.IsPositive() || q.TTB != nil && !q.TTB.IsPositive() {
			t.Errorf("%s has a non-positive spread tts %v ttb %v", q.Code, q.TTS, q.TTB)
		}
	}
}

// FuzzCross checks the precision rule on any pair of inputs: the cross
// never carries more significant digits than the fewer of its inputs, and
// lies within half a unit of its last digit of the exact quotient.
func FuzzCross(f *testing.F) {
	f.Add("1695.87", "1.1523")
	f.Add("1466.123456", "0.376")
	f.Add("1e30", "1e-30")
	f.Add("999.99", "0.0001")
	f.Fuzz(func(t *testing.T, a, b string) {
		krw, err1 := provider.ParseAmount(a)
		units, err2 := provider.ParseAmount(b)
		if err1 != nil || err2 != nil || !krw.IsPositive() || !units.IsPositive() {
			return
		}
		got, err := provider.Cross(krw, units)
		if err != nil {
			t.Fatalf("cross(%s, %s): %v", krw, units, err)
		}
		n := min(provider.SigDigits(krw), provider.SigDigits(units))
		if d := provider.SigDigits(got); d > n {
			t.Errorf("cross(%s, %s) = %s carries %d digits, inputs %d", krw, units, got, d, n)
		}
		// |got*units - krw| <= half a unit of got's last kept place * units.
		ulp := decimal.New(5, got.Exponent()-1)
		if got.Mul(units).Sub(krw).Abs().GreaterThan(ulp.Mul(units)) {
			t.Errorf("cross(%s, %s) = %s is more than half a unit from the quotient", krw, units, got)
		}
	})
}
