package rates

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/shopspring/decimal"

	"github.com/ratewire/ratewire/currency/internal/catalog"
	"github.com/ratewire/ratewire/shared/apperr"
)

// CurrencyList is the answer of GET /api/v1/currencies.
type CurrencyList struct {
	Currencies []catalog.Currency `json:"currencies"`
	Count      int                `json:"count"`
}

// Currencies lists the supported currencies: every currency with a
// stored rate, plus KRW, the base of all of them.
func (s *Service) Currencies(ctx context.Context) (CurrencyList, error) {
	codes, err := s.knownCodes(ctx)
	if err != nil {
		return CurrencyList{}, err
	}
	out := CurrencyList{Currencies: []catalog.Currency{s.cat.Currency("KRW")}}
	for _, c := range codes {
		if c != "KRW" {
			out.Currencies = append(out.Currencies, s.cat.Currency(c))
		}
	}
	sort.Slice(out.Currencies, func(i, j int) bool { return out.Currencies[i].Code < out.Currencies[j].Code })
	out.Count = len(out.Currencies)
	return out, nil
}

// Multiple is the answer of GET /multiple: details in the order asked.
type Multiple struct {
	Rates []Rate `json:"rates"`
	Count int    `json:"count"`
}

// GetMany returns the details of codes in order; KRW, which has no rate
// against itself, and unknown codes are not found.
func (s *Service) GetMany(ctx context.Context, codes []string) (Multiple, error) {
	for _, c := range codes {
		if c == "KRW" {
			return Multiple{}, apperr.NotFound("KRW is the base currency: it has no rate of its own")
		}
	}
	got, err := s.many(ctx, codes)
	if err != nil {
		return Multiple{}, err
	}
	out := Multiple{Rates: make([]Rate, len(codes)), Count: len(codes)}
	for i, c := range codes {
		out.Rates[i] = got[c]
	}
	return out, nil
}

// SearchResult is the answer of GET /search: a country, its currency and
// that currency's current rate (null for KRW and for a currency no
// provider quotes).
type SearchResult struct {
	CountryCode   string `json:"country_code"`
	CountryAlpha3 string `json:"country_code_alpha3"`
	CountryName   string `json:"country_name"`
	CountryNameEn string `json:"country_name_en"`
	CurrencyCode  string `json:"currency_code"`
	CurrencyName  string `json:"currency_name"`
	CurrencyEn    string `json:"currency_name_en"`
	Symbol        string `json:"symbol"`
	DisplayUnit   int    `json:"display_unit"`
	Rate          *Rate  `json:"rate"`
}

// Search finds the country input names (Korean or English name, alpha-2 or
// alpha-3 code, any case) and answers its currency and current rate. A
// name no country has is invalid input (400 INVALID_COUNTRY), as in the
// ranking service.
func (s *Service) Search(ctx context.Context, input string) (SearchResult, error) {
	ct, ok := s.cat.Lookup(input)
	if !ok {
		return SearchResult{}, apperr.Invalid("INVALID_COUNTRY",
			fmt.Sprintf("%q is not a known country name or ISO 3166 code", input), map[string]any{"country": input})
	}
	cur := s.cat.Currency(ct.Currency)
	res := SearchResult{CountryCode: ct.Code, CountryAlpha3: ct.Alpha3, CountryName: ct.NameKo, CountryNameEn: ct.NameEn,
		CurrencyCode: cur.Code, CurrencyName: cur.NameKo, CurrencyEn: cur.NameEn, Symbol: cur.Symbol, DisplayUnit: cur.DisplayUnit}
	if cur.Code == "KRW" {
		return res, nil
	}
	r, err := s.Get(ctx, cur.Code)
	switch {
	case err == nil:
		res.Rate = &r
	case apperr.KindOf(err) != apperr.KindNotFound:
		return SearchResult{}, err
	}
	return res, nil
}

// Rate types of a conversion, and of its legs.
const (
	RateBank     = "bank" // the default: the bank's buying rate when it buys foreign currency, its selling rate when it sells
	RateMid      = "mid"
	RateTTS      = "tts"
	RateTTB      = "ttb"
	RateCashBuy  = "cash_buy"  // a leg's rate: 현찰 살 때, the bank sells you banknotes
	RateCashSell = "cash_sell" // a leg's rate: 현찰 팔 때, the bank buys your banknotes
)

// Channels of a bank conversion (rate_type bank): how the money changes
// hands, which decides the bank's rates.
const (
	ChannelRemittance = "remittance" // transfers: ttb when the bank buys, tts when it sells (the default)
	ChannelCash       = "cash"       // banknotes: cash_sell when the bank buys, cash_buy when it sells
)

