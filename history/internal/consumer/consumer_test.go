package consumer_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/shopspring/decimal"

	"github.com/ratewire/ratewire/history/internal/consumer"
	"github.com/ratewire/ratewire/shared/event"
)

// recorder records the codes it invalidated; an invalidation of a code in
// fail fails (once) and is not recorded.
type recorder struct {
	codes []string
	fail  map[string]bool
}

func (r *recorder) Invalidate(_ context.Context, code string) (int, error) {
	if r.fail[code] {
		delete(r.fail, code)
		return 0, errors.New("redis down")
	}
	r.codes = append(r.codes, code)
	return 1, nil
}

func encode(t testing.TB, ev event.Event) kafka.Message {
	t.Helper()
	return encodeRun(t, "run-1", ev)
}

// encodeRun encodes ev as an event of the run with correlation id run.
func encodeRun(t testing.TB, run string, ev event.Event) kafka.Message {
	t.Helper()
	event.Stamp(ev, run)
	m, err := event.Encode(ev, "test")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestHandler(t *testing.T) {
	at := time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)
	rec := &recorder{}
	h := consumer.Handler(rec, slog.New(slog.DiscardHandler))
	ctx := context.Background()
	msgs := []kafka.Message{
		encode(t, &event.ExchangeRateUpdated{Rate: event.Rate{CurrencyCode: "USD", CurrencyName: "미국 달러", DealBaseRate: decimal.RequireFromString("1400"),
			Source: "simulated", RecordedAt: at, UpdatedAt: at, Version: 3}}),
		encode(t, &event.CacheInvalidation{CacheKeys: []string{"exchange_rate:JPY", "exchange_rate:bad1", "ranking:daily"},
			InvalidationType: "exchange_rate", InvalidatedAt: at}),
		encode(t, &event.NewDataReceived{Source: "simulated", DataCount: 3, CollectionTime: at}),
		encode(t, &event.DataProcessingCompleted{Source: "simulated", TotalProcessed: 3, CompletedAt: at}),
	}
	for _, m := range msgs {
		if err := h(ctx, m); err != nil {
			t.Fatalf("handle %s: %v", m.Topic, err)
		}
	}
	if !slices.Equal(rec.codes, []string{"USD", "JPY"}) {
		t.Errorf("invalidated %v, want exactly [USD JPY]", rec.codes)
	}

	// Invalid messages are reported as such (for the dead-letter topic),
	// and invalidate nothing.
	rec.codes = nil
	for _, m := range []kafka.Message{
		{Topic: event.TopicExchangeRateUpdated, Value: []byte("{not json")},
		{Topic: "unknown_topic", Value: []byte("{}")},
	} {
		if err := h(ctx, m); !errors.Is(err, event.ErrInvalid) {
			t.Errorf("handle %q on %s = %v, want an error wrapping event.ErrInvalid", m.Value, m.Topic, err)
		}
	}
	if len(rec.codes) != 0 {
		t.Errorf("invalid messages invalidated %v", rec.codes)
	}
}

// runEvents are the events of one run that changed USD and JPY, in the
// order the ingestor publishes them.
func runEvents(t testing.TB, run string, at time.Time) []kafka.Message {
	t.Helper()
	upd := func(code string) event.Event {
		return &event.ExchangeRateUpdated{Rate: event.Rate{CurrencyCode: code, CurrencyName: code, DealBaseRate: decimal.RequireFromString("10"),
			Source: "simulated", RecordedAt: at, UpdatedAt: at, Version: 2}}
	}
	return []kafka.Message{
		encodeRun(t, run, &event.NewDataReceived{Source: "simulated", DataCount: 2, CollectionTime: at}),
		encodeRun(t, run, upd("USD")),
		encodeRun(t, run, upd("JPY")),
		encodeRun(t, run, &event.CacheInvalidation{CacheKeys: []string{"exchange_rate:USD", "exchange_rate:JPY"},
			InvalidationType: "exchange_rate", InvalidatedAt: at}),
		encodeRun(t, run, &event.DataProcessingCompleted{Source: "simulated", TotalProcessed: 2, CompletedAt: at}),
	}
}

