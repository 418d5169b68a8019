package provider

import (
	"context"
	"fmt"
	"time"

	"github.com/ratewire/ratewire/ingestor/internal/rate"
)

// MaxSimulatedBatches bounds one Simulated.FetchRange: at the default
// five-minute step it is about 347 days. Ask for a larger Step (an hour
// gives 11 years) to backfill further.
const MaxSimulatedBatches = 100_000

// FetchRange implements Historical: one batch per Step (default five
// minutes) at every step boundary within [from, to], capped at now, each
// holding SimulatedQuotes of that instant. It is deterministic: the same
// range gives the same batches, and they agree with what Fetch returned at
// those instants. FetchedAt is the instant itself.
func (s *Simulated) FetchRange(ctx context.Context, from, to time.Time) ([]rate.Batch, error) {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	step := s.Step
	if step <= 0 {
		step = 5 * time.Minute
	}
	if n := now(); to.After(n) {
		to = n
	}
	start := from.UTC().Truncate(step)
	if start.Before(from) {
		start = start.Add(step)
	}
	if to.Before(start) {
		return nil, nil
	}
	n := int64(to.Sub(start)/step) + 1
	if n > MaxSimulatedBatches {
		return nil, newError(SimulatedName, Permanent, 0, "range of %d steps of %s exceeds %d batches: use a larger Step", n, step, MaxSimulatedBatches)
	}
	out := make([]rate.Batch, 0, n)
	for at := start; !at.After(to); at = at.Add(step) {
		if len(out)%1000 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("simulated backfill: %w", err)
			}
		}
		out = append(out, rate.Batch{Source: SimulatedName, FetchedAt: at, Quotes: SimulatedQuotes(at)})
	}
	return out, nil
}