// Leg directions.
const (
	ToKRW   = "to_krw"   // the bank buys the foreign currency from you and pays KRW
	FromKRW = "from_krw" // the bank sells you the foreign currency for KRW
)

// legRates says which rate a bank conversion uses for each direction and
// channel, and the rule the answer states for it. This table is the
// direction rule: a traveller buying dollars in cash pays cash_buy (the
// bank sells banknotes, 현찰 살 때); one changing dollars back to won gets
// cash_sell (the bank buys them, 현찰 팔 때).
var legRates = map[[2]string]struct{ rate, rule string }{
	{ChannelRemittance, ToKRW}:   {RateTTB, "the bank buys %s sent to you and pays KRW: ttb (송금 받을 때)"},
	{ChannelRemittance, FromKRW}: {RateTTS, "the bank sells you %s to send for KRW: tts (송금 보낼 때)"},
	{ChannelCash, ToKRW}:         {RateCashSell, "the bank buys your %s banknotes and pays KRW: cash_sell (현찰 팔 때)"},
	{ChannelCash, FromKRW}:       {RateCashBuy, "the bank sells you %s banknotes for KRW: cash_buy (현찰 살 때)"},
}

// Leg is one step of a conversion through KRW.
type Leg struct {
	// Currency is the foreign currency of the step.
	Currency string `json:"currency_code"`
	// Direction is "to_krw" (the bank buys Currency) or "from_krw" (it sells).
	Direction string `json:"direction"`
	// RateType is the rate used: tts, ttb, cash_buy, cash_sell or mid.
	RateType string `json:"rate_type"`
	// Rule says in words which rate this direction and channel take.
	Rule string `json:"rule"`
	// Rate is the KRW per one unit of Currency applied: QuotedRate with
	// the preferential discount, if any.
	Rate decimal.Decimal `json:"rate"`
	// QuotedRate is the source's rate of RateType before any preference;
	// MidRate its deal base rate. Their difference is the bank's margin.
	QuotedRate decimal.Decimal `json:"quoted_rate"`
	MidRate    decimal.Decimal `json:"mid_rate"`
	// Source is the provider the leg's rates came from.
	Source string `json:"source"`
	// QuotedAs is the code the source quoted Currency under, when it is
	// not Currency (CNY from a CNH quote); omitted otherwise.
	QuotedAs string `json:"quoted_as,omitempty"`
}

// Breakdown is what a conversion costs, in units of the target currency:
// what the amount would come to at the mid rate, what the bank keeps
// without and with the preferential discount, and the rate that resulted.
type Breakdown struct {
	// Currency is the currency of the amounts below: the conversion's To.
	Currency string `json:"currency"`
	// AmountAtMid is the result at the deal base rate on every leg.
	AmountAtMid decimal.Decimal `json:"amount_at_mid"`
	// Margin is the bank's margin at its quoted rates (no preference):
	// AmountAtMid minus the result at the quoted rates.
	Margin decimal.Decimal `json:"margin"`
	// MarginPreferential is the margin with the preference applied:
	// AmountAtMid minus Result. Saving is Margin minus it.
	MarginPreferential decimal.Decimal `json:"margin_preferential"`
	Saving             decimal.Decimal `json:"preferential_saving"`
	// EffectiveRate is units of To received per unit of From, all legs
	// and the preference included.
	EffectiveRate decimal.Decimal `json:"effective_rate"`
}

// Conversion is the answer of GET /convert.
type Conversion struct {
	From     string          `json:"from"`
	To       string          `json:"to"`
	Amount   decimal.Decimal `json:"amount"`
	RateType string          `json:"rate_type"`
	// Channel is cash or remittance for a bank conversion; omitted for
	// mid, tts and ttb, which name their rate themselves.
	Channel string `json:"channel,omitempty"`
	// Preferential is the discount on the bank's margin, in percent.
	Preferential decimal.Decimal `json:"preferential"`
	// Rate is units of To per one unit of From, over all legs.
	Rate decimal.Decimal `json:"rate"`
	// Result is rounded (half away from zero) to To's CLDR minor units;
	// ResultUnrounded keeps unroundedPlaces decimals.
	Result          decimal.Decimal `json:"result"`
	ResultUnrounded decimal.Decimal `json:"result_unrounded"`
	MinorUnits      int             `json:"minor_units"`
	Legs            []Leg           `json:"legs"`
	Breakdown       Breakdown       `json:"breakdown"`
	Source          string          `json:"source"`
	AsOf            *time.Time      `json:"as_of"`
	// FetchedAt is the latest fetch among the legs' rates, NextUpdateAt
	// the earliest update expected of their sources; nil when none says.
	FetchedAt    *time.Time `json:"fetched_at"`
	NextUpdateAt *time.Time `json:"next_update_at"`
}

