// Package eximtest is a fake Korea Eximbank for tests: an http.Handler that
// answers the AP01 endpoint as the real bank does, on a clock of its own.
//
// Like the real one it answers `[]` for weekends, holidays, future dates
// and today before the ~11:00 KST publication, and rows otherwise: strings
// with thousands separators, JPY(100) per 100 units, a KRW row, a currency
// without spread, all labelled text/html, and result codes other than 1
// with HTTP 200. Each business day has its own deterministic rates, so a
// test can tell which day a served rate came from; Revise changes a day's
// rate as the bank does when it revises during the day.
package eximtest

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/shopspring/decimal"

	"github.com/ratewire/ratewire/shared/kst"
)

// Path is the AP01 endpoint's path.
const Path = "/site/program/financial/exchangeJSON"

// PublishHour is when the bank publishes a business day's rates (KST).
const PublishHour = 11

// Quote is one currency's rates of one day in KRW per one unit, as the
// ingestor should store them. TTS and TTB are nil when the bank quotes no
// spread.
type Quote struct {
	DealBaseRate decimal.Decimal
	TTS, TTB     *decimal.Decimal
}

// Codes are the currencies the bank quotes, besides its KRW row.
var Codes = []string{"BND", "CNH", "EUR", "JPY", "USD"}

// Bank is the fake bank. The zero value is not usable: call New.
type Bank struct {
	key string
	now func() time.Time

	mu       sync.Mutex
	holidays map[string]bool
	revised  map[string]map[string]decimal.Decimal // day -> code -> per-unit mid
	result   int
	asked    []string
}

// New returns a bank that accepts authkey key, tells the time by now, and
// publishes nothing on the given holidays ("2006-01-02", KST).
func New(key string, now func() time.Time, holidays ...string) *Bank {
	b := &Bank{key: key, now: now, holidays: map[string]bool{}, revised: map[string]map[string]decimal.Decimal{}, result: 1}
	for _, h := range holidays {
		b.holidays[h] = true
	}
	return b
}

// SetResult makes every answer with rows carry this result code (1 is
// success; 2, 3 and 4 are the bank's errors, sent with HTTP 200).
func (b *Bank) SetResult(code int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.result = code
}

// Revise changes code's mid rate of day to mid (per one unit), its spread
// keeping the same proportions, as the bank's intraday revisions do.
func (b *Bank) Revise(day, code string, mid decimal.Decimal) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.revised[day] == nil {
		b.revised[day] = map[string]decimal.Decimal{}
	}
	b.revised[day][code] = mid
}

// Asked lists the searchdates requested so far, in order.
func (b *Bank) Asked() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.asked...)
}

// published reports whether the bank answers rows for day ("2006-01-02")
// at its current time.
func (b *Bank) published(day string) bool {
	d, err := kst.ParseDay(day)
	if err != nil || b.holidays[day] || d.Weekday() == time.Saturday || d.Weekday() == time.Sunday {
		return false
	}
	return !b.now().Before(d.Add(PublishHour * time.Hour))
}

// Quote returns the rates of code on day as the ingestor should store them
// (per one unit, revisions included).
func (b *Bank) Quote(day, code string) Quote {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.quote(day, code)
}

