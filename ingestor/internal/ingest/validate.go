package ingest

import (
	"log/slog"
	"time"

	"github.com/shopspring/decimal"

	"github.com/ratewire/ratewire/ingestor/internal/rate"
	"github.com/ratewire/ratewire/shared/event"
)

var (
	// No currency trades anywhere near these bounds in KRW per unit: the
	// strongest (KWD) is a few thousand, the weakest (IRR, VND) hundredths.
	absurdHigh = decimal.NewFromInt(10_000_000)
	absurdLow  = decimal.New(1, -6)
)

// Validate drops quotes that cannot be right, logging each with its
// reason: codes that are not active ISO 4217 currencies (retired ones such
// as DEM or FRF that old bodies list, pseudo-codes, KRW; see rate.Active),
// non-positive or absurd values, a spread or cash rates that do not
// bracket the mid rate, timestamps from the future, and jumps
// against the last known rate larger than maxJump (0.2 = 20 %). "The
// future" is more than an hour past the batch's fetch time, or past now
// when the batch has none. It returns the quotes kept and how many were
// rejected.
func Validate(log *slog.Logger, b rate.Batch, known []event.Rate, maxJump float64, now time.Time) ([]rate.Quote, int) {
	last := make(map[string]decimal.Decimal, len(known))
	for _, l := range known {
		last[l.CurrencyCode] = l.DealBaseRate
	}
	limit := decimal.NewFromFloat(maxJump)
	horizon := b.FetchedAt.Add(time.Hour)
	if b.FetchedAt.IsZero() || b.FetchedAt.After(now) {
		horizon = now.Add(time.Hour)
	}
	kept := make([]rate.Quote, 0, len(b.Quotes))
	for _, q := range b.Quotes {
		reason := ""
		switch {
		case q.Code == "KRW":
			reason = "the won itself is not a foreign currency"
		case !rate.Active(q.Code):
			reason = "not an active ISO 4217 currency code (retired or unknown)"
		case !q.DealBaseRate.IsPositive():
			reason = "deal base rate is not positive"
		case q.DealBaseRate.GreaterThan(absurdHigh) || q.DealBaseRate.LessThan(absurdLow):
			reason = "deal base rate is absurd"
		case q.TTS != nil && !q.TTS.IsPositive(), q.TTB != nil && !q.TTB.IsPositive():
			reason = "spread rate is not positive"
		case q.TTS != nil && q.TTS.LessThan(q.DealBaseRate), q.TTB != nil && q.TTB.GreaterThan(q.DealBaseRate):
			reason = "spread does not bracket the deal base rate"
		case q.CashBuy != nil && !q.CashBuy.IsPositive(), q.CashSell != nil && !q.CashSell.IsPositive():
			reason = "cash rate is not positive"
		case q.CashBuy != nil && q.CashBuy.LessThan(q.DealBaseRate), q.CashSell != nil && q.CashSell.GreaterThan(q.DealBaseRate):
			reason = "cash rates do not bracket the deal base rate"
		case q.RecordedAt.IsZero() || q.RecordedAt.After(horizon):
			reason = "quote time missing or in the future"
		case q.RateDate != "" && !isDate(q.RateDate):
			reason = "rate date is not a day"
		}
		if prev, ok := last[q.Code]; reason == "" && ok && prev.IsPositive() {
			if q.DealBaseRate.Sub(prev).Div(prev).Abs().GreaterThan(limit) {
				reason = "implausible jump against the last known rate"
				log.Warn("rate rejected", "source", b.Source, "currency_code", q.Code, "reason", reason,
					"rate", q.DealBaseRate.String(), "last_known", prev.String())
				continue
			}
		}
		if reason != "" {
			log.Warn("rate rejected", "source", b.Source, "currency_code", q.Code, "reason", reason,
				"rate", q.DealBaseRate.String())
			continue
		}
		kept = append(kept, q)
	}
	return kept, len(b.Quotes) - len(kept)
}

func isDate(s string) bool {
	_, err := time.Parse(time.DateOnly, s)
	return err == nil
}
