package ingest

import (
	"log/slog"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/ratewire/ratewire/ingestor/internal/provider"
	"github.com/ratewire/ratewire/ingestor/internal/rate"
	"github.com/ratewire/ratewire/ingestor/internal/store"
)

// Cross-provider sanity (DESIGN.md §5). A provider can be wrong in ways no
// single body shows: real ExchangeRate-API tables disagreed with
// themselves by 9 % (NGN) and 18 % (MMK) between bases on the same update.
// When more than one real provider is configured, each quote a run takes
// is compared with a reference: another provider's quote of the same
// currency. A quote that differs from its reference by more than
// CrossCheckMaxDeviation is not published, and the run records which, by
// how much and against whom.
//
// Where the reference comes from, at no extra request:
//   - a run asks every provider anyway (multi-source, see Merge), so the
//     reference of a quote is the same currency from the first later
//     provider in RATEWIRE_PROVIDERS that quoted it validly in this run
//     (every provider before it that quoted the currency validly would
//     have supplied it instead);
//   - only where no other provider of this run quotes the currency, the
//     last validated answer of a provider that did not answer this run
//     (failed, rate limited, nothing published) stands in, when it is
//     less than CrossCheckTTL old;
//   - the simulator is never a reference nor checked: simulated numbers
//     say nothing about real ones;
//   - a quote without any reference is published unchecked; when no other
//     provider answered at all, the run records why (cross_check.skipped).

// Defaults of the cross-check.
const (
	DefaultCrossCheckMaxDeviation = 0.03
	DefaultCrossCheckTTL          = time.Hour
)

// refEntry is a provider's last validated answer.
type refEntry struct {
	batch   rate.Batch
	fetched time.Time
}

// Check is a cross-provider check for Merge. A nil *Check checks nothing.
type Check struct {
	// MaxDeviation is the bound, as a fraction (0.03 = 3 %).
	MaxDeviation decimal.Decimal
	// Cached holds the recent answers of configured providers that did not
	// answer this run: references of last resort.
	Cached []rate.Batch
}

// crossCheck remembers this run's validated answers and returns the check
// the run makes: nil when it is turned off or fewer than two real
// providers are configured.
func (s *Service) crossCheck(batches []rate.Batch, now time.Time) *Check {
	answered := map[string]bool{}
	for _, b := range batches {
		answered[b.Source] = true
		if b.Source != provider.SimulatedName && len(b.Quotes) > 0 {
			s.refs[b.Source] = refEntry{batch: b, fetched: now}
		}
	}
	real := 0
	for _, p := range s.cfg.Providers {
		if p.Name() != provider.SimulatedName {
			real++
		}
	}
	if s.cfg.CrossCheckMaxDeviation < 0 || real < 2 {
		return nil
	}
	c := &Check{MaxDeviation: decimal.NewFromFloat(s.cfg.CrossCheckMaxDeviation)}
	for _, p := range s.cfg.Providers {
		if e, ok := s.refs[p.Name()]; ok && !answered[p.Name()] && now.Sub(e.fetched) < s.cfg.CrossCheckTTL {
			c.Cached = append(c.Cached, e.batch)
		}
	}
	return c
}

// start opens the run's record: skipped when no batch could serve as a
// reference.
func (c *Check) start(batches []rate.Batch) *store.CrossCheck {
	if c == nil {
		return nil
	}
	cc := &store.CrossCheck{MaxDeviation: c.MaxDeviation.String()}
	answers := len(c.Cached)
	for _, b := range batches {
		if b.Source != provider.SimulatedName && len(b.Quotes) > 0 {
			answers++
		}
	}
	if answers < 2 {
		cc.Skipped = "no other provider answered"
	}
	return cc
}

// accepts compares q, quoted by source, with its reference among later
// (the batches after source's in this run) and then c.Cached, records the
// comparison in cc, and says whether q may be published.
func (c *Check) accepts(log *slog.Logger, cc *store.CrossCheck, source string, q rate.Quote, later []rate.Batch) bool {
	if c == nil || source == provider.SimulatedName {
		return true
	}
	refRate, refSource, ok := referenceOf(q.Code, later, c.Cached)
	if !ok {
		return true
	}
	cc.Compared++
	if !contains(cc.Reference, refSource) {
		cc.Reference = strings.TrimPrefix(cc.Reference+","+refSource, ",")
	}
	dev := q.DealBaseRate.Sub(refRate).Div(refRate).Abs()
	if dev.LessThanOrEqual(c.MaxDeviation) {
		return true
	}
	rj := store.CrossRejection{Code: q.Code, Source: source, Rate: q.DealBaseRate.String(), ReferenceSource: refSource,
		Reference: refRate.String(), Deviation: dev.Round(4).String()}
	cc.Rejected = append(cc.Rejected, rj)
	log.Warn("rate rejected", "source", source, "currency_code", q.Code, "reason", "differs from another provider's quote",
		"rate", rj.Rate, "reference", refSource, "reference_rate", rj.Reference, "deviation", rj.Deviation, "max_deviation", cc.MaxDeviation)
	return false
}

// referenceOf finds the first real provider's quote of code, in this run's
// later batches and then in the cached ones.
func referenceOf(code string, later, cached []rate.Batch) (decimal.Decimal, string, bool) {
	for _, bs := range [][]rate.Batch{later, cached} {
		for _, b := range bs {
			if b.Source == provider.SimulatedName {
				continue
			}
			for _, q := range b.Quotes {
				if q.Code == code && q.DealBaseRate.IsPositive() {
					return q.DealBaseRate, b.Source, true
				}
			}
		}
	}
	return decimal.Decimal{}, "", false
}

// contains says whether the comma-separated list has name.
func contains(list, name string) bool {
	for _, n := range strings.Split(list, ",") {
		if n == name {
			return true
		}
	}
	return false
}
