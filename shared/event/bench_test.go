package event_test

import (
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/ratewire/ratewire/shared/event"
)

// BenchmarkDecodeExchangeRateUpdated is the cost of decoding and validating
// one exchange_rate_updated payload, the consumers' most frequent event.
func BenchmarkDecodeExchangeRateUpdated(b *testing.B) {
	at := time.Date(2026, 11, 22, 2, 0, 0, 0, time.UTC)
	tts, ttb := decimal.RequireFromString("1488.23"), decimal.RequireFromString("1458.76")
	ev := &event.ExchangeRateUpdated{Rate: event.Rate{CurrencyCode: "USD", CurrencyName: "미국 달러", DealBaseRate: decimal.RequireFromString("1473.5"),
		TTS: &tts, TTB: &ttb,
		Source: "koreaexim", RecordedAt: at, UpdatedAt: at, Version: 42}}
	event.Stamp(ev, "run-1")
	m, err := event.Encode(ev, "bench")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := event.Decode(m.Topic, m.Value); err != nil {
			b.Fatal(err)
		}
	}
}
