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

// Rate types of a conversion.
const (
	RateBank = "bank" // the default: TTB when the bank buys foreign currency, TTS when it sells
	RateMid  = "mid"
	RateTTS  = "tts"
	RateTTB  = "ttb"
)

// Leg is one step of a conversion through KRW.
type Leg struct {
	// Currency is the foreign currency of the step.
	Currency string `json:"currency_code"`
	// Direction is "to_krw" (the bank buys Currency) or "from_krw" (it sells).
	Direction string `json:"direction"`
	// RateType is the rate used: tts, ttb or mid.
	RateType string `json:"rate_type"`
	// Rate is KRW per one unit of Currency.
	Rate decimal.Decimal `json:"rate"`
	// QuotedAs is the code the source quoted Currency under, when it is
	// not Currency (CNY from a CNH quote); omitted otherwise.
	QuotedAs string `json:"quoted_as,omitempty"`
}

// Conversion is the answer of GET /convert.
type Conversion struct {
	From     string          `json:"from"`
	To       string          `json:"to"`
	Amount   decimal.Decimal `json:"amount"`
	RateType string          `json:"rate_type"`
	// Rate is units of To per one unit of From, over all legs.
	Rate decimal.Decimal `json:"rate"`
	// Result is rounded (half away from zero) to To's CLDR minor units;
	// ResultUnrounded keeps unroundedPlaces decimals.
	Result          decimal.Decimal `json:"result"`
	ResultUnrounded decimal.Decimal `json:"result_unrounded"`
	MinorUnits      int             `json:"minor_units"`
	Legs            []Leg           `json:"legs"`
	Source          string          `json:"source"`
	AsOf            *time.Time      `json:"as_of"`
	// FetchedAt is the latest fetch among the legs' rates, NextUpdateAt
	// the earliest update expected of their sources; nil when none says.
	FetchedAt    *time.Time `json:"fetched_at"`
	NextUpdateAt *time.Time `json:"next_update_at"`
}

const unroundedPlaces = 12

// Convert converts amount of from into to as a Korean bank does, through
// KRW. With rate type bank (the default) a foreign amount is bought by the
// bank at its TTB and KRW is sold into a foreign currency at its TTS, so
// foreign to foreign is TTB then TTS; mid uses the deal base rate on every
// leg, tts and ttb force that rate on every leg. A leg that needs a spread
// its source does not quote is 422 (the API invents no spread): ask for
// mid.
func (s *Service) Convert(ctx context.Context, from, to string, amount decimal.Decimal, rateType string) (Conversion, error) {
	if rateType == "" {
		rateType = RateBank
	}
	c := Conversion{From: from, To: to, Amount: amount, RateType: rateType, Legs: []Leg{}}
	krw := amount
	sources := map[string]bool{}
	leg := func(code, dir string) (decimal.Decimal, error) {
		r, err := s.Get(ctx, code)
		if err != nil {
			return decimal.Decimal{}, err
		}
		kind := rateType
		if kind == RateBank {
			kind = map[string]string{"to_krw": RateTTB, "from_krw": RateTTS}[dir]
		}
		var rate *decimal.Decimal
		switch kind {
		case RateMid:
			rate = &r.DealBaseRate
		case RateTTS:
			rate = r.TTS
		case RateTTB:
			rate = r.TTB
		}
		if rate == nil || !rate.IsPositive() {
			return decimal.Decimal{}, apperr.Unprocessable("RATE_UNAVAILABLE",
				fmt.Sprintf("%s has no %s rate: its source %q quotes no bank spread; use rate_type=mid", code, kind, r.Source),
				map[string]any{"currency_code": code, "rate_type": kind, "source": r.Source})
		}
		c.Legs = append(c.Legs, Leg{Currency: code, Direction: dir, RateType: kind, Rate: *rate, QuotedAs: r.QuotedAs})
		sources[r.Source] = true
		if c.AsOf == nil || r.RecordedAt.After(*c.AsOf) {
			at := r.RecordedAt
			c.AsOf = &at
		}
		freshness(&c.FetchedAt, &c.NextUpdateAt, r)
		return *rate, nil
	}
	if from != to {
		if from != "KRW" {
			rate, err := leg(from, "to_krw")
			if err != nil {
				return Conversion{}, err
			}
			krw = amount.Mul(rate)
		}
		if to != "KRW" {
			rate, err := leg(to, "from_krw")
			if err != nil {
				return Conversion{}, err
			}
			c.ResultUnrounded = krw.DivRound(rate, unroundedPlaces)
		} else {
			c.ResultUnrounded = krw
		}
	} else {
		c.ResultUnrounded = amount
	}
	c.Rate = c.ResultUnrounded.DivRound(amount, crossPlaces)
	c.Result, c.MinorUnits = catalog.Round(to, c.ResultUnrounded)
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
