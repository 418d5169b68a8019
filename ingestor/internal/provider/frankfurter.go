package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/ratewire/ratewire/ingestor/internal/rate"
)

// FrankfurterName is the source label of Frankfurter quotes.
const FrankfurterName = "frankfurter"

// FrankfurterURL is the default base URL of the Frankfurter API.
const FrankfurterURL = "https://api.frankfurter.dev"

// Frankfurter fetches the European Central Bank's reference rates through
// Frankfurter (https://frankfurter.dev), keyless: GET
// {base}/v1/latest?base=EUR, and for backfill the time series GET
// {base}/v1/{start}..{end}?base=EUR. It asks in the ECB's own base: with
// any other base Frankfurter rounds values of 1 or less to 5 decimals, so
// base=KRW leaves USD 0.00072, 2 significant digits (±0.7 %). Values are
// units per `amount` EUR as the ECB publishes them, and KRW per unit is
// crossed exactly through the KRW entry (see cross): 1695.87 KRW per EUR
// over 1.1523 USD per EUR is 1471.7 KRW per USD, to the 5 digits both
// carry. No spread: TTS and TTB are nil.
//
// RecordedAt is the rate's date at 15:00 UTC. The ECB publishes at about
// 16:00 CET, i.e. 15:00 UTC in winter and 14:00 UTC in summer; a fixed
// 15:00 UTC is never before publication, does not depend on the host's tz
// database (absent from static images) and keeps one instant per ECB day,
// which the store's uniqueness on (currency, source, recorded_at) needs.
type Frankfurter struct {
	// BaseURL overrides FrankfurterURL.
	BaseURL string
	// Client is the HTTP client; nil means one with DefaultTimeout.
	Client *http.Client
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// frankfurterBase is the base Frankfurter is asked in: the ECB's own.
const frankfurterBase = "EUR"

// frankfurterHourUTC is the RecordedAt hour of every Frankfurter rate.
const frankfurterHourUTC = 15

// Name implements Provider.
func (p *Frankfurter) Name() string { return FrankfurterName }

func (p *Frankfurter) url(path string) string {
	base := p.BaseURL
	if base == "" {
		base = FrankfurterURL
	}
	return strings.TrimRight(base, "/") + path + "?base=" + frankfurterBase
}

// Fetch implements Provider: the latest published reference rates.
func (p *Frankfurter) Fetch(ctx context.Context) (rate.Batch, error) {
	g := getter{name: FrankfurterName, client: p.Client, now: p.Now}
	fetched := g.clock().UTC()
	body, err := p.get(ctx, g, p.url("/v1/latest"))
	if err != nil {
		return rate.Batch{}, err
	}
	quotes, err := parseFrankfurterLatest(body)
	if err != nil {
		return rate.Batch{}, frankfurterBodyError(g, err)
	}
	next := ecbNext(quotes[0].RateDate, fetched)
	return rate.Batch{Source: FrankfurterName, FetchedAt: fetched, Quotes: quotes, NextUpdateAt: next}, nil
}

// FetchRange implements Historical with one time-series request, split
// into one batch per published ECB day whose RecordedAt (15:00 UTC) lies
// within [from, to] and not after now. Batches come sorted by day; days
// without rates (weekends, TARGET holidays) have none.
func (p *Frankfurter) FetchRange(ctx context.Context, from, to time.Time) ([]rate.Batch, error) {
	g := getter{name: FrankfurterName, client: p.Client, now: p.Now}
	now := g.clock()
	if to.After(now) {
		to = now
	}
	if to.Before(from) {
		return nil, nil
	}
	path := "/v1/" + from.UTC().Format(time.DateOnly) + ".." + to.UTC().Format(time.DateOnly)
	body, err := p.get(ctx, g, p.url(path))
	if err != nil {
		return nil, err
	}
	days, err := parseFrankfurterSeries(body)
	if err != nil {
		return nil, frankfurterBodyError(g, err)
	}
	fetched := now.UTC()
	var out []rate.Batch
	for _, quotes := range days {
		at := quotes[0].RecordedAt
		if at.Before(from) || at.After(to) {
			continue
		}
		// The next publication after now, should this day's rates become
		// the latest stored.
		next := ecbNext(quotes[0].RateDate, fetched)
		out = append(out, rate.Batch{Source: FrankfurterName, FetchedAt: fetched, Quotes: quotes, NextUpdateAt: next})
	}
	return out, nil
}

// frankfurterBodyError classifies a body that does not parse: one quoted
// in another base than asked is a Permanent misconfiguration (the URL
// points elsewhere than the API we know), anything else a Temporary
// malformed answer.
func frankfurterBodyError(g getter, err error) *Error {
	if errors.Is(err, errWrongBase) {
		return g.fail(Permanent, http.StatusOK, fmt.Errorf("check RATEWIRE_FRANKFURTER_URL: %w", err))
	}
	return g.fail(Temporary, http.StatusOK, fmt.Errorf("malformed body: %w", err))
}

// get fetches u and returns a JSON body of a 2xx answer. Frankfurter's own
// errors, {"message":"not found"} with 404 or 422 (unknown currency, a
// date out of range, a bad request), are Permanent.
func (p *Frankfurter) get(ctx context.Context, g getter, u string) ([]byte, error) {
	r, err := g.get(ctx, u)
	if err != nil {
		return nil, err
	}
	if r.status == http.StatusNotFound || r.status == http.StatusUnprocessableEntity {
		var m struct {
			Message string `json:"message"`
		}
		if json.Unmarshal(r.body, &m) == nil && m.Message != "" {
			if len(m.Message) > 120 {
				m.Message = m.Message[:120] + "..."
			}
			return nil, g.fail(Permanent, r.status, fmt.Errorf("%q", m.Message))
		}
	}
	if r.status/100 != 2 {
		return nil, g.statusError(r)
	}
	if e := g.requireJSON(r); e != nil {
		return nil, e
	}
	return r.body, nil
}

// frankfurterLatest is the answer of /v1/latest.
type frankfurterLatest struct {
	Amount json.Number            `json:"amount"`
	Base   string                 `json:"base"`
	Date   string                 `json:"date"`
	Rates  map[string]json.Number `json:"rates"`
}

// frankfurterSeries is the answer of /v1/{start}..{end}.
type frankfurterSeries struct {
	Amount json.Number                       `json:"amount"`
	Base   string                            `json:"base"`
	Rates  map[string]map[string]json.Number `json:"rates"`
}

// parseFrankfurterLatest turns a /v1/latest body into quotes sorted by code.
func parseFrankfurterLatest(body []byte) ([]rate.Quote, error) {
	var b frankfurterLatest
	if err := json.Unmarshal(body, &b); err != nil {
		return nil, err
	}
	amount, err := frankfurterHeader(b.Amount, b.Base)
	if err != nil {
		return nil, err
	}
	at, err := frankfurterDate(b.Date)
	if err != nil {
		return nil, err
	}
	quotes, err := crossRates(frankfurterBase, amount, b.Rates, at)
	return onECBDay(quotes, at), err
}

// parseFrankfurterSeries turns a time-series body into one slice of
// quotes per day, sorted by day; every slice is non-empty.
func parseFrankfurterSeries(body []byte) ([][]rate.Quote, error) {
	var b frankfurterSeries
	if err := json.Unmarshal(body, &b); err != nil {
		return nil, err
	}
	amount, err := frankfurterHeader(b.Amount, b.Base)
	if err != nil {
		return nil, err
	}
	dates := make([]string, 0, len(b.Rates))
	for d := range b.Rates {
		dates = append(dates, d)
	}
	sort.Strings(dates)
	out := make([][]rate.Quote, 0, len(dates))
	for _, d := range dates {
		at, err := frankfurterDate(d)
		if err != nil {
			return nil, err
		}
		quotes, err := crossRates(frankfurterBase, amount, b.Rates[d], at)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", d, err)
		}
		out = append(out, onECBDay(quotes, at))
	}
	return out, nil
}

// frankfurterHeader checks the base and reads the amount of EUR the rates
// are for (1 unless asked otherwise).
func frankfurterHeader(amount json.Number, base string) (a decimal.Decimal, err error) {
	if base != frankfurterBase {
		return a, fmt.Errorf("%w: base %.8q, asked for %s", errWrongBase, base, frankfurterBase)
	}
	if amount == "" {
		return one, nil
	}
	d, err := parseJSONNumber(amount)
	if err != nil {
		return a, fmt.Errorf("amount: %w", err)
	}
	if !d.IsPositive() {
		return a, fmt.Errorf("amount %s: %w", amount, errNotPositive)
	}
	return d, nil
}

// onECBDay sets the quotes' bank day to the ECB day they are dated: their
// RecordedAt (15:00 UTC) is already the next day in Korea.
func onECBDay(quotes []rate.Quote, at time.Time) []rate.Quote {
	for i := range quotes {
		quotes[i].RateDate = at.UTC().Format(time.DateOnly)
	}
	return quotes
}

// frankfurterDate is the RecordedAt of an ECB day "2006-01-02".
func frankfurterDate(s string) (time.Time, error) {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("date %q: %w", s, err)
	}
	return d.Add(frankfurterHourUTC * time.Hour), nil
}
