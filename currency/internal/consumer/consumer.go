// Package consumer adapts the ingestor's events to the currency service:
// exchange_rate_updated replaces one cached rate, cache_invalidation drops
// the listed ones older than the database and data_processing_completed
// refreshes what is missing or differs (DESIGN.md §7).
package consumer

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/segmentio/kafka-go"

	"github.com/ratewire/ratewire/currency/internal/rates"
	"github.com/ratewire/ratewire/shared/event"
)

// GroupID is the currency service's consumer group.
const GroupID = "currency-service"

// Service is what the handler needs from the rates service.
type Service interface {
	Apply(ctx context.Context, r rates.Rate) error
	ApplyMany(ctx context.Context, rs []rates.Rate) error
	Invalidate(ctx context.Context, codes ...string) error
	RefreshAll(ctx context.Context) error
}

// Handler returns the kafkabus handler for the four topics. It returns
// Decode's error for an invalid message (wrapping event.ErrInvalid, so the
// consumer runtime dead-letters it at once) and the service's error, which
// the runtime retries, otherwise; duplicates are filtered before it by the
// runtime's dedupe store, and the service's version-guarded writes absorb
// the rest.
func Handler(svc Service, log *slog.Logger) func(ctx context.Context, m kafka.Message) error {
	return func(ctx context.Context, m kafka.Message) error {
		ev, err := event.Decode(m.Topic, m.Value)
		if err != nil {
			// An error wrapping event.ErrInvalid: no retry can fix it, so
			// the consumer runtime sends it to "<topic>.dlq" at once.
			return err
		}
		meta := event.MetaOf(ev)
		switch e := ev.(type) {
		case *event.ExchangeRateUpdated:
			err = svc.Apply(ctx, rates.Rate{Rate: e.Rate})
		case *event.CacheInvalidation:
			err = svc.Invalidate(ctx, codesOf(e.CacheKeys)...)
		case *event.DataProcessingCompleted:
			err = svc.RefreshAll(ctx)
		case *event.NewDataReceived:
			// Announces a collection; the rates arrive in the events after it.
		}
		if err != nil {
			return fmt.Errorf("handle %s %s: %w", meta.EventType, meta.EventID, err)
		}
		log.Debug("event handled", "topic", m.Topic, "partition", m.Partition, "offset", m.Offset,
			"event_id", meta.EventID, "correlation_id", meta.CorrelationID)
		return nil
	}
}

// BatchHandler returns the kafkabus batch handler: several messages of one
// partition in offset order. A run of exchange_rate_updated events becomes
// one rates.Service.ApplyMany (one cache write, only the newest version of
// each currency); messages of the other topics go through Handler in turn.
// It stops at the first invalid message or failed write; the consumer
// runtime then hands the same messages to Handler one by one, which
// dead-letters the invalid one and retries the rest, and the
// version-guarded cache absorbs what was applied twice.
func BatchHandler(svc Service, log *slog.Logger) func(ctx context.Context, ms []kafka.Message) error {
	handle := Handler(svc, log)
	return func(ctx context.Context, ms []kafka.Message) error {
		rs := make([]rates.Rate, 0, len(ms))
		flush := func() error {
			if len(rs) == 0 {
				return nil
			}
			if err := svc.ApplyMany(ctx, rs); err != nil {
				return fmt.Errorf("handle %d %s events: %w", len(rs), event.TopicExchangeRateUpdated, err)
			}
			rs = rs[:0]
			return nil
		}
		for _, m := range ms {
			if m.Topic != event.TopicExchangeRateUpdated {
				if err := flush(); err != nil {
					return err
				}
				if err := handle(ctx, m); err != nil {
					return err
				}
				continue
			}
			ev, err := event.Decode(m.Topic, m.Value)
			if err != nil {
				return err
			}
			e, ok := ev.(*event.ExchangeRateUpdated)
			if !ok {
				return fmt.Errorf("%w: %s payload decoded as %T", event.ErrInvalid, m.Topic, ev)
			}
			rs = append(rs, rates.Rate{Rate: e.Rate})
		}
		if err := flush(); err != nil {
			return err
		}
		log.Debug("events handled", "topic", ms[0].Topic, "partition", ms[0].Partition,
			"offset", ms[0].Offset, "messages", len(ms))
		return nil
	}
}

// codesOf picks the currency codes out of logical keys such as
// exchange_rate:USD; other kinds of key are not the currency cache's.
func codesOf(keys []string) []string {
	var codes []string
	for _, k := range keys {
		if code, ok := event.ParseRateCacheKey(k); ok {
			codes = append(codes, code)
		}
	}
	return codes
}
