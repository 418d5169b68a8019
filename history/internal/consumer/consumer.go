// Package consumer adapts the ingestor's events to the history service:
// exchange_rate_updated drops every cached answer involving that currency
// (as base or target) and no other; cache_invalidation does the same for
// the currencies it lists (logical keys exchange_rate:{CODE}). The other
// two topics carry nothing history caches depend on.
package consumer

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/segmentio/kafka-go"

	"github.com/ratewire/ratewire/history/internal/series"
	"github.com/ratewire/ratewire/shared/event"
)

// GroupID is the history service's consumer group.
const GroupID = "history-service"

// Invalidator is what the handler needs from the service.
type Invalidator interface {
	Invalidate(ctx context.Context, code string) (int, error)
}

// Handler returns the kafkabus handler for the four topics. An invalid
// message is returned as an error wrapping event.ErrInvalid, which the
// consumer runtime dead-letters without retrying; handling is idempotent,
// so redelivered duplicates are harmless (an extra invalidation).
func Handler(svc Invalidator, log *slog.Logger) func(ctx context.Context, m kafka.Message) error {
	return func(ctx context.Context, m kafka.Message) error {
		ev, err := event.Decode(m.Topic, m.Value)
		if err != nil {
			return fmt.Errorf("history consumer: %s[%d]@%d: %w", m.Topic, m.Partition, m.Offset, err)
		}
		meta := event.MetaOf(ev)
		var codes []string
		switch e := ev.(type) {
		case *event.ExchangeRateUpdated:
			codes = []string{e.CurrencyCode}
		case *event.CacheInvalidation:
			codes = codesOf(e.CacheKeys)
		}
		for _, code := range codes {
			n, err := svc.Invalidate(ctx, code)
			if err != nil {
				return fmt.Errorf("handle %s %s: %w", meta.EventType, meta.EventID, err)
			}
			log.Debug("history cache invalidated", "currency_code", code, "entries", n,
				"event_id", meta.EventID, "correlation_id", meta.CorrelationID)
		}
		return nil
	}
}

// codesOf picks currency codes out of logical keys such as
// exchange_rate:USD.
func codesOf(keys []string) []string {
	var codes []string
	for _, k := range keys {
		if code, ok := strings.CutPrefix(k, "exchange_rate:"); ok {
			if c, err := series.ParseCode("currency_code", code); err == nil {
				codes = append(codes, c)
			}
		}
	}
	return codes
}
