// Package rate holds the ingestor's domain types: quotes as providers
// deliver them, normalised to KRW per one unit of the foreign currency as
// exact decimals (DESIGN.md §4). A stored current rate is event.Rate, the one
// type the currency service and the events share.
package rate

import (
	"time"

	"github.com/shopspring/decimal"

	"github.com/ratewire/ratewire/shared/event"
	"github.com/ratewire/ratewire/shared/kst"
)

// Quote is one currency's rate from one provider at one moment. TTS (the
// bank sells, 송금 보낼 때) and TTB (the bank buys, 송금 받을 때) are nil when
// the provider quotes no spread, CashBuy (the bank sells banknotes, 현찰
// 살 때) and CashSell (the bank buys them, 현찰 팔 때) when it quotes no
// cash rates: ratewire never invents one.
type Quote struct {
	Code         string
	Name         string // Korean name as the provider or reference data gives it
	DealBaseRate decimal.Decimal
	TTS          *decimal.Decimal
	TTB          *decimal.Decimal
	CashBuy      *decimal.Decimal
	CashSell     *decimal.Decimal
	RecordedAt   time.Time
	// RateDate is the KST bank day (YYYY-MM-DD) the quote belongs to. A
	// daily source sets it to the day it asked for; empty means the KST
	// day of RecordedAt (see Day).
	RateDate string
	// QuotedAs is the code the source quoted under when it is not Code
	// (a twin added by WithTwins); empty otherwise.
	QuotedAs string
}

// Day is the bank day of q: RateDate, or the KST day of RecordedAt.
func (q Quote) Day() string {
	if q.RateDate != "" {
		return q.RateDate
	}
	return kst.Day(q.RecordedAt)
}

// Batch is what one provider returned for one collection.
type Batch struct {
	Source    string
	FetchedAt time.Time
	Quotes    []Quote
	// Daily says the source quotes one rate per currency per bank day
	// (Korea Eximbank): a later fetch of a day already stored is a
	// revision of that day's observation, not a new one.
	Daily bool
	// NextUpdateAt is when the source is expected to publish its next
	// update after the fetch, from its own schedule (for a backfilled day
	// too, should it become the latest rate); zero when the source has
	// none to go by (the simulator).
	NextUpdateAt time.Time
}

// SameRate reports whether q carries the same mid rate, spread and cash
// rates as r, a stored rate: when it does, storing q changes nothing a
// reader sees.
func SameRate(q Quote, r event.Rate) bool {
	return q.DealBaseRate.Equal(r.DealBaseRate) && eqPtr(q.TTS, r.TTS) && eqPtr(q.TTB, r.TTB) &&
		eqPtr(q.CashBuy, r.CashBuy) && eqPtr(q.CashSell, r.CashSell)
}

func eqPtr(a, b *decimal.Decimal) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Equal(*b)
}

// twins pairs the currencies that sources quote under one code or the
// other: the yuan is CNY (onshore, ISO 4217, what travellers and other
// rate APIs ask for) or CNH (offshore, what Korea Eximbank's 위안화 row and
// the simulator quote). Each entry names the twin and its Korean name.
var twins = map[string]struct{ code, name string }{
	"CNY": {"CNH", "위안화"},
	"CNH": {"CNY", "중국 위안"},
}

// WithTwins returns quotes plus, for each quoted currency that has a twin
// the quotes lack, a copy under the twin's code with QuotedAs naming the
// code it was quoted under, so both codes answer. Where a source quotes
// both, each keeps its own and nothing is added.
func WithTwins(quotes []Quote) []Quote { return WithTwinsBeside(quotes, nil) }

// WithTwinsBeside is WithTwins for one source of a run that takes rates
// from several: a twin is added only where neither quotes nor elsewhere
// (the codes the run takes from other sources) has its code, so a source
// that quotes CNH itself keeps it over another's CNY copy.
func WithTwinsBeside(quotes []Quote, elsewhere map[string]bool) []Quote {
	have := make(map[string]bool, len(quotes)+len(elsewhere))
	for c := range elsewhere {
		have[c] = true
	}
	for _, q := range quotes {
		have[q.Code] = true
	}
	out := quotes
	for _, q := range quotes {
		t, ok := twins[q.Code]
		if !ok || have[t.code] || q.QuotedAs != "" {
			continue
		}
		if len(out) == len(quotes) {
			out = append(make([]Quote, 0, len(quotes)+2), quotes...)
		}
		twin := q
		twin.Code, twin.Name, twin.QuotedAs = t.code, t.name, q.Code
		out = append(out, twin)
	}
	return out
}
