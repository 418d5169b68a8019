// Package hanatest is a fake of Hana Bank's rates as Dunamu's quotation
// API publishes them, for tests: an http.Handler answering
// /v1/forex/recent?codes=FRX.KRWUSD,... in the real format (DESIGN.md §5),
// on a clock of its own.
//
// Like the real one it answers a JSON array with one object per code it
// quotes (codes it does not quote are absent), JSON numbers in KRW per
// currencyUnit (100 for JPY), the notice's KST date and time and its
// number (recurrenceCount). Notice posts a new notice at the clock's time;
// until then every request answers the same notice. Fail makes it answer
// an error (an HTML page, a 429) instead.
package hanatest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/shopspring/decimal"

	"github.com/ratewire/ratewire/shared/kst"
)

// Path is the endpoint's path.
const Path = "/v1/forex/recent"

// Quote is one currency's rates of the current notice in KRW per one unit,
// as the ingestor should store them.
type Quote struct {
	DealBaseRate, TTS, TTB, CashBuy, CashSell decimal.Decimal
}

// Codes are the currencies the fake bank quotes.
var Codes = []string{"CNY", "EUR", "JPY", "USD"}

// units is each code's currencyUnit as a power of ten.
var units = map[string]int32{"CNY": 0, "EUR": 0, "JPY": 2, "USD": 0}

// names are the short currencyName values Dunamu sends.
var names = map[string][2]string{"CNY": {"위안", "중국"}, "EUR": {"유로", "유럽연합"}, "JPY": {"엔", "일본"}, "USD": {"달러", "미국"}}

// margins are the bank's margins over the mid (cash, remittance) as
// fractions, about what Hana Bank charges.
var margins = map[string][2]string{"CNY": {"0.05", "0.01"}, "EUR": {"0.0198", "0.01"}, "JPY": {"0.0175", "0.01"}, "USD": {"0.0175", "0.01"}}

// Bank is the fake. The zero value is not usable: call New.
type Bank struct {
	now func() time.Time

	mu       sync.Mutex
	notice   int64
	noticeAt time.Time
	mids     map[string]decimal.Decimal // per currencyUnit, as quoted
	fail     *failure
	requests int
}

type failure struct {
	status           int
	contentType, msg string
	retryAfter       string
}

// New returns a bank whose first notice (number 1) is posted at now(),
// with USD at 1338.00, JPY at 912.34 per 100, EUR at 1450.10 and CNY at
// 185.20.
func New(now func() time.Time) *Bank {
	return &Bank{now: now, notice: 1, noticeAt: now(), mids: map[string]decimal.Decimal{
		"USD": decimal.RequireFromString("1338.00"), "JPY": decimal.RequireFromString("912.34"),
		"EUR": decimal.RequireFromString("1450.10"), "CNY": decimal.RequireFromString("185.20"),
	}}
}

// Notice posts a new notice at the clock's time with the given mid rates
// (per currencyUnit, as the bank quotes them: JPY per 100); currencies not
// listed keep their numbers. Its spreads and cash rates follow the mid.
func (b *Bank) Notice(mids map[string]decimal.Decimal) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for c, m := range mids {
		if _, ok := b.mids[c]; !ok {
			panic(fmt.Sprintf("hanatest: %s is not quoted", c))
		}
		b.mids[c] = m
	}
	b.notice++
	b.noticeAt = b.now()
}

// Fail makes every request answer status with a body of contentType (an
// HTML error page, a 429 with Retry-After retryAfter when not empty) until
// Recover.
func (b *Bank) Fail(status int, contentType, body, retryAfter string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.fail = &failure{status: status, contentType: contentType, msg: body, retryAfter: retryAfter}
}

// Recover ends Fail.
func (b *Bank) Recover() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.fail = nil
}

// Requests counts the requests answered so far.
func (b *Bank) Requests() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.requests
}

// NoticeNumber is the current notice's recurrenceCount.
func (b *Bank) NoticeNumber() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.notice
}

// Quote returns code's rates of the current notice per one unit, as the
// ingestor should store them (the per-100 JPY prices divided by 100).
func (b *Bank) Quote(code string) Quote {
	b.mu.Lock()
	defer b.mu.Unlock()
	p := b.prices(code)
	exp := units[code]
	return Quote{DealBaseRate: p[0].Shift(-exp), TTS: p[1].Shift(-exp), TTB: p[2].Shift(-exp),
		CashBuy: p[3].Shift(-exp), CashSell: p[4].Shift(-exp)}
}

// prices are code's quoted prices per currencyUnit: base, tts, ttb, cash
// buy, cash sell, each rounded to two places as the bank publishes.
func (b *Bank) prices(code string) [5]decimal.Decimal {
	mid := b.mids[code]
	m := margins[code]
	cash, tt := decimal.RequireFromString(m[0]), decimal.RequireFromString(m[1])
	up := func(f decimal.Decimal) decimal.Decimal { return mid.Mul(decimal.NewFromInt(1).Add(f)).Round(2) }
	down := func(f decimal.Decimal) decimal.Decimal { return mid.Mul(decimal.NewFromInt(1).Sub(f)).Round(2) }
	return [5]decimal.Decimal{mid, up(tt), down(tt), up(cash), down(cash)}
}

// ServeHTTP answers the forex endpoint.
func (b *Bank) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.requests++
	if r.URL.Path != Path {
		http.NotFound(w, r)
		return
	}
	if f := b.fail; f != nil {
		if f.retryAfter != "" {
			w.Header().Set("Retry-After", f.retryAfter)
		}
		w.Header().Set("Content-Type", f.contentType)
		w.WriteHeader(f.status)
		fmt.Fprint(w, f.msg)
		return
	}
	at := b.noticeAt.In(kst.Zone)
	rows := []string{}
	for _, c := range strings.Split(r.URL.Query().Get("codes"), ",") {
		code, ok := strings.CutPrefix(c, "FRX.KRW")
		if _, quoted := b.mids[code]; !ok || !quoted {
			continue // unknown codes are simply absent
		}
		p := b.prices(code)
		n := names[code]
		row := map[string]any{
			"code": c, "currencyCode": code, "currencyName": n[0], "country": n[1],
			"name": fmt.Sprintf("%s (KRW/%s)", n[1], code), "date": at.Format(time.DateOnly), "time": at.Format(time.TimeOnly),
			"recurrenceCount": b.notice, "basePrice": num(p[0]), "openingPrice": num(p[0]), "highPrice": num(p[0]), "lowPrice": num(p[0]),
			"change": "EVEN", "changePrice": 0, "cashBuyingPrice": num(p[3]), "cashSellingPrice": num(p[4]),
			"ttBuyingPrice": num(p[2]), "ttSellingPrice": num(p[1]), "tcBuyingPrice": nil, "fcSellingPrice": nil,
			"exchangeCommission": 2.045, "usDollarRate": 1, "currencyUnit": decimal.New(1, units[code]).IntPart(),
			"provider": "하나은행", "timestamp": b.noticeAt.UnixMilli(), "signedChangePrice": 0, "signedChangeRate": 0, "changeRate": 0,
		}
		out, _ := json.Marshal(row)
		rows = append(rows, string(out))
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	fmt.Fprintf(w, "[%s]", strings.Join(rows, ","))
}

// num writes a decimal as a bare JSON number, exactly.
func num(d decimal.Decimal) json.RawMessage { return json.RawMessage(d.String()) }
