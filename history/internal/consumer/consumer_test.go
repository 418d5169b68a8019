package consumer_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/shopspring/decimal"

	"github.com/ratewire/ratewire/history/internal/consumer"
	"github.com/ratewire/ratewire/shared/event"
)

type recorder struct{ codes []string }

func (r *recorder) Invalidate(_ context.Context, code string) (int, error) {
	r.codes = append(r.codes, code)
	return 1, nil
}

func encode(t *testing.T, ev event.Event) kafka.Message {
	t.Helper()
	event.Stamp(ev, "run-1")
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
