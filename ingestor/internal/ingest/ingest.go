// Package ingest is the ingestor's service: a run asks every configured
// provider in order (bounded retries with backoff, as the provider's
// classification of each failure says), validates what each returned
// against the last known rates, takes each currency from the first
// provider that quoted it (so later providers fill in the currencies the
// earlier ones lack, and take over all of them when those fail), holds
// back quotes that disagree with another provider's (crosscheck.go), and
// commits the rates, the daily aggregates, the run record and the run's events in one
// transaction (the transactional outbox). A relay publishes the outbox.
// HTTP handlers, the cron schedule and the backfill command are thin
// adapters over Service.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ratewire/ratewire/ingestor/internal/provider"
	"github.com/ratewire/ratewire/ingestor/internal/rate"
	"github.com/ratewire/ratewire/ingestor/internal/store"
	"github.com/ratewire/ratewire/shared/event"
)

// Store is the storage the service needs.
type Store interface {
	Latest(ctx context.Context) ([]event.Rate, error)
	CommitRun(ctx context.Context, bs []rate.Batch, run store.Run, events func([]event.Rate) ([]store.OutboxMessage, error)) ([]event.Rate, error)
	RecordRun(ctx context.Context, run store.Run) error
	Runs(ctx context.Context, limit int) ([]store.Run, error)
	LastRun(ctx context.Context, statuses ...string) (store.Run, bool, error)
}

// Run outcomes, as recorded in run records and metrics.
const (
	StatusSuccess = "success" // rates stored (possibly none changed)
	StatusNoData  = "no_data" // every provider answered that nothing is published (weekend, holiday)
	StatusFailed  = "failed"  // no usable data, or storing failed
)

// Config wires a Service.
type Config struct {
	Providers []provider.Provider
	Store     Store
	Logger    *slog.Logger
	Registry  prometheus.Registerer
	// Attempts per provider (default 3), first backoff (default 500 ms,
	// doubling) and the longest Retry-After the run will wait (default
	// 30 s; longer means moving on to the next provider).
	Attempts      int
	Backoff       time.Duration
	MaxRetryAfter time.Duration
	// MaxJump is the largest relative move against the last known rate
	// accepted without question (default 0.2 = 20 %).
	MaxJump float64
	// CrossCheckMaxDeviation is the largest relative difference accepted
	// between a quote and another provider's quote of the same currency
	// (default DefaultCrossCheckMaxDeviation, 0.03 = 3 %; negative turns
	// the check off). CrossCheckTTL is how long a provider's answer stays
	// a reference for runs in which that provider does not answer
	// (default DefaultCrossCheckTTL). See crosscheck.go.
	CrossCheckMaxDeviation float64
	CrossCheckTTL          time.Duration
	// Now is the clock; nil means time.Now. Sleep waits between attempts;
	// nil waits on a timer (tests inject one that returns at once).
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
	// Published is called after a run committed events, to wake the relay.
	Published func()
}

// Service runs collections. It is safe for concurrent use; runs never
// overlap in one process.
type Service struct {
	cfg Config
	log *slog.Logger
	m   *serviceMetrics
	mu  sync.Mutex // held for the whole of a run
	// blocked holds, per provider, when a rate limit longer than
	// MaxRetryAfter ends: later runs skip that provider until then instead
	// of calling a provider that blocks us (ExchangeRate-API blocks for 20
	// minutes). Guarded by mu.
	blocked map[string]time.Time
	// refs keeps each provider's last validated answer, the cross-check's
	// reference in runs that provider does not answer. Guarded by mu.
	refs map[string]refEntry
}

