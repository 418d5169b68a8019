package provider_test

import (
	"context"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/ratewire/ratewire/ingestor/internal/provider"
)

func TestSimulatedIsDeterministicAndPlausible(t *testing.T) {
	at := time.Date(2026, 11, 22, 3, 7, 31, 0, time.UTC)
	p := &provider.Simulated{Now: func() time.Time { return at }}
	a, err := p.Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := p.Fetch(context.Background())
	if a.Source != "simulated" || len(a.Quotes) < 20 {
		t.Fatalf("batch source %q with %d quotes, want simulated with >= 20", a.Source, len(a.Quotes))
	}
	for i, q := range a.Quotes {
		if !q.DealBaseRate.Equal(b.Quotes[i].DealBaseRate) {
			t.Errorf("%s: two fetches at one instant differ: %s vs %s", q.Code, q.DealBaseRate, b.Quotes[i].DealBaseRate)
		}
		if want := time.Date(2026, 11, 22, 3, 5, 0, 0, time.UTC); !q.RecordedAt.Equal(want) {
			t.Errorf("%s recorded_at = %s, want the 5-minute step %s", q.Code, q.RecordedAt, want)
		}
		if !q.DealBaseRate.IsPositive() || q.TTS == nil || q.TTB == nil || !q.TTS.GreaterThan(q.DealBaseRate) || !q.TTB.LessThan(q.DealBaseRate) {
			t.Errorf("%s: want 0 < ttb < mid < tts, got ttb %v mid %s tts %v", q.Code, q.TTB, q.DealBaseRate, q.TTS)
		}
		// Banknotes cost more than a remittance: cash rates lie outside
		// the TT rates, for the currencies the bank trades in cash.
		switch {
		case q.Code == "BND":
			if q.CashBuy != nil || q.CashSell != nil {
				t.Errorf("BND: cash %v/%v, want none (banks do not trade its banknotes)", q.CashBuy, q.CashSell)
			}
		case q.CashBuy == nil || q.CashSell == nil || !q.CashBuy.GreaterThan(*q.TTS) || !q.CashSell.LessThan(*q.TTB) || !q.CashSell.IsPositive():
			t.Errorf("%s: want 0 < cash sell < ttb < tts < cash buy, got cash %v/%v tt %v/%v", q.Code, q.CashBuy, q.CashSell, q.TTS, q.TTB)
		}
	}
	// USD's cash spread is the 1.75 % Korean banks quote.
	for _, q := range a.Quotes {
		if q.Code != "USD" {
			continue
		}
		spread := q.CashBuy.Sub(q.DealBaseRate).Div(q.DealBaseRate).Mul(decimal.NewFromInt(100))
		if spread.LessThan(decimal.RequireFromString("1.74")) || spread.GreaterThan(decimal.RequireFromString("1.76")) {
			t.Errorf("USD cash buy %s over mid %s is %s %%, want 1.75 %%", q.CashBuy, q.DealBaseRate, spread)
		}
	}
}

func TestSimulatedLevels(t *testing.T) {
	quotes := provider.SimulatedQuotes(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	bounds := map[string][2]float64{"USD": {1200, 1600}, "JPY": {7.5, 11}, "IDR": {0.07, 0.1}, "EUR": {1300, 1750}}
	for _, q := range quotes {
		b, ok := bounds[q.Code]
		if !ok {
			continue
		}
		if q.DealBaseRate.LessThan(decimal.NewFromFloat(b[0])) || q.DealBaseRate.GreaterThan(decimal.NewFromFloat(b[1])) {
			t.Errorf("%s = %s KRW per unit, want within %v", q.Code, q.DealBaseRate, b)
		}
		delete(bounds, q.Code)
	}
	if len(bounds) > 0 {
		t.Errorf("missing currencies: %v", bounds)
	}
}

func TestSimulatedMovesSlowly(t *testing.T) {
	t0 := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	a := provider.SimulatedQuotes(t0)
	b := provider.SimulatedQuotes(t0.Add(5 * time.Minute))
	moved := 0
	for i := range a {
		change := b[i].DealBaseRate.Sub(a[i].DealBaseRate).Div(a[i].DealBaseRate).Abs()
		if change.GreaterThan(decimal.NewFromFloat(0.005)) {
			t.Errorf("%s jumped %s%% in five minutes", a[i].Code, change.Mul(decimal.NewFromInt(100)))
		}
		if !change.IsZero() {
			moved++
		}
	}
	if moved == 0 {
		t.Error("no currency moved in five minutes")
	}
}
