package provider

import (
	"bytes"
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
	"github.com/ratewire/ratewire/shared/kst"
)

// HanaName is the source label of Hana Bank quotes.
const HanaName = "hana"

// HanaURL is the default base URL of Dunamu's quotation API, which
// publishes Hana Bank's notices (unofficial, keyless).
const HanaURL = "https://quotation-api-cdn.dunamu.com"

// HanaPath is the endpoint answering the latest notice of every code asked.
const HanaPath = "/v1/forex/recent"

// HanaCodes are the currencies asked of Hana Bank by default: those its
// notices carry, in one request. A code the bank does not quote is simply
// absent from the answer.
var HanaCodes = []string{
	"USD", "JPY", "EUR", "CNY", "GBP", "CHF", "CAD", "AUD", "NZD", "HKD", "SGD", "THB", "TWD",
	"PHP", "IDR", "VND", "MYR", "INR", "SEK", "DKK", "NOK", "SAR", "KWD", "BHD", "AED", "QAR",
	"TRY", "MXN", "BRL", "ZAR", "RUB", "CZK", "HUF", "PLN", "ILS", "KZT", "MNT", "BDT", "PKR",
	"EGP", "MOP",
}

// Hana fetches Hana Bank's rates as Dunamu's quotation API publishes them:
// GET {base}/v1/forex/recent?codes=FRX.KRWUSD,FRX.KRWJPY,... answers a JSON
// array with one object per code the bank quotes (DESIGN.md §5). It is the
// one source with cash rates: basePrice is the mid (매매기준율),
// cashBuyingPrice 현찰 살 때 (CashBuy), cashSellingPrice 현찰 팔 때
// (CashSell), ttSellingPrice 송금 보낼 때 (TTS), ttBuyingPrice 송금 받을 때
// (TTB), all in KRW per currencyUnit units (100 for JPY, IDR and VND),
// divided exactly down to one unit.
//
// The bank publishes a new notice (고시회차, recurrenceCount) many times a
// business day; each quote is recorded at its notice's KST date and time.
// A new notice is a new observation; the same notice fetched again has the
// same recorded time and changes nothing when stored. The batch's
// NextUpdateAt is unset during banking hours (a notice can come at any
// moment) and the next weekday's 09:00 KST outside them (hanaNext).
//
// Quirks handled: JSON numbers read exactly (no float); null or absent
// spread and cash prices (nil, never invented); a row without basePrice,
// time or a usable currencyUnit is skipped; codes asked but not quoted are
// absent; a code listed twice keeps its latest notice; HTML error pages
// (Temporary, naming the content type), 429 with Retry-After
// (RateLimited) and 5xx (Temporary) via the shared HTTP classification.
type Hana struct {
	// BaseURL overrides HanaURL.
	BaseURL string
	// Codes overrides HanaCodes.
	Codes []string
	// Client is the HTTP client; nil means one with DefaultTimeout.
	Client *http.Client
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Name implements Provider.
func (p *Hana) Name() string { return HanaName }

// Fetch implements Provider: the latest notice of every code asked.
func (p *Hana) Fetch(ctx context.Context) (rate.Batch, error) {
	g := getter{name: HanaName, client: p.Client, now: p.Now}
	base := p.BaseURL
	if base == "" {
		base = HanaURL
	}
	codes := p.Codes
	if len(codes) == 0 {
		codes = HanaCodes
	}
	parts := make([]string, len(codes))
	for i, c := range codes {
		parts[i] = "FRX.KRW" + c
	}
	u := strings.TrimRight(base, "/") + HanaPath + "?codes=" + strings.Join(parts, ",")
	r, err := g.get(ctx, u)
	if err != nil {
		return rate.Batch{}, err
	}
	if r.status/100 != 2 {
		return rate.Batch{}, g.statusError(r)
	}
	if e := g.requireJSON(r); e != nil {
		return rate.Batch{}, e
	}
	quotes, err := parseHana(r.body)
	if err != nil {
		var pe *Error
		if errors.As(err, &pe) {
			pe.Status = r.status
			return rate.Batch{}, pe
		}
		return rate.Batch{}, g.fail(Temporary, r.status, fmt.Errorf("malformed body: %w", err))
	}
	fetched := g.clock().UTC()
	return rate.Batch{Source: HanaName, FetchedAt: fetched, Quotes: quotes, NextUpdateAt: hanaNext(fetched)}, nil
}

// hanaRow is the part of a Dunamu forex object we use. Prices are
// json.Number so they are read exactly; pointers tell null from present.
type hanaRow struct {
	Code             string       `json:"code"`
	CurrencyCode     string       `json:"currencyCode"`
	CurrencyName     string       `json:"currencyName"`
	Date             string       `json:"date"`
	Time             string       `json:"time"`
	RecurrenceCount  *int64       `json:"recurrenceCount"`
	BasePrice        *json.Number `json:"basePrice"`
	CashBuyingPrice  *json.Number `json:"cashBuyingPrice"`
	CashSellingPrice *json.Number `json:"cashSellingPrice"`
	TTBuyingPrice    *json.Number `json:"ttBuyingPrice"`
	TTSellingPrice   *json.Number `json:"ttSellingPrice"`
	CurrencyUnit     *json.Number `json:"currencyUnit"`
}

// parseHana turns a Dunamu forex body into quotes sorted by code. `[]` (no
// code asked is quoted) is a NoData *Error; anything unreadable is a plain
// error for the caller to report as malformed. Rows that cannot make a
// quote are skipped; a body where none can is malformed.
func parseHana(body []byte) ([]rate.Quote, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var rows []hanaRow
	if err := dec.Decode(&rows); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("trailing data after the array")
	}
	if len(rows) == 0 {
		return nil, &Error{Provider: HanaName, Kind: NoData, Err: fmt.Errorf("no code asked is quoted: %w", ErrNoData)}
	}
	byCode := make(map[string]rate.Quote, len(rows))
	notice := make(map[string]int64, len(rows))
	var skipped []string
	for _, row := range rows {
		q, n, err := hanaQuote(row)
		if err != nil {
			skipped = append(skipped, err.Error())
			continue
		}
		if prev, ok := byCode[q.Code]; ok && (n < notice[q.Code] || (n == notice[q.Code] && q.RecordedAt.Before(prev.RecordedAt))) {
			continue // an older notice of a code listed twice
		}
		byCode[q.Code], notice[q.Code] = q, n
	}
	if len(byCode) == 0 {
		return nil, fmt.Errorf("no usable row: %s", strings.Join(skipped, "; "))
	}
	quotes := make([]rate.Quote, 0, len(byCode))
	for _, q := range byCode {
		quotes = append(quotes, q)
	}
	sort.Slice(quotes, func(i, j int) bool { return quotes[i].Code < quotes[j].Code })
	return quotes, nil
}