// New builds a Service.
func New(c Config) (*Service, error) {
	if len(c.Providers) == 0 || c.Store == nil || c.Logger == nil {
		return nil, errors.New("ingest: providers, store and logger are required")
	}
	if c.Attempts <= 0 {
		c.Attempts = 3
	}
	if c.Backoff <= 0 {
		c.Backoff = 500 * time.Millisecond
	}
	if c.MaxRetryAfter <= 0 {
		c.MaxRetryAfter = 30 * time.Second
	}
	if c.MaxJump <= 0 {
		c.MaxJump = 0.2
	}
	if c.CrossCheckMaxDeviation == 0 {
		c.CrossCheckMaxDeviation = DefaultCrossCheckMaxDeviation
	}
	if c.CrossCheckTTL <= 0 {
		c.CrossCheckTTL = DefaultCrossCheckTTL
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Sleep == nil {
		c.Sleep = sleep
	}
	if c.Published == nil {
		c.Published = func() {}
	}
	m, err := newServiceMetrics(c.Registry)
	if err != nil {
		return nil, err
	}
	return &Service{cfg: c, log: c.Logger, m: m, blocked: map[string]time.Time{}, refs: map[string]refEntry{}}, nil
}

// Providers lists the configured providers in failover order.
func (s *Service) Providers() []string {
	out := make([]string, len(s.cfg.Providers))
	for i, p := range s.cfg.Providers {
		out[i] = p.Name()
	}
	return out
}

// Run performs one collection. trigger says who asked ("startup",
// "schedule", "admin"). The returned record is also stored. A run that
// gets no usable data stores no rate and publishes nothing.
//
// The error is nil for a success and for no_data. A failed run returns its
// record and the cause; the cause wraps ErrDatabase when the database
// failed (reading, committing, or storing the record of a run that failed
// or found nothing, in which case the record exists only in the logs).
func (s *Service) Run(ctx context.Context, trigger string) (store.Run, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	run := store.Run{ID: uuid.NewString(), Trigger: trigger, StartedAt: s.cfg.Now().UTC()}
	log := s.log.With("run_id", run.ID, "correlation_id", run.ID, "trigger", trigger)

	err := s.run(ctx, log, &run)
	run.FinishedAt = s.cfg.Now().UTC()
	run.DurationMS = run.FinishedAt.Sub(run.StartedAt).Milliseconds()
	if err != nil && run.Status == "" {
		run.Status, run.Error = StatusFailed, err.Error()
	}
	if err != nil {
		run.Reason = reasonOf(err)
	}
	var recordErr error
	if run.Status != StatusSuccess {
		// Nothing was committed: record the run on its own. With the
		// database down this fails too, and the log line is what remains.
		if rerr := s.cfg.Store.RecordRun(context.WithoutCancel(ctx), run); rerr != nil {
			log.Error("run record not stored", "err", rerr)
			recordErr = dbError(rerr)
		}
	}
	s.m.runs.WithLabelValues(run.Status).Inc()
	s.m.duration.Observe(run.FinishedAt.Sub(run.StartedAt).Seconds())
	switch run.Status {
	case StatusSuccess:
		log.Info("ingestion run done", "provider", run.Provider, "fetched", run.Fetched, "rejected", run.Rejected,
			"changed", run.Changed, "events", run.Events, "duration_ms", run.DurationMS)
	case StatusNoData:
		log.Info("no rates published now", "attempts", len(run.Attempts), "duration_ms", run.DurationMS)
	default:
		log.Error("ingestion run failed", "err", run.Error, "provider", run.Provider, "duration_ms", run.DurationMS)
	}
	if run.Status == StatusFailed {
		return run, errors.Join(err, recordErr)
	}
	return run, recordErr
}

func (s *Service) run(ctx context.Context, log *slog.Logger, run *store.Run) error {
	batches, err := s.fetch(ctx, log, run)
	if err != nil {
		return err
	}
	run.Provider = sourcesOf(batches) // what answered, until the rates kept say otherwise
	known, err := s.cfg.Store.Latest(ctx)
	if err != nil {
		return dbError(fmt.Errorf("read last known rates: %w", err))
	}
	now := s.cfg.Now()
	for i := range batches {
		var rejected int
		run.Fetched += len(batches[i].Quotes)
		batches[i].Quotes, rejected = Validate(log, batches[i], known, s.cfg.MaxJump, now)
		run.Rejected += rejected
	}
	merged, cc := Merge(log, batches, s.crossCheck(batches, now))
	run.CrossCheck = cc
	if cc != nil {
		run.Rejected += len(cc.Rejected)
	}
	if len(merged) == 0 {
		return &reasoned{reason: ReasonRejected, err: fmt.Errorf("%s returned no usable rate (%d rejected)", sourcesOf(batches), run.Rejected)}
	}
	summary := Summary(merged)
	run.Provider = summary.Source
	run.RateDate = RateDate(summary)
	run.Status = StatusSuccess
	run.FinishedAt = s.cfg.Now().UTC()
	run.DurationMS = run.FinishedAt.Sub(run.StartedAt).Milliseconds()
	changed, err := s.cfg.Store.CommitRun(ctx, merged, *run, func(changed []event.Rate) ([]store.OutboxMessage, error) {
		return Outbox(Events(summary, changed, nil, run.ID, run.StartedAt, run.FinishedAt))
	})
	if err != nil {
		// The events closure only encodes; what fails here is the database.
		run.Status = ""
		return dbError(err)
	}
	run.Changed, run.Events = len(changed), len(changed)+3
	s.cfg.Published()
	return nil
}

// Merge takes each currency from the first of batches (validated answers,
// in RATEWIRE_PROVIDERS order) that quotes it: the first provider's
// currencies, then those only the next one quotes, and so on. Each kept
// quote stays in its own provider's batch, so every stored number keeps
// its source. With check, each quote taken is first compared with another
// provider's quote of the same currency (see crosscheck.go); one beyond
// the bound is not published, and its currency is not filled from a later
// provider either (the two disagree, and nothing says which is right).
// The yuan's twins (CNY from CNH or the other way round) are added only
// where no provider quotes that code itself. It returns the non-empty
// batches, in order, and the record of the check (nil without one).
func Merge(log *slog.Logger, batches []rate.Batch, check *Check) ([]rate.Batch, *store.CrossCheck) {
	cc := check.start(batches)
	taken := map[string]bool{}
	var out []rate.Batch
	for i, b := range batches {
		quotes := b.Quotes[:0:0]
		for _, q := range b.Quotes {
			if taken[q.Code] {
				continue
			}
			taken[q.Code] = true
			if !check.accepts(log, cc, b.Source, q, batches[i+1:]) {
				continue
			}
			quotes = append(quotes, q)
		}
		if len(quotes) > 0 {
			b.Quotes = quotes
			out = append(out, b)
		}
	}
	for i := range out {
		elsewhere := map[string]bool{}
		for j, o := range out {
			if j != i {
				for _, q := range o.Quotes {
					elsewhere[q.Code] = true
				}
			}
		}
		out[i].Quotes = rate.WithTwinsBeside(out[i].Quotes, elsewhere)
	}
	return out, cc
}

// Summary is one batch standing for a run's batches in its run record and
// run-level events: the sources joined by commas in order ("hana,koreaexim"),
// the latest fetch time and every quote.
func Summary(bs []rate.Batch) rate.Batch {
	if len(bs) == 1 {
		return bs[0]
	}
	var out rate.Batch
	for _, b := range bs {
		out.Quotes = append(out.Quotes, b.Quotes...)
		if b.FetchedAt.After(out.FetchedAt) {
			out.FetchedAt = b.FetchedAt
		}
	}
	out.Source = sourcesOf(bs)
	return out
}

func sourcesOf(bs []rate.Batch) string {
	names := make([]string, len(bs))
	for i, b := range bs {
		names[i] = b.Source
	}
	return strings.Join(names, ",")
}

// RateDate is the newest bank day among b's quotes: the day a run's rates
// belong to.
func RateDate(b rate.Batch) string {
	day := ""
	for _, q := range b.Quotes {
		day = max(day, q.Day())
	}
	return day
}

// fetch asks every provider in order, retrying transient failures with
// backoff, and returns the batches of those that answered with data, in
// order. It fails only when none did.
func (s *Service) fetch(ctx context.Context, log *slog.Logger, run *store.Run) ([]rate.Batch, error) {
	var errs []error
	var got []rate.Batch
	noData := 0
	for _, p := range s.cfg.Providers {
		if until, ok := s.blocked[p.Name()]; ok {
			if now := s.cfg.Now(); now.Before(until) {
				err := fmt.Errorf("rate limited until %s: not asked", until.UTC().Format(time.RFC3339))
				run.Attempts = append(run.Attempts, store.Attempt{Provider: p.Name(), Outcome: "skipped",
					Reason: ReasonRateLimited, Error: err.Error()})
				log.Info("provider skipped", "provider", p.Name(), "blocked_until", until.UTC())
				errs = append(errs, fmt.Errorf("%s: %w", p.Name(), err))
				continue
			}
			delete(s.blocked, p.Name())
		}
		b, err := s.fetchOne(ctx, log, p, run)
		if err == nil {
			got = append(got, b)
			continue
		}
		if kind, _ := provider.Classify(err); kind == provider.NoData {
			noData++
		}
		errs = append(errs, fmt.Errorf("%s: %w", p.Name(), err))
		if ctx.Err() != nil {
			break
		}
	}
	if len(got) > 0 && ctx.Err() == nil {
		return got, nil
	}
	if noData == len(s.cfg.Providers) {
		run.Status = StatusNoData
	}
	return nil, &reasoned{reason: fetchReason(run.Attempts), err: fmt.Errorf("no provider answered: %w", errors.Join(errs...))}
}

// fetchOne asks p up to Attempts times. What each failure means is the
// provider's classification (provider.Classify), the one translation of
// provider errors: Temporary retries after a doubling backoff (a 503's
// Retry-After is not waited for); RateLimited retries after its
// RetryAfter when that is at most MaxRetryAfter, else moves on and
// leaves the provider out of later runs until the RetryAfter has passed
// (when the provider does not say, it just moves on); Permanent moves on
// at once; NoData (an answer without rates included) ends the provider's
// turn as no_data.
// The error returned keeps the failure's classification.
func (s *Service) fetchOne(ctx context.Context, log *slog.Logger, p provider.Provider, run *store.Run) (rate.Batch, error) {
	backoff := s.cfg.Backoff
	var last error
	for attempt := 1; attempt <= s.cfg.Attempts; attempt++ {
		start := s.cfg.Now()
		b, err := p.Fetch(ctx)
		elapsed := s.cfg.Now().Sub(start)
		a := store.Attempt{Provider: p.Name(), Attempt: attempt, DurationMS: elapsed.Milliseconds()}
		if err == nil && len(b.Quotes) == 0 {
			err = fmt.Errorf("answer without rates: %w", provider.ErrNoData)
		}
		if err == nil {
			a.Outcome = "ok"
			run.Attempts = append(run.Attempts, a)
			s.m.provider.WithLabelValues(p.Name(), "ok").Observe(elapsed.Seconds())
			return b, nil
		}
		kind, wait := provider.Classify(err)
		a.Outcome, a.Reason, a.Error = "failed", providerReason(err), err.Error()
		if kind == provider.NoData {
			a.Outcome = "no_data"
		}
		run.Attempts = append(run.Attempts, a)
		s.m.provider.WithLabelValues(p.Name(), a.Outcome).Observe(elapsed.Seconds())
		log.Warn("provider attempt failed", "provider", p.Name(), "attempt", attempt, "outcome", a.Outcome, "err", err)
		last = err
		switch kind {
		case provider.NoData, provider.Permanent:
			return rate.Batch{}, err
		case provider.RateLimited:
			if wait <= 0 { // a quota without a reset time: not worth a short wait
				return rate.Batch{}, err
			}
			if wait > s.cfg.MaxRetryAfter {
				s.blocked[p.Name()] = s.cfg.Now().Add(wait)
				return rate.Batch{}, fmt.Errorf("rate limited for %s: %w", wait, err)
			}
		default:
			wait = 0
		}
		if attempt == s.cfg.Attempts {
			break
		}
		if wait < backoff {
			wait = backoff
		}
		if err := s.cfg.Sleep(ctx, wait); err != nil {
			return rate.Batch{}, err
		}
		backoff *= 2
	}
	return rate.Batch{}, fmt.Errorf("%d attempts: %w", s.cfg.Attempts, last)
}

// Runs returns the latest run records, newest first.
func (s *Service) Runs(ctx context.Context, limit int) ([]store.Run, error) {
	return s.cfg.Store.Runs(ctx, limit)
}

// LastRun returns the latest run with one of the statuses.
func (s *Service) LastRun(ctx context.Context, statuses ...string) (store.Run, bool, error) {
	return s.cfg.Store.LastRun(ctx, statuses...)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Events builds a run's events in publication order: new_data_received,
// one exchange_rate_updated per changed currency, cache_invalidation, and
// data_processing_completed last. All carry the run id as correlation id.
// The invalidation lists the changed currencies and the stale ones: codes
// whose stored history moved without a new latest rate (a backfill's
// earlier days), so the caches drop what they answered from before.
func Events(b rate.Batch, changed []event.Rate, stale []string, runID string, started, now time.Time) []event.Event {
	now = now.UTC()
	evs := make([]event.Event, 0, len(changed)+3)
	evs = append(evs, &event.NewDataReceived{
		Source: b.Source, DataCount: len(b.Quotes), CollectionTime: b.FetchedAt.UTC(),
		ProcessingTimeMS: now.Sub(started).Milliseconds(),
	})
	keys := make([]string, 0, len(changed)+len(stale))
	listed := make(map[string]bool, len(changed)+len(stale))
	for _, l := range changed {
		evs = append(evs, &event.ExchangeRateUpdated{Rate: l})
		keys = append(keys, event.RateCacheKey(l.CurrencyCode))
		listed[l.CurrencyCode] = true
	}
	for _, code := range stale {
		if !listed[code] {
			keys = append(keys, event.RateCacheKey(code))
			listed[code] = true
		}
	}
	evs = append(evs,
		&event.CacheInvalidation{CacheKeys: keys, InvalidationType: event.InvalidationExchangeRate, InvalidatedAt: now},
		&event.DataProcessingCompleted{
			Source: b.Source, TotalProcessed: len(b.Quotes), CompletedAt: now,
			ProcessingTimeMS: now.Sub(started).Milliseconds(),
		})
	for _, e := range evs {
		event.Stamp(e, runID)
	}
	return evs
}