// ConvertOptions are the choices of a conversion besides its currencies
// and amount.
type ConvertOptions struct {
	// RateType is bank (the default), mid, tts or ttb.
	RateType string
	// Channel is remittance (the default) or cash; only with bank.
	Channel string
	// Preferential is the percentage, 0 to 100, of the bank's margin
	// waived on each leg (환율 우대); not with mid, which has no margin.
	Preferential decimal.Decimal
}

const unroundedPlaces = 12

var hundred = decimal.NewFromInt(100)

// Preferential applies a p % preferential rate to a bank's quoted rate
// (DESIGN.md §4): mid ± (quoted − mid) × (1 − p/100), i.e. p % of the
// bank's margin is waived, on either side of the mid. A discounted rate is
// rounded half away from zero to two decimals per display unit (what
// banks publish: 1340.34 KRW per dollar, 9.1234 per yen as 912.34 per
// 100); p = 0 is the quoted rate exactly. USD mid 1338.00, cash buy
// 1361.42, 90 % -> 1340.34.
func Preferential(mid, quoted, p decimal.Decimal, displayUnit int) decimal.Decimal {
	if p.IsZero() {
		return quoted
	}
	keep := decimal.NewFromInt(1).Sub(p.Div(hundred))
	places := int32(2)
	for u := displayUnit; u >= 10; u /= 10 {
		places++
	}
	return mid.Add(quoted.Sub(mid).Mul(keep)).Round(places)
}

// Convert converts amount of from into to as a Korean bank does, through
// KRW. With rate type bank (the default) the channel decides the bank's
// rates: for remittance a foreign amount is bought by the bank at its TTB
// and KRW is sold into a foreign currency at its TTS, for cash at
// cash_sell (현찰 팔 때) and cash_buy (현찰 살 때), so foreign to foreign
// is the buying then the selling rate. mid uses the deal base rate on
// every leg, tts and ttb force that rate on every leg. A preferential rate
// waives that share of the bank's margin on each leg (Preferential). A leg
// whose source quotes no rate for it is 422 (the API invents none); the
// answer breaks the cost down against the mid rate.
func (s *Service) Convert(ctx context.Context, from, to string, amount decimal.Decimal, o ConvertOptions) (Conversion, error) {
	return convertWith(ctx, s.Get, from, to, amount, o)
}