// TestOneInvalidationPerCurrencyPerRun checks that a run, which announces
// each changed currency on exchange_rate_updated and again on
// cache_invalidation, drops each currency once, whichever topic's message
// comes first; that the next run drops them again; and that a failed
// invalidation is not remembered as done.
func TestOneInvalidationPerCurrencyPerRun(t *testing.T) {
	at := time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)
	ctx := context.Background()
	handle := func(t *testing.T, h func(context.Context, kafka.Message) error, msgs ...kafka.Message) {
		t.Helper()
		for _, m := range msgs {
			if err := h(ctx, m); err != nil {
				t.Fatalf("handle %s: %v", m.Topic, err)
			}
		}
	}
	reversed := func(ms []kafka.Message) []kafka.Message {
		ms = slices.Clone(ms)
		slices.Reverse(ms)
		return ms
	}
	for _, tc := range []struct {
		name  string
		order func([]kafka.Message) []kafka.Message
		want  []string
	}{
		{"publication order", func(ms []kafka.Message) []kafka.Message { return ms }, []string{"USD", "JPY"}},
		{"cache_invalidation first", reversed, []string{"USD", "JPY"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			h := consumer.Handler(rec, slog.New(slog.DiscardHandler))
			handle(t, h, tc.order(runEvents(t, "run-1", at))...)
			if !slices.Equal(rec.codes, tc.want) {
				t.Fatalf("one run invalidated %v, want each changed currency once: %v", rec.codes, tc.want)
			}
			// The next run changes the same currencies: they go again.
			rec.codes = nil
			handle(t, h, tc.order(runEvents(t, "run-2", at))...)
			if !slices.Equal(rec.codes, tc.want) {
				t.Errorf("the next run invalidated %v, want %v again", rec.codes, tc.want)
			}
		})
	}

	t.Run("failed invalidation is retried by the run's other event", func(t *testing.T) {
		rec := &recorder{fail: map[string]bool{"USD": true}}
		h := consumer.Handler(rec, slog.New(slog.DiscardHandler))
		ms := runEvents(t, "run-1", at)
		if err := h(ctx, ms[1]); err == nil {
			t.Fatal("a failing invalidation was not reported")
		}
		handle(t, h, ms[2:]...)
		if !slices.Equal(rec.codes, []string{"JPY", "USD"}) {
			t.Errorf("invalidated %v, want JPY from its update and USD from cache_invalidation", rec.codes)
		}
	})

	t.Run("memory is bounded", func(t *testing.T) {
		rec := &recorder{}
		h := consumer.Handler(rec, slog.New(slog.DiscardHandler))
		// Far more runs than the handler remembers, each a lone update.
		const runs = 2000
		for i := range runs {
			handle(t, h, runEvents(t, fmt.Sprintf("run-%d", i), at)[1])
		}
		rec.codes = nil
		first, last := runEvents(t, "run-0", at)[3], runEvents(t, fmt.Sprintf("run-%d", runs-1), at)[3]
		handle(t, h, first, last)
		// The oldest run is forgotten (so dropped again, harmlessly); the
		// newest is remembered and its USD skipped.
		if !slices.Equal(rec.codes, []string{"USD", "JPY", "JPY"}) {
			t.Errorf("invalidated %v, want [USD JPY] for the forgotten run and [JPY] for the last one", rec.codes)
		}
	})
}

// v1RateUpdate is an exchange_rate_updated as a schema_version 1 producer
// wrote it: no cash fields at all.
func v1RateUpdate(code string, version int64) kafka.Message {
	return kafka.Message{Topic: event.TopicExchangeRateUpdated, Key: []byte(code), Value: fmt.Appendf(nil,
		`{"event_id":"%s","event_type":"exchange_rate_updated","schema_version":1,"correlation_id":"old-run",`+
			`"currency_code":%q,"currency_name":"x","deal_base_rate":"9.25","tts":null,"ttb":null,"source":"koreaexim",`+
			`"recorded_at":"2026-11-22T02:00:00Z","updated_at":"2026-11-22T02:00:00Z","version":%d}`,
		"5b0f2c4e-1d1a-4f0e-9c1e-7a4d8e1f0a0"+fmt.Sprint(version%10), code, version)}
}

// TestRollingUpgrade hands the handler, in one partition's order, a
// version 1 update (written by an ingestor not yet upgraded) and a version
// 2 update with cash rates: both are applied (their currencies' caches
// dropped), neither is dead-lettered.
func TestRollingUpgrade(t *testing.T) {
	at := time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)
	cb, cs := decimal.RequireFromString("1425.5"), decimal.RequireFromString("1375.3")
	rec := &recorder{}
	h := consumer.Handler(rec, slog.New(slog.DiscardHandler))
	msgs := []kafka.Message{
		v1RateUpdate("JPY", 4),
		encodeRun(t, "new-run", &event.ExchangeRateUpdated{Rate: event.Rate{CurrencyCode: "USD", CurrencyName: "미국 달러",
			DealBaseRate: decimal.RequireFromString("1400"), CashBuy: &cb, CashSell: &cs, Source: "hana", RecordedAt: at, UpdatedAt: at, Version: 5}}),
	}
	for _, m := range msgs {
		if err := h(context.Background(), m); err != nil {
			t.Fatalf("handle %s: %v, want both schema versions applied", m.Value, err)
		}
	}
	if !slices.Equal(rec.codes, []string{"JPY", "USD"}) {
		t.Errorf("invalidated %v, want [JPY USD] (v1 then v2)", rec.codes)
	}
}
