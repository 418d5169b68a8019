package provider

import (
	"context"
	"encoding/binary"
	"hash/fnv"
	"math"
	"time"

	"github.com/shopspring/decimal"

	"github.com/ratewire/ratewire/ingestor/internal/rate"
)

// SimulatedName is the source label of every simulated quote.
const SimulatedName = "simulated"

// Simulated is the offline provider: a deterministic, plausible walk around
// realistic reference rates, with bank spreads of the size Korean banks
// quote. The same instant always gives the same rates, so a backfill and a
// live run agree. Everything it produces is labelled "simulated".
type Simulated struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Step is the quote granularity; zero means five minutes.
	Step time.Duration
}

// Name implements Provider.
func (s *Simulated) Name() string { return SimulatedName }

// Fetch implements Provider: the quotes of the last whole step.
func (s *Simulated) Fetch(ctx context.Context) (rate.Batch, error) {
	if err := ctx.Err(); err != nil {
		return rate.Batch{}, err
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	step := s.Step
	if step <= 0 {
		step = 5 * time.Minute
	}
	fetched := now().UTC()
	at := fetched.Truncate(step)
	return rate.Batch{Source: SimulatedName, FetchedAt: fetched, Quotes: SimulatedQuotes(at)}, nil
}

// SimulatedQuotes returns the simulated quotes of every reference currency
// at instant at.
func SimulatedQuotes(at time.Time) []rate.Quote {
	out := make([]rate.Quote, 0, len(references))
	for _, r := range references {
		out = append(out, r.quoteAt(at.UTC()))
	}
	return out
}

// reference is one simulated currency: its Korean name, a realistic level
// in KRW per display unit, the display unit (100 for JPY, IDR, VND), the
// half-spread of the bank's remittance rates in percent, a daily
// volatility in percent, and the half-spread of its cash rates in percent
// (0: the bank does not trade its banknotes). The cash spreads are of the
// size Korean banks quote: 1.75 % for USD and JPY, about 2 % for the
// other majors, 5-10 % for banknotes banks rarely hold.
type reference struct {
	code   string
	name   string
	level  float64
	unit   int64
	spread float64
	vol    float64
	cash   float64
}

var references = []reference{
	{"USD", "미국 달러", 1395.0, 1, 1.0, 0.45, 1.75},
	{"JPY", "일본 옌", 925.0, 100, 1.0, 0.6, 1.75},
	{"EUR", "유로", 1510.0, 1, 1.0, 0.45, 1.98},
	{"CNH", "위안화", 192.5, 1, 1.0, 0.35, 5},
	{"GBP", "영국 파운드", 1830.0, 1, 1.0, 0.5, 1.97},
	{"AUD", "호주 달러", 905.0, 1, 1.0, 0.6, 1.97},
	{"CAD", "캐나다 달러", 1005.0, 1, 1.0, 0.45, 1.97},
	{"CHF", "스위스 프랑", 1610.0, 1, 1.0, 0.5, 1.98},
	{"HKD", "홍콩 달러", 179.0, 1, 1.0, 0.45, 1.97},
	{"SGD", "싱가포르 달러", 1060.0, 1, 1.0, 0.35, 1.99},
	{"NZD", "뉴질랜드 달러", 820.0, 1, 1.0, 0.65, 1.99},
	{"SEK", "스웨덴 크로나", 134.0, 1, 1.0, 0.6, 2},
	{"NOK", "노르웨이 크로네", 129.0, 1, 1.0, 0.65, 2},
	{"DKK", "덴마아크 크로네", 202.0, 1, 1.0, 0.45, 2},
	{"THB", "태국 바트", 41.5, 1, 1.0, 0.45, 6},
	{"IDR", "인도네시아 루피아", 8.55, 100, 1.0, 0.5, 10},
	{"MYR", "말레이지아 링기트", 318.0, 1, 1.0, 0.45, 7},
	{"SAR", "사우디 리얄", 371.0, 1, 1.0, 0.45, 6},
	{"AED", "아랍에미리트 디르함", 379.0, 1, 1.0, 0.45, 6},
	{"KWD", "쿠웨이트 디나르", 4540.0, 1, 1.0, 0.45, 6},
	{"BHD", "바레인 디나르", 3700.0, 1, 1.0, 0.45, 6},
	{"BND", "브루나이 달러", 1060.0, 1, 1.0, 0.35, 0},
	{"VND", "베트남 동", 5.45, 100, 2.0, 0.4, 10},
	{"PHP", "필리핀 페소", 24.2, 1, 2.0, 0.5, 7},
	{"TWD", "대만 달러", 43.6, 1, 2.0, 0.4, 7},
	{"INR", "인도 루피", 16.4, 1, 2.0, 0.45, 8},
	{"MXN", "멕시코 페소", 75.0, 1, 2.0, 0.8, 8},
	{"BRL", "브라질 레알", 252.0, 1, 2.0, 0.9, 9},
	{"TRY", "튀르키예 리라", 34.5, 1, 2.0, 0.9, 10},
	{"ZAR", "남아프리카공화국 랜드", 78.0, 1, 2.0, 0.9, 10},
}

// quoteAt is the quote at a given instant: the level moved by a sum of
// slow waves with currency-specific phases (weeks to months) and a small
// per-step jitter, scaled by the currency's volatility. Rates are rounded
// to two decimals per display unit, as banks publish them, then divided to
// one unit exactly.
func (r reference) quoteAt(at time.Time) rate.Quote {
	days := float64(at.Unix()) / 86400
	seed := hash64(r.code)
	move := 0.0
	for i, period := range []float64{97, 41, 13, 3.7, 0.9} {
		phase := float64((seed>>(8*i))&0xff) / 255 * 2 * math.Pi
		// A wave of period p days moves about vol*sqrt(p)/2 percent, which
		// is what a random walk with that daily volatility does over p.
		move += r.vol * math.Sqrt(period) / 2 * math.Sin(2*math.Pi*days/period+phase)
	}
	jitter := float64(hash64(r.code+at.Format(time.RFC3339))%2001)/1000 - 1 // [-1, 1]
	move += jitter * r.vol * 0.05
	perDisplay := r.level * (1 + move/100)

	unit := decimal.NewFromInt(r.unit)
	mid := decimal.NewFromFloat(perDisplay).Round(2)
	tts := mid.Mul(decimal.NewFromFloat(1 + r.spread/100)).Round(2)
	ttb := mid.Mul(decimal.NewFromFloat(1 - r.spread/100)).Round(2)
	perUnit := func(d decimal.Decimal) decimal.Decimal {
		if r.unit == 1 {
			return d
		}
		return d.Div(unit) // exact: dividing by 100 only shifts the point
	}
	tts, ttb = perUnit(tts), perUnit(ttb)
	q := rate.Quote{
		Code:         r.code,
		Name:         r.name,
		DealBaseRate: perUnit(mid),
		TTS:          &tts,
		TTB:          &ttb,
		RecordedAt:   at,
	}
	if r.cash > 0 {
		buy := perUnit(mid.Mul(decimal.NewFromFloat(1 + r.cash/100)).Round(2))
		sell := perUnit(mid.Mul(decimal.NewFromFloat(1 - r.cash/100)).Round(2))
		q.CashBuy, q.CashSell = &buy, &sell
	}
	return q
}

func hash64(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], h.Sum64())
	h.Write(b[:]) // a second round spreads short inputs over all bits
	return h.Sum64()
}