func (b *Bank) quote(day, code string) Quote {
	d, _ := kst.ParseDay(day)
	n := int64(d.Sub(time.Date(2020, 1, 1, 0, 0, 0, 0, kst.Zone)) / (24 * time.Hour))
	// A deterministic level per day: each day differs from its neighbours,
	// by far less than the ingestor's 20 % plausibility bound.
	var mid decimal.Decimal
	spread := true
	switch code {
	case "USD":
		mid = decimal.New(138000+(n*37)%2000, -2) // 1380.00-1399.99
	case "EUR":
		mid = decimal.New(150000+(n*53)%3000, -2)
	case "JPY":
		mid = decimal.New(90000+(n*29)%3000, -4) // 9.0000-9.2999 per yen
	case "CNH": // the bank's 위안화 row: the offshore yuan, its only yuan
		mid = decimal.New(19000+(n*11)%500, -2)
	case "BND":
		mid, spread = decimal.New(10500+(n*7)%300, -1), false
	default:
		return Quote{}
	}
	if r, ok := b.revised[day][code]; ok {
		mid = r
	}
	q := Quote{DealBaseRate: mid}
	if spread {
		tts := mid.Mul(decimal.RequireFromString("1.01")).Round(mid.Exponent() * -1)
		ttb := mid.Mul(decimal.RequireFromString("0.99")).Round(mid.Exponent() * -1)
		q.TTS, q.TTB = &tts, &ttb
	}
	return q
}

// ServeHTTP answers GET Path?authkey=&searchdate=YYYYMMDD&data=AP01.
func (b *Bank) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	defer b.mu.Unlock()
	q := r.URL.Query()
	if r.URL.Path != Path || q.Get("data") != "AP01" {
		http.Error(w, "unexpected request", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "text/html;charset=UTF-8") // as the real site labels its JSON
	sd, err := time.ParseInLocation("20060102", q.Get("searchdate"), kst.Zone)
	if err != nil {
		fmt.Fprint(w, "[]")
		return
	}
	day := sd.Format(time.DateOnly)
	b.asked = append(b.asked, day)
	result := b.result
	if q.Get("authkey") != b.key {
		result = 3
	}
	if result != 1 {
		fmt.Fprintf(w, `[{"result":%d,"cur_unit":null,"ttb":null,"tts":null,"deal_bas_r":null,"bkpr":null,"yy_efee_r":null,"ten_dd_efee_r":null,"kftc_bkpr":null,"kftc_deal_bas_r":null,"cur_nm":null}]`, result)
		return
	}
	if !b.published(day) {
		fmt.Fprint(w, "[]")
		return
	}
	row := func(unit, ttb, tts, deal, name string) string {
		return fmt.Sprintf(`{"result":1,"cur_unit":%q,"ttb":%q,"tts":%q,"deal_bas_r":%q,"bkpr":"0","yy_efee_r":"0","ten_dd_efee_r":"0","kftc_bkpr":"0","kftc_deal_bas_r":%q,"cur_nm":%q}`,
			unit, ttb, tts, deal, deal, name)
	}
	quoted := func(code string, exp int32) (string, string, string) {
		qt := b.quote(day, code)
		s := func(d *decimal.Decimal) string {
			if d == nil {
				return ""
			}
			return thousands(d.Shift(exp).String())
		}
		return s(qt.TTB), s(qt.TTS), s(&qt.DealBaseRate)
	}
	bndTTB, bndTTS, bnd := quoted("BND", 0)
	cnhTTB, cnhTTS, cnh := quoted("CNH", 0)
	eurTTB, eurTTS, eur := quoted("EUR", 0)
	jpyTTB, jpyTTS, jpy := quoted("JPY", 2)
	usdTTB, usdTTS, usd := quoted("USD", 0)
	fmt.Fprint(w, "["+strings.Join([]string{
		row("BND", bndTTB, bndTTS, bnd, "브루나이 달러"),
		row("CNH", cnhTTB, cnhTTS, cnh, "위안화"),
		row("EUR", eurTTB, eurTTS, eur, "유로"),
		row("JPY(100)", jpyTTB, jpyTTS, jpy, "일본 옌"),
		row("KRW", "0", "0", "1", "한국 원"),
		row("USD", usdTTB, usdTTS, usd, "미국 달러"),
	}, ",")+"]")
}

// thousands writes "1384.42" as the bank does: "1,384.42".
func thousands(s string) string {
	whole, frac, hasFrac := strings.Cut(s, ".")
	var b strings.Builder
	for i, c := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if hasFrac {
		b.WriteString("." + frac)
	}
	return b.String()
}
