// Package ingest is the ingestor's service: one run fetches rates from the
// first provider that answers, validates them, stores them in one
// transaction and publishes the run's events. HTTP handlers and the cron
// schedule are thin adapters over Service.Run.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ratewire/ratewire/ingestor/internal/provider"
	"github.com/ratewire/ratewire/ingestor/internal/rate"
	"github.com/ratewire/ratewire/shared/event"
)

// Store is the storage the service needs.
type Store interface {
	SaveBatch(ctx context.Context, b rate.Batch, runID string, now time.Time) ([]rate.Latest, error)
}

// Publisher sends events to Kafka, synchronously: nil means the brokers
// acknowledged every one.
type Publisher interface {
	Publish(ctx context.Context, events ...event.Event) error
}

// Run outcomes, as recorded in summaries and metrics.
const (
	StatusSuccess = "success"
	StatusFailed  = "failed"
	StatusSkipped = "skipped"
)

// Summary describes one run.
type Summary struct {
	RunID      string    `json:"run_id"`
	Trigger    string    `json:"trigger"`
	Status     string    `json:"status"`
	Source     string    `json:"source,omitempty"`
	Fetched    int       `json:"fetched"`
	Rejected   int       `json:"rejected"`
	Changed    int       `json:"changed"`
	Published  int       `json:"published"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
	DurationMS int64     `json:"duration_ms"`
	Error      string    `json:"error,omitempty"`
}

// Service runs collections. It is safe for concurrent use; runs never
// overlap.
type Service struct {
	providers []provider.Provider
	store     Store
	publisher Publisher
	log       *slog.Logger
	now       func() time.Time

	mu   sync.Mutex // held for the whole of a run
	runs *prometheus.CounterVec
	dur  prometheus.Histogram
}

// Config wires a Service.
type Config struct {
	Providers []provider.Provider
	Store     Store
	Publisher Publisher
	Logger    *slog.Logger
	Registry  prometheus.Registerer
	Now       func() time.Time // nil means time.Now
}

// New builds a Service.
func New(c Config) (*Service, error) {
	if len(c.Providers) == 0 || c.Store == nil || c.Publisher == nil || c.Logger == nil {
		return nil, errors.New("ingest: providers, store, publisher and logger are required")
	}
	s := &Service{
		providers: c.Providers, store: c.Store, publisher: c.Publisher, log: c.Logger, now: c.Now,
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ratewire_ingest_runs_total", Help: "Ingestion runs by outcome.",
		}, []string{"outcome"}),
		dur: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "ratewire_ingest_run_duration_seconds", Help: "Duration of ingestion runs.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 12),
		}),
	}
	if s.now == nil {
		s.now = time.Now
	}
	if c.Registry != nil {
		if err := c.Registry.Register(s.runs); err != nil {
			return nil, fmt.Errorf("ingest: register metrics: %w", err)
		}
		if err := c.Registry.Register(s.dur); err != nil {
			return nil, fmt.Errorf("ingest: register metrics: %w", err)
		}
	}
	return s, nil
}

// Run performs one collection. trigger says who asked ("startup",
// "schedule", "admin"). A run that gets no usable data stores and
// publishes nothing; its summary says why.
func (s *Service) Run(ctx context.Context, trigger string) (Summary, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sum := Summary{RunID: uuid.NewString(), Trigger: trigger, StartedAt: s.now().UTC()}
	log := s.log.With("run_id", sum.RunID, "correlation_id", sum.RunID, "trigger", trigger)
	err := s.run(ctx, log, &sum)
	sum.FinishedAt = s.now().UTC()
	sum.DurationMS = sum.FinishedAt.Sub(sum.StartedAt).Milliseconds()
	s.dur.Observe(sum.FinishedAt.Sub(sum.StartedAt).Seconds())
	if err != nil {
		sum.Status, sum.Error = StatusFailed, err.Error()
		s.runs.WithLabelValues(StatusFailed).Inc()
		log.Error("ingestion run failed", "err", err, "source", sum.Source, "duration_ms", sum.DurationMS)
		return sum, err
	}
	sum.Status = StatusSuccess
	s.runs.WithLabelValues(StatusSuccess).Inc()
	log.Info("ingestion run done", "source", sum.Source, "fetched", sum.Fetched, "rejected", sum.Rejected,
		"changed", sum.Changed, "published", sum.Published, "duration_ms", sum.DurationMS)
	return sum, nil
}

func (s *Service) run(ctx context.Context, log *slog.Logger, sum *Summary) error {
	batch, err := s.fetch(ctx, log)
	if err != nil {
		return err
	}
	sum.Source, sum.Fetched = batch.Source, len(batch.Quotes)
	batch.Quotes, sum.Rejected = validate(log, batch)
	if len(batch.Quotes) == 0 {
		return fmt.Errorf("%s returned no usable rate", batch.Source)
	}
	changed, err := s.store.SaveBatch(ctx, batch, sum.RunID, s.now())
	if err != nil {
		return err
	}
	sum.Changed = len(changed)
	events := s.events(batch, changed, sum)
	// The rates are stored; if Kafka is unavailable the events of this run
	// are reported as a failure. The transactional outbox that makes this
	// lossless is a separate piece of work.
	if err := s.publisher.Publish(ctx, events...); err != nil {
		return fmt.Errorf("publish %d events: %w", len(events), err)
	}
	sum.Published = len(events)
	return nil
}

// fetch asks each provider in order and returns the first batch with data.
func (s *Service) fetch(ctx context.Context, log *slog.Logger) (rate.Batch, error) {
	var errs []error
	for _, p := range s.providers {
		b, err := p.Fetch(ctx)
		if err == nil && len(b.Quotes) > 0 {
			return b, nil
		}
		if err == nil {
			err = errors.New("no rates published")
		}
		log.Warn("provider failed, trying the next", "provider", p.Name(), "err", err)
		errs = append(errs, fmt.Errorf("%s: %w", p.Name(), err))
		if ctx.Err() != nil {
			break
		}
	}
	return rate.Batch{}, fmt.Errorf("no provider answered: %w", errors.Join(errs...))
}

// validate drops quotes that cannot be right, logging why.
func validate(log *slog.Logger, b rate.Batch) ([]rate.Quote, int) {
	kept := b.Quotes[:0:0]
	for _, q := range b.Quotes {
		var reason string
		switch {
		case len(q.Code) != 3:
			reason = "currency code is not three letters"
		case !q.DealBaseRate.IsPositive():
			reason = "deal base rate is not positive"
		case q.TTS != nil && !q.TTS.IsPositive(), q.TTB != nil && !q.TTB.IsPositive():
			reason = "spread rate is not positive"
		case q.RecordedAt.IsZero():
			reason = "quote has no time"
		}
		if reason != "" {
			log.Warn("rate rejected", "source", b.Source, "currency_code", q.Code, "reason", reason)
			continue
		}
		kept = append(kept, q)
	}
	return kept, len(b.Quotes) - len(kept)
}

// events builds the run's events in publication order: new_data_received,
// one exchange_rate_updated per changed currency, cache_invalidation, and
// data_processing_completed last.
func (s *Service) events(b rate.Batch, changed []rate.Latest, sum *Summary) []event.Event {
	now := s.now().UTC()
	evs := make([]event.Event, 0, len(changed)+3)
	evs = append(evs, &event.NewDataReceived{
		Source: b.Source, DataCount: len(b.Quotes), CollectionTime: b.FetchedAt.UTC(),
		ProcessingTimeMS: now.Sub(sum.StartedAt).Milliseconds(),
	})
	keys := make([]string, 0, len(changed))
	for _, l := range changed {
		evs = append(evs, &event.ExchangeRateUpdated{
			CurrencyCode: l.Code, CurrencyName: l.Name, DealBaseRate: l.DealBaseRate, TTS: l.TTS, TTB: l.TTB,
			Source: l.Source, RecordedAt: l.RecordedAt, UpdatedAt: l.UpdatedAt, Version: l.Version,
		})
		keys = append(keys, "exchange_rate:"+l.Code)
	}
	evs = append(evs,
		&event.CacheInvalidation{CacheKeys: keys, InvalidationType: "exchange_rate", InvalidatedAt: now},
		&event.DataProcessingCompleted{
			Source: b.Source, TotalProcessed: len(b.Quotes), CompletedAt: now,
			ProcessingTimeMS: now.Sub(sum.StartedAt).Milliseconds(),
		})
	for _, e := range evs {
		event.Stamp(e, sum.RunID)
	}
	return evs
}
