package ingest

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/shopspring/decimal"

	"github.com/ratewire/ratewire/ingestor/internal/provider"
	"github.com/ratewire/ratewire/ingestor/internal/rate"
	"github.com/ratewire/ratewire/ingestor/internal/store"
)

// Cross-provider sanity (DESIGN.md §5). A provider can be wrong in ways no
// single body shows: real ExchangeRate-API tables disagreed with
// themselves by 9 % (NGN) and 18 % (MMK) between bases on the same update.
// When more than one real provider is configured, a run compares the
// quotes of the provider that answered with a reference: another
// configured provider's quotes of the same currencies. A quote that
// differs from the reference's by more than CrossCheckMaxDeviation is not
// published, and the run records which, by how much and against whom.
//
// How the reference is obtained, without changing failover:
//   - the provider that answered is the run's source, as before; the
//     reference only vetoes quotes, it never supplies them;
//   - the reference is the first provider after the source in
//     RATEWIRE_PROVIDERS that gives rates in one attempt (no retries: a
//     reference must not slow a run down much), or failing that a fresh
//     cached answer of any provider before it (they failed this run);
//   - its answer is cached for CrossCheckTTL, so a schedule every 5
//     minutes does not double the provider traffic;
//   - the simulator is never a reference nor checked: simulated numbers
//     say nothing about real ones;
//   - a provider rate limited by an earlier run is not asked;
//   - when no reference answers, the quotes are published unchecked and
//     the run records why (cross_check.skipped).

// Defaults of the cross-check.
const (
	DefaultCrossCheckMaxDeviation = 0.03
	DefaultCrossCheckTTL          = time.Hour
)

// refEntry is a cached reference answer.
type refEntry struct {
	batch   rate.Batch
	fetched time.Time
}

// crossCheck compares b, the answer of the provider at index src, with a
// reference and returns the quotes to publish, the record of the check
// (nil when none applies) and how many quotes it rejected.
func (s *Service) crossCheck(ctx context.Context, log *slog.Logger, run *store.Run, src int, b rate.Batch) ([]rate.Quote, *store.CrossCheck, int) {
	if s.cfg.CrossCheckMaxDeviation < 0 || b.Source == provider.SimulatedName || len(b.Quotes) == 0 {
		return b.Quotes, nil, 0
	}
	ref, name, tried := s.reference(ctx, log, run, src)
	if !tried {
		return b.Quotes, nil, 0 // no other real provider configured
	}
	bound := decimal.NewFromFloat(s.cfg.CrossCheckMaxDeviation)
	cc := &store.CrossCheck{MaxDeviation: bound.String()}
	if name == "" {
		cc.Skipped = "no reference provider answered"
		log.Warn("cross-check skipped: no reference provider answered", "source", b.Source)
		return b.Quotes, cc, 0
	}
	cc.Reference = name
	refRates := make(map[string]decimal.Decimal, len(ref.Quotes))
	for _, q := range ref.Quotes {
		refRates[q.Code] = q.DealBaseRate
	}
	kept := make([]rate.Quote, 0, len(b.Quotes))
	for _, q := range b.Quotes {
		r, ok := refRates[q.Code]
		if !ok || !r.IsPositive() {
			kept = append(kept, q)
			continue
		}
		cc.Compared++
		dev := q.DealBaseRate.Sub(r).Div(r).Abs()
		if dev.LessThanOrEqual(bound) {
			kept = append(kept, q)
			continue
		}
		rj := store.CrossRejection{Code: q.Code, Rate: q.DealBaseRate.String(), Reference: r.String(), Deviation: dev.Round(4).String()}
		cc.Rejected = append(cc.Rejected, rj)
		log.Warn("rate rejected", "source", b.Source, "currency_code", q.Code, "reason", "differs from another provider's quote",
			"rate", rj.Rate, "reference", name, "reference_rate", rj.Reference, "deviation", rj.Deviation, "max_deviation", cc.MaxDeviation)
	}
	return kept, cc, len(cc.Rejected)
}

// reference finds the run's reference answer (see above). tried is false
// when no provider besides the source could be one.
func (s *Service) reference(ctx context.Context, log *slog.Logger, run *store.Run, src int) (b rate.Batch, name string, tried bool) {
	now := s.cfg.Now()
	fresh := func(p provider.Provider) (rate.Batch, bool) {
		e, ok := s.refs[p.Name()]
		if ok && now.Sub(e.fetched) < s.cfg.CrossCheckTTL && len(e.batch.Quotes) > 0 {
			return e.batch, true
		}
		return rate.Batch{}, false
	}
	for i, p := range s.cfg.Providers {
		if i == src || p.Name() == provider.SimulatedName {
			continue
		}
		tried = true
		if b, ok := fresh(p); ok {
			return b, p.Name(), true
		}
		if i < src {
			continue // it failed this run: only its cached answer counts
		}
		if until, blocked := s.blocked[p.Name()]; blocked && now.Before(until) {
			continue
		}
		start := s.cfg.Now()
		rb, err := p.Fetch(ctx)
		elapsed := s.cfg.Now().Sub(start)
		a := store.Attempt{Provider: p.Name(), Attempt: 1, Outcome: "reference", DurationMS: elapsed.Milliseconds()}
		if err == nil && len(rb.Quotes) == 0 {
			err = fmt.Errorf("answer without rates: %w", provider.ErrNoData)
		}
		if err != nil {
			a.Outcome, a.Reason, a.Error = "reference_failed", providerReason(err), err.Error()
			if kind, wait := provider.Classify(err); kind == provider.RateLimited && wait > s.cfg.MaxRetryAfter {
				s.blocked[p.Name()] = s.cfg.Now().Add(wait)
			}
			log.Warn("reference provider failed", "provider", p.Name(), "err", err)
		}
		run.Attempts = append(run.Attempts, a)
		s.m.provider.WithLabelValues(p.Name(), a.Outcome).Observe(elapsed.Seconds())
		if err == nil {
			s.refs[p.Name()] = refEntry{batch: rb, fetched: now}
			return rb, p.Name(), true
		}
	}
	return rate.Batch{}, "", tried
}
