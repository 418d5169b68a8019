// Package consumer adapts the ingestor's events to the history service:
// exchange_rate_updated drops every cached answer involving that currency
// (as base or target) and no other; cache_invalidation does the same for
// the currencies it lists (logical keys exchange_rate:{CODE}). A run
// announces each changed currency on both, so each currency is dropped
// once per run, by whichever of the two arrives first. The other two
// topics carry nothing history caches depend on.
package consumer

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/segmentio/kafka-go"

	"github.com/ratewire/ratewire/shared/event"
)

// GroupID is the history service's consumer group.
const GroupID = "history-service"

// rememberedPairs bounds the (run, currency) pairs the handler remembers:
// a run changes a few dozen currencies at most and its events arrive
// within seconds of each other, so this covers dozens of runs in about a
// hundred kilobytes.
const rememberedPairs = 1024

// Invalidator is what the handler needs from the service.
type Invalidator interface {
	Invalidate(ctx context.Context, code string) (int, error)
}

// Handler returns the kafkabus handler for the four topics. An invalid
// message is returned as an error wrapping event.ErrInvalid, which the
// consumer runtime dead-letters without retrying; handling is idempotent,
// so redelivered duplicates are harmless (an extra invalidation at most).
//
// A run's exchange_rate_updated and cache_invalidation name the same
// currencies, and the ingestor writes all of a run's rates and events in
// one transaction (its outbox), so when any event of a run arrives all of
// the run's rates are committed: one invalidation after that suffices,
// since the cache's generations refuse fills that read before it. The
// handler therefore remembers, in memory and bounded, the (correlation
// id, code) pairs it invalidated, and skips a pair it has seen, whichever
// topic comes first (partitions are handled in parallel, so either may).
// A pair is remembered only once its invalidation succeeded, so a failed
// one is retried by the next event. Several replicas, a restart or a
// rebalance may still drop a currency twice in one run: harmless, the
// second drop only costs a cache miss.
func Handler(svc Invalidator, log *slog.Logger) func(ctx context.Context, m kafka.Message) error {
	done := newSeen(rememberedPairs)
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
			for _, k := range e.CacheKeys {
				if code, ok := event.ParseRateCacheKey(k); ok {
					codes = append(codes, code)
				}
			}
		}
		for _, code := range codes {
			if done.has(meta.CorrelationID, code) {
				log.Debug("history cache already invalidated in this run", "currency_code", code,
					"event_id", meta.EventID, "correlation_id", meta.CorrelationID)
				continue
			}
			n, err := svc.Invalidate(ctx, code)
			if err != nil {
				return fmt.Errorf("handle %s %s: %w", meta.EventType, meta.EventID, err)
			}
			done.add(meta.CorrelationID, code)
			log.Debug("history cache invalidated", "currency_code", code, "entries", n,
				"event_id", meta.EventID, "correlation_id", meta.CorrelationID)
		}
		return nil
	}
}

// pair is one currency of one run.
type pair struct{ run, code string }

// seen is a bounded set of pairs that forgets the oldest first. It is safe
// for the handler's concurrent calls (one per partition).
type seen struct {
	mu    sync.Mutex
	set   map[pair]struct{}
	order []pair // ring of the remembered pairs, oldest at next once full
	next  int
}

func newSeen(capacity int) *seen {
	return &seen{set: make(map[pair]struct{}, capacity), order: make([]pair, 0, capacity)}
}

// has reports whether code was invalidated for run. An event without a
// correlation id belongs to no known run and is never skipped.
func (s *seen) has(run, code string) bool {
	if run == "" {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.set[pair{run, code}]
	return ok
}

// add remembers that code was invalidated for run.
func (s *seen) add(run, code string) {
	if run == "" {
		return
	}
	p := pair{run, code}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.set[p]; ok {
		return
	}
	s.set[p] = struct{}{}
	if len(s.order) < cap(s.order) {
		s.order = append(s.order, p)
		return
	}
	delete(s.set, s.order[s.next])
	s.order[s.next] = p
	s.next = (s.next + 1) % len(s.order)
}