// convertWith is Convert reading each leg's rate with get: Service.Get, or
// the hot tier's snapshot.
func convertWith(ctx context.Context, get func(context.Context, string) (Rate, error), from, to string, amount decimal.Decimal, o ConvertOptions) (Conversion, error) {
	if o.RateType == "" {
		o.RateType = RateBank
	}
	if o.RateType == RateBank && o.Channel == "" {
		o.Channel = ChannelRemittance
	}
	if o.Channel != "" && o.RateType != RateBank {
		return Conversion{}, apperr.Invalid(apperr.CodeInvalidParameter,
			fmt.Sprintf("channel picks the bank's rates: use it with rate_type=bank (the default), not %s", o.RateType),
			map[string]any{"parameter": "channel"})
	}
	if o.Preferential.IsNegative() || o.Preferential.GreaterThan(hundred) {
		return Conversion{}, apperr.Invalid(apperr.CodeInvalidParameter,
			"preferential must be a percentage from 0 to 100", map[string]any{"parameter": "preferential"})
	}
	if o.Channel != "" && o.Channel != ChannelCash && o.Channel != ChannelRemittance {
		return Conversion{}, apperr.Invalid(apperr.CodeInvalidParameter,
			"channel must be cash or remittance", map[string]any{"parameter": "channel"})
	}
	if o.RateType == RateMid && o.Preferential.IsPositive() {
		return Conversion{}, apperr.Invalid(apperr.CodeInvalidParameter,
			"preferential waives part of the bank's margin: rate_type=mid has none", map[string]any{"parameter": "preferential"})
	}
	c := Conversion{From: from, To: to, Amount: amount, RateType: o.RateType, Channel: o.Channel, Preferential: o.Preferential, Legs: []Leg{}}
	sources := map[string]bool{}
	leg := func(code, dir string) (Leg, error) {
		r, err := get(ctx, code)
		if err != nil {
			return Leg{}, err
		}
		kind, rule := o.RateType, ""
		switch kind {
		case RateBank:
			lr := legRates[[2]string{o.Channel, dir}]
			kind, rule = lr.rate, fmt.Sprintf(lr.rule, code)
		case RateMid:
			rule = "deal_base_rate (매매기준율) on every leg: no bank margin"
		default:
			rule = kind + " on every leg, as asked"
		}
		var rate *decimal.Decimal
		switch kind {
		case RateMid:
			rate = &r.DealBaseRate
		case RateTTS:
			rate = r.TTS
		case RateTTB:
			rate = r.TTB
		case RateCashBuy:
			rate = r.CashBuy
		case RateCashSell:
			rate = r.CashSell
		}
		if rate == nil || !rate.IsPositive() {
			what, instead := "bank spread", "use rate_type=mid"
			if o.Channel == ChannelCash {
				what, instead = "cash rates", "use channel=remittance or rate_type=mid"
			}
			return Leg{}, apperr.Unprocessable("RATE_UNAVAILABLE",
				fmt.Sprintf("%s has no %s rate: its source %q quotes no %s; %s", code, kind, r.Source, what, instead),
				map[string]any{"currency_code": code, "rate_type": kind, "channel": o.Channel, "source": r.Source})
		}
		l := Leg{Currency: code, Direction: dir, RateType: kind, Rule: rule, QuotedRate: *rate, MidRate: r.DealBaseRate,
			Rate: Preferential(r.DealBaseRate, *rate, o.Preferential, catalog.DisplayUnit(code)), Source: r.Source, QuotedAs: r.QuotedAs}
		sources[r.Source] = true
		if c.AsOf == nil || r.RecordedAt.After(*c.AsOf) {
			at := r.RecordedAt
			c.AsOf = &at
		}
		freshness(&c.FetchedAt, &c.NextUpdateAt, r)
		return l, nil
	}
	if from != to {
		if from != "KRW" {
			l, err := leg(from, ToKRW)
			if err != nil {
				return Conversion{}, err
			}
			c.Legs = append(c.Legs, l)
		}
		if to != "KRW" {
			l, err := leg(to, FromKRW)
			if err != nil {
				return Conversion{}, err
			}
			c.Legs = append(c.Legs, l)
		}
	}
	// The same legs at three rates: applied, quoted, mid.
	through := func(pick func(Leg) decimal.Decimal) decimal.Decimal {
		v := amount
		for _, l := range c.Legs {
			if l.Direction == ToKRW {
				v = v.Mul(pick(l))
			} else {
				v = v.DivRound(pick(l), unroundedPlaces)
			}
		}
		return v
	}
	c.ResultUnrounded = through(func(l Leg) decimal.Decimal { return l.Rate })
	atQuoted := through(func(l Leg) decimal.Decimal { return l.QuotedRate })
	atMid := through(func(l Leg) decimal.Decimal { return l.MidRate })
	c.Rate = c.ResultUnrounded.DivRound(amount, crossPlaces)
	c.Result, c.MinorUnits = catalog.Round(to, c.ResultUnrounded)
	round := func(d decimal.Decimal) decimal.Decimal { r, _ := catalog.Round(to, d); return r }
	c.Breakdown = Breakdown{
		Currency:           to,
		AmountAtMid:        round(atMid),
		Margin:             round(atMid.Sub(atQuoted)),
		MarginPreferential: round(atMid.Sub(c.ResultUnrounded)),
		Saving:             round(c.ResultUnrounded.Sub(atQuoted)),
		EffectiveRate:      c.Rate,
	}
	c.Source = joinSources(sources)
	return c, nil
}

// Cleared is the answer of DELETE /cache.
type Cleared struct {
	Cleared []string `json:"cleared"`
	Count   int      `json:"count"`
}

// ClearCache drops code from the cache, or with code empty every code the
// service may have cached: those with a stored rate and every code the
// catalog knows (a list, never a Redis KEYS scan).
func (s *Service) ClearCache(ctx context.Context, code string) (Cleared, error) {
	var codes []string
	if code != "" {
		codes = []string{code}
	} else {
		all, err := s.store.AllLatest(ctx)
		if err != nil {
			return Cleared{}, err
		}
		seen := map[string]bool{}
		for _, r := range all {
			seen[r.CurrencyCode] = true
		}
		for _, c := range s.cat.Codes() {
			seen[c] = true
		}
		for c := range seen {
			codes = append(codes, c)
		}
		sort.Strings(codes)
	}
	// Unlike a cache_invalidation, an operator's clear drops current
	// entries too (say, one filled before a catalog change), with the same
	// version floors against racing fills.
	floors, err := s.floors(ctx, codes)
	if err != nil {
		return Cleared{}, err
	}
	if err := s.cache.Clear(ctx, floors); err != nil {
		return Cleared{}, err
	}
	return Cleared{Cleared: codes, Count: len(codes)}, nil
}
