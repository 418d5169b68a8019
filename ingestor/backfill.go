package ingestor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/ratewire/ratewire/ingestor/internal/ingest"
	"github.com/ratewire/ratewire/ingestor/internal/provider"
	"github.com/ratewire/ratewire/ingestor/internal/rate"
	"github.com/ratewire/ratewire/ingestor/internal/store"
	"github.com/ratewire/ratewire/shared/event"
	"github.com/ratewire/ratewire/shared/logx"
	"github.com/ratewire/ratewire/shared/sqldb"
)

// BackfillOptions says what to backfill.
type BackfillOptions struct {
	// Provider is one of RATEWIRE_PROVIDERS' names that can serve a
	// range: frankfurter (ECB time series), koreaexim (one request per
	// business day) or simulated.
	Provider string
	// From and To bound the range (inclusive).
	From, To time.Time
	// Step is the simulated provider's spacing; zero means five minutes.
	Step time.Duration
	// OnlyIfEmpty skips the backfill when the database already holds rates
	// (devstack uses it so restarts keep their data).
	OnlyIfEmpty bool
	Logger      *slog.Logger
	Now         func() time.Time
}

// BackfillResult summarises a backfill.
type BackfillResult struct {
	RunID        string `json:"run_id"`
	Batches      int    `json:"batches"`
	Observations int    `json:"observations"`
	Skipped      bool   `json:"skipped"`
}

// Backfill loads historical rates so history has real depth. Each
// provider day (or simulated step) is stored like a run's batch:
// observations, daily OHLC and, when newer, the latest rate. Backfilled
// batches publish no per-batch events; the last batch is committed as a
// run (trigger "backfill") with its events in the outbox, whose
// cache_invalidation lists every backfilled currency; the ingestor's relay
// publishes them, so running services drop and refresh their caches.
func Backfill(ctx context.Context, cfg Config, o BackfillOptions) (BackfillResult, error) {
	log := o.Logger
	if log == nil {
		log = logx.Discard()
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	if err := cfg.RequireDatabase(); err != nil {
		return BackfillResult{}, err
	}
	if !o.To.After(o.From) {
		return BackfillResult{}, fmt.Errorf("backfill: empty range %s .. %s", o.From.Format(time.RFC3339), o.To.Format(time.RFC3339))
	}
	p, err := provider.New(o.Provider, providerSettings(cfg, now))
	if err != nil {
		return BackfillResult{}, fmt.Errorf("backfill: %w", err)
	}
	if s, ok := p.(*provider.Simulated); ok && o.Step > 0 {
		s.Step = o.Step
	}
	if k, ok := p.(*provider.KoreaExim); ok {
		k.Concurrency = 2 // one request per day: the most the provider allows
	}
	hist, ok := p.(provider.Historical)
	if !ok {
		return BackfillResult{}, fmt.Errorf("backfill: provider %s has no history to fetch", o.Provider)
	}
	db, err := sqldb.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return BackfillResult{}, err
	}
	defer db.Close()
	st := store.New(db)
	if err := st.Migrate(ctx); err != nil {
		return BackfillResult{}, err
	}
	res := BackfillResult{RunID: uuid.NewString()}
	if o.OnlyIfEmpty {
		latest, err := st.Latest(ctx)
		if err != nil {
			return res, err
		}
		if len(latest) > 0 {
			res.Skipped = true
			return res, nil
		}
	}
	started := now().UTC()
	batches, err := hist.FetchRange(ctx, o.From, o.To)
	if err != nil {
		return res, fmt.Errorf("backfill: fetch %s: %w", o.Provider, err)
	}
	if len(batches) == 0 {
		return res, errors.New("backfill: the provider returned nothing for the range")
	}
	for i := range batches {
		// Absurd or malformed quotes are dropped as in a live run; jumps are
		// not judged, since history has no "last known" rate to judge by.
		batches[i].Quotes, _ = ingest.Validate(log, batches[i], nil, 1, now())
		batches[i].Quotes = rate.WithTwins(batches[i].Quotes)
	}
	last := batches[len(batches)-1]
	if err := st.SaveBatches(ctx, batches[:len(batches)-1], res.RunID, now()); err != nil {
		return res, fmt.Errorf("backfill: %w", err)
	}
	for _, b := range batches[:len(batches)-1] {
		res.Batches++
		res.Observations += len(b.Quotes)
	}
	run := store.Run{ID: res.RunID, Trigger: "backfill", Status: ingest.StatusSuccess, Provider: last.Source, RateDate: ingest.RateDate(last),
		Fetched: res.Observations + len(last.Quotes), StartedAt: started, FinishedAt: now().UTC()}
	run.DurationMS = run.FinishedAt.Sub(started).Milliseconds()
	// Every backfilled currency's history moved, whether or not its latest
	// rate did: the run's cache_invalidation lists them all, so history
	// drops the answers it computed before or during the backfill.
	var stale []string
	seen := map[string]bool{}
	for _, b := range batches {
		for _, q := range b.Quotes {
			if !seen[q.Code] {
				seen[q.Code] = true
				stale = append(stale, q.Code)
			}
		}
	}
	slices.Sort(stale)
	if _, err := st.CommitRun(ctx, []rate.Batch{last}, run, func(changed []event.Rate) ([]store.OutboxMessage, error) {
		return ingest.Outbox(ingest.Events(last, changed, stale, run.ID, started, run.FinishedAt))
	}); err != nil {
		return res, fmt.Errorf("backfill: %w", err)
	}
	res.Batches++
	res.Observations += len(last.Quotes)
	log.Info("backfill done", "provider", o.Provider, "batches", res.Batches, "observations", res.Observations,
		"from", o.From.Format(time.RFC3339), "to", o.To.Format(time.RFC3339), "duration_ms", now().Sub(started).Milliseconds())
	return res, nil
}

// HasRates reports whether the database of cfg already holds current
// rates; devstack backfills only an empty database.
func HasRates(ctx context.Context, cfg Config) (bool, error) {
	db, err := sqldb.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return false, err
	}
	defer db.Close()
	st := store.New(db)
	if err := st.Migrate(ctx); err != nil {
		return false, err
	}
	latest, err := st.Latest(ctx)
	return len(latest) > 0, err
}

// BackfillProvider picks the configured provider to backfill from: the
// first that serves a range cheaply (simulated, or frankfurter in one
// request), else Korea Eximbank, one request per business day (about 125
// of its 1,000 daily requests for 180 days, and only into an empty
// database). ExchangeRate-API has no history. It returns "" when none fits.
func BackfillProvider(cfg Config) string {
	for _, p := range cfg.Providers {
		if p == ProviderSimulated || p == ProviderFrankfurter {
			return p
		}
	}
	if slices.Contains(cfg.Providers, ProviderKoreaExim) {
		return ProviderKoreaExim
	}
	return ""
}