// hanaQuote turns one row into a quote and its notice number.
func hanaQuote(row hanaRow) (rate.Quote, int64, error) {
	code := strings.TrimSpace(row.CurrencyCode)
	if code == "" {
		code, _ = strings.CutPrefix(row.Code, "FRX.KRW")
	}
	if !isCode(code) || code == "KRW" {
		return rate.Quote{}, 0, fmt.Errorf("row %.20q: not a foreign currency code", row.Code)
	}
	if row.BasePrice == nil {
		return rate.Quote{}, 0, fmt.Errorf("%s: basePrice is null", code)
	}
	exp, err := hanaUnit(row.CurrencyUnit)
	if err != nil {
		return rate.Quote{}, 0, fmt.Errorf("%s: %w", code, err)
	}
	at, err := time.ParseInLocation(time.DateOnly+" "+time.TimeOnly, row.Date+" "+row.Time, kst.Zone)
	if err != nil {
		return rate.Quote{}, 0, fmt.Errorf("%s: date %.12q time %.10q: not a KST notice time", code, row.Date, row.Time)
	}
	mid, err := parseJSONNumber(*row.BasePrice)
	if err != nil {
		return rate.Quote{}, 0, fmt.Errorf("%s basePrice: %w", code, err)
	}
	if !mid.IsPositive() {
		return rate.Quote{}, 0, fmt.Errorf("%s basePrice %s: %w", code, mid, errNotPositive)
	}
	var prices [4]*decimal.Decimal
	for i, n := range []*json.Number{row.TTSellingPrice, row.TTBuyingPrice, row.CashBuyingPrice, row.CashSellingPrice} {
		if prices[i], err = hanaPrice(n); err != nil {
			return rate.Quote{}, 0, fmt.Errorf("%s: %w", code, err)
		}
		prices[i] = perUnitPtr(prices[i], exp)
	}
	// The reference table's name, as every other source gives it (Dunamu's
	// currencyName is short and ambiguous: "달러"); the row's own only for
	// a currency the table lacks.
	name := KoreanName(code)
	if rn := strings.TrimSpace(row.CurrencyName); name == code && rn != "" && len(rn) <= 64 {
		name = rn
	}
	var count int64
	if row.RecurrenceCount != nil {
		count = *row.RecurrenceCount
	}
	return rate.Quote{
		Code:         code,
		Name:         name,
		DealBaseRate: perUnit(mid, exp),
		TTS:          prices[0],
		TTB:          prices[1],
		CashBuy:      prices[2],
		CashSell:     prices[3],
		RecordedAt:   at.UTC(),
		RateDate:     row.Date,
	}, count, nil
}

// hanaUnit reads currencyUnit as a power of ten (1 -> 0, 100 -> 2), so
// dividing by it stays exact.
func hanaUnit(n *json.Number) (int32, error) {
	if n == nil {
		return 0, errors.New("currencyUnit is null")
	}
	s := n.String()
	if len(s) < 1 || len(s) > 7 || s[0] != '1' || strings.Trim(s[1:], "0") != "" {
		return 0, fmt.Errorf("currencyUnit %.10q is not 1, 10, 100, ...", s)
	}
	return int32(len(s) - 1), nil
}

// hanaPrice reads an optional price: null or zero means the bank quotes
// none (nil, never 0); a negative one is an error.
func hanaPrice(n *json.Number) (*decimal.Decimal, error) {
	if n == nil {
		return nil, nil
	}
	d, err := parseJSONNumber(*n)
	if err != nil {
		return nil, err
	}
	if d.IsZero() {
		return nil, nil
	}
	if d.IsNegative() {
		return nil, fmt.Errorf("price %s: %w", d, errNotPositive)
	}
	return &d, nil
}
