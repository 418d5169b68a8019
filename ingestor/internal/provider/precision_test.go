package provider_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/ratewire/ratewire/ingestor/internal/provider"
	"github.com/ratewire/ratewire/shared/kst"
)

// TestPrecisionHonestyPerProvider: for each provider's real-format body,
// no stored rate carries more significant digits than the source gave it
// (DESIGN.md §5): a cross no more than the fewer of its two inputs, a
// quoted rate no more than as written, the simulator no more than 2
// decimals per display unit.
func TestPrecisionHonestyPerProvider(t *testing.T) {
	ctx := context.Background()
	digits := func(s string) int32 {
		d, err := provider.ParseAmount(s)
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		return provider.SigDigits(d)
	}
	crossLimits := func(values map[string]json.Number, base string) map[string]int32 {
		krw := digits(values["KRW"].String())
		out := map[string]int32{base: krw}
		for code, v := range values {
			if code != "KRW" && code != base {
				out[code] = min(krw, digits(v.String()))
			}
		}
		return out
	}
	check := func(t *testing.T, name string, limits map[string]int32, got map[string]decimal.Decimal) {
		t.Helper()
		if len(got) == 0 {
			t.Fatalf("%s: no quotes", name)
		}
		for code, mid := range got {
			limit, ok := limits[code]
			if !ok {
				t.Errorf("%s: %s was not in the body", name, code)
				continue
			}
			if d := provider.SigDigits(mid); d > limit {
				t.Errorf("%s: %s = %s carries %d significant digits, its source %d", name, code, mid, d, limit)
			}
		}
	}
	mids := func(t *testing.T, p provider.Provider) map[string]decimal.Decimal {
		t.Helper()
		b, err := p.Fetch(ctx)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]decimal.Decimal{}
		for _, q := range b.Quotes {
			out[q.Code] = q.DealBaseRate
		}
		return out
	}

	t.Run("exchangerate-api", func(t *testing.T) {
		for _, name := range []string{"exchangerate-api-open.json", "exchangerate-api-keyed.json"} {
			body := sample(t, name)
			var b struct {
				Rates           map[string]json.Number `json:"rates"`
				ConversionRates map[string]json.Number `json:"conversion_rates"`
			}
			if err := json.Unmarshal(body, &b); err != nil {
				t.Fatal(err)
			}
			values := b.Rates
			if values == nil {
				values = b.ConversionRates
			}
			srv := serve(t, answer(http.StatusOK, "application/json", body))
			check(t, name, crossLimits(values, "USD"), mids(t, &provider.ExchangeRateAPI{BaseURL: srv.URL, Now: clock(erNow)}))
		}
	})
	t.Run("frankfurter", func(t *testing.T) {
		body := sample(t, "frankfurter-latest.json")
		var b struct {
			Rates map[string]json.Number `json:"rates"`
		}
		if err := json.Unmarshal(body, &b); err != nil {
			t.Fatal(err)
		}
		srv := serve(t, answer(http.StatusOK, "application/json", body))
		check(t, "frankfurter-latest.json", crossLimits(b.Rates, "EUR"), mids(t, &provider.Frankfurter{BaseURL: srv.URL, Now: clock(frankNow)}))
	})
	t.Run("koreaexim", func(t *testing.T) {
		body := sample(t, "koreaexim-ap01.json")
		var rows []struct {
			CurUnit  string `json:"cur_unit"`
			DealBasR string `json:"deal_bas_r"`
		}
		if err := json.Unmarshal(body, &rows); err != nil {
			t.Fatal(err)
		}
		limits := map[string]int32{}
		for _, r := range rows {
			code, _, _ := strings.Cut(r.CurUnit, "(")
			limits[code] = digits(r.DealBasR)
		}
		srv := serve(t, answer(http.StatusOK, "text/html", body))
		now := time.Date(2026, 11, 23, 14, 0, 0, 0, kst.Zone)
		check(t, "koreaexim-ap01.json", limits, mids(t, &provider.KoreaExim{Key: "k", BaseURL: srv.URL, Now: clock(now)}))
	})
	t.Run("simulated", func(t *testing.T) {
		now := time.Date(2026, 11, 23, 14, 0, 0, 0, kst.Zone)
		b, err := (&provider.Simulated{Now: clock(now)}).Fetch(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range b.Quotes {
			unit := map[string]int64{"JPY": 100, "IDR": 100, "VND": 100}[q.Code]
			if unit == 0 {
				unit = 1
			}
			if perDisplay := q.DealBaseRate.Mul(decimal.NewFromInt(unit)); !perDisplay.Equal(perDisplay.Round(2)) {
				t.Errorf("simulated %s = %s per unit, %s per display unit: more than 2 decimals", q.Code, q.DealBaseRate, perDisplay)
			}
		}
	})
}
