package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/shopspring/decimal"

	"github.com/ratewire/ratewire/ingestor/internal/rate"
	"github.com/ratewire/ratewire/shared/kst"
)

// KoreaEximName is the source label of Korea Eximbank quotes.
const KoreaEximName = "koreaexim"

// KoreaEximURL is the default base URL of the Korea Eximbank open API. The
// bank moved it from www.koreaexim.go.kr on 2025-06-25 and cut the old
// host off on 2026-04-30.
const KoreaEximURL = "https://oapi.koreaexim.go.kr"

// koreaEximPublishHour is when Korea Eximbank publishes a business day's
// rates, about 11:00 KST.
const koreaEximPublishHour = 11

// KoreaEximLookback is how many days Fetch walks back from today to find
// the most recent day that answers rows: enough for the longest Korean
// holidays (Chuseok or Seollal with a weekend and a substitute day).
const KoreaEximLookback = 10

// KoreaExim fetches the daily remittance rates of the Export-Import Bank
// of Korea (AP01): GET {base}/site/program/financial/exchangeJSON?authkey=
// &searchdate=YYYYMMDD&data=AP01. Unlike the others it quotes a spread:
// tts (bank sells) and ttb (bank buys) beside deal_bas_r.
//
// The bank answers `[]` for weekends, holidays, future dates and today
// before its ~11:00 KST publication, so the latest rates at any hour are
// those of the most recent day that answers rows: Fetch asks today, then
// each earlier weekday, at most KoreaEximLookback days back (weekends are
// skipped without a request, to spare the daily quota).
//
// A quote belongs to its search date (Quote.RateDate) and is recorded at
// that day's publication, 11:00 KST, or at the fetch time if that is
// earlier (the bank published early): never in the future. Batches are
// Daily, so a later fetch of the same day that answers other numbers is a
// revision of that day's observation.
//
// Quirks handled: numbers with thousands separators ("1,134.5");
// JPY(100) and IDR(100) quoted per 100 units (divided exactly, suffix
// dropped); a KRW row (skipped); CNH kept as CNH; tts/ttb "0" or empty
// (nil, never 0); result 2 (data code) and 3 (auth code) as Permanent and
// 4 (daily request limit, 1,000 a day) as RateLimited until the next KST
// midnight, all with HTTP 200; HTML pages and redirects instead of JSON
// (Temporary, naming the content type). The authkey travels in the query
// and is redacted from every error.
type KoreaExim struct {
	// Key is the authkey; required.
	Key string
	// BaseURL overrides KoreaEximURL.
	BaseURL string
	// Client is the HTTP client; nil means one with DefaultTimeout.
	Client *http.Client
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Concurrency bounds parallel requests in FetchRange: 1 (default) or 2;
	// larger values are treated as 2 to stay friendly to the daily limit.
	Concurrency int
	// Delay spaces the starts of FetchRange requests; zero means none.
	Delay time.Duration
}

// Name implements Provider.
func (p *KoreaExim) Name() string { return KoreaEximName }

func (p *KoreaExim) getter() getter {
	return getter{name: KoreaEximName, client: p.Client, now: p.Now, secrets: []string{p.Key}}
}

// Fetch implements Provider: the rates of the most recent KST day that
// answers rows, today included. When no day of the last
// KoreaEximLookback answers rows it returns an error wrapping ErrNoData.
func (p *KoreaExim) Fetch(ctx context.Context) (rate.Batch, error) {
	g := p.getter()
	today := kst.Midnight(g.clock())
	asked := 0
	for d := today; asked < KoreaEximLookback; d = d.AddDate(0, 0, -1) {
		asked++
		if isWeekend(d) {
			continue
		}
		b, err := p.fetchDay(ctx, g, d)
		if errors.Is(err, ErrNoData) {
			continue
		}
		if err == nil {
			b.NextUpdateAt = koreaEximNext(g.clock())
		}
		return b, err
	}
	return rate.Batch{}, &Error{Provider: KoreaEximName, Kind: NoData, Err: fmt.Errorf(
		"no rates published from %s back to %s: %w", today.Format(time.DateOnly),
		today.AddDate(0, 0, 1-KoreaEximLookback).Format(time.DateOnly), ErrNoData)}
}

// FetchRange implements Historical: one request per KST weekday whose
// quotes would be recorded (see koreaEximRecorded) within [from, to];
// days answering `[]` (holidays, today before publication) are skipped.
// Batches come sorted by day. On the first failure it stops and returns
// the batches it has with the error.
func (p *KoreaExim) FetchRange(ctx context.Context, from, to time.Time) ([]rate.Batch, error) {
	g := p.getter()
	now := g.clock()
	if to.After(now) {
		to = now
	}
	var days []time.Time
	for d := kst.Midnight(from); !d.After(to); d = d.AddDate(0, 0, 1) {
		at := koreaEximRecorded(d, now)
		if at.Before(from) || at.After(to) || isWeekend(d) {
			continue
		}
		days = append(days, d)
	}
	if len(days) == 0 {
		return nil, nil
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	workers := min(max(p.Concurrency, 1), 2)
	work := make(chan time.Time)
	go func() { // paces request starts by Delay
		defer close(work)
		for i, d := range days {
			if i > 0 && p.Delay > 0 {
				t := time.NewTimer(p.Delay)
				select {
				case <-ctx.Done():
					t.Stop()
					return
				case <-t.C:
				}
			}
			select {
			case <-ctx.Done():
				return
			case work <- d:
			}
		}
	}()

	type dayBatch struct {
		day   time.Time
		batch rate.Batch
	}
	var (
		mu       sync.Mutex
		got      []dayBatch
		firstErr error
		wg       sync.WaitGroup
	)
	for range workers {
		wg.Go(func() {
			for d := range work {
				if ctx.Err() != nil {
					continue // drain: another day failed or the caller gave up
				}
				b, err := p.fetchDay(ctx, g, d)
				b.NextUpdateAt = koreaEximNext(g.clock()) // should this day become the latest stored
				mu.Lock()
				switch {
				case err == nil:
					got = append(got, dayBatch{d, b})
				case errors.Is(err, ErrNoData):
				case firstErr == nil:
					firstErr = fmt.Errorf("%s: %w", d.Format(time.DateOnly), err)
					cancel()
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	sort.Slice(got, func(i, j int) bool { return got[i].day.Before(got[j].day) })
	batches := make([]rate.Batch, len(got))
	for i, g := range got {
		batches[i] = g.batch
	}
	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err()
	}
	return batches, firstErr
}

func isWeekend(d time.Time) bool {
	wd := d.In(kst.Zone).Weekday()
	return wd == time.Saturday || wd == time.Sunday
}

// koreaEximRecorded is when the quotes of the KST day d count as recorded
// when fetched at now: the day's publication (11:00 KST), or now if that
// is earlier. Never after now.
func koreaEximRecorded(d, now time.Time) time.Time {
	pub := kst.Midnight(d).Add(koreaEximPublishHour * time.Hour)
	if now.Before(pub) {
		return now.UTC()
	}
	return pub.UTC()
}

// fetchDay fetches the rates published on the KST date of day.
func (p *KoreaExim) fetchDay(ctx context.Context, g getter, day time.Time) (rate.Batch, error) {
	if p.Key == "" {
		e := newError(KoreaEximName, Permanent, 0, "no authkey configured")
		e.BadKey = true
		return rate.Batch{}, e
	}
	base := p.BaseURL
	if base == "" {
		base = KoreaEximURL
	}
	q := url.Values{}
	q.Set("authkey", p.Key)
	q.Set("searchdate", day.In(kst.Zone).Format("20060102"))
	q.Set("data", "AP01")
	u := strings.TrimRight(base, "/") + "/site/program/financial/exchangeJSON?" + q.Encode()

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
	fetched := g.clock().UTC()
	quotes, err := parseKoreaExim(r.body, kst.Midnight(day), koreaEximRecorded(day, fetched))
	if err != nil {
		var pe *Error
		if errors.As(err, &pe) {
			pe.Status = r.status
			if pe.Kind == RateLimited { // the daily limit resets at midnight KST
				now := g.clock()
				pe.RetryAfter = kst.Midnight(now).AddDate(0, 0, 1).Sub(now).Round(time.Second)
			}
			return rate.Batch{}, pe
		}
		return rate.Batch{}, g.fail(Temporary, r.status, fmt.Errorf("malformed body: %w", err))
	}
	return rate.Batch{Source: KoreaEximName, FetchedAt: fetched, Quotes: quotes, Daily: true}, nil
}

// koreaEximRow is the part of an AP01 object we use. Every field is a
// string except result, which the live API sends as a number; both are
// accepted. bkpr (book price), yy_efee_r and ten_dd_efee_r (exchange
// commission rates) and the kftc_* fields (Seoul Money Brokerage rates)
// are ignored: ratewire stores the mid and the remittance spread only.
type koreaEximRow struct {
	Result   resultCode `json:"result"`
	CurUnit  string     `json:"cur_unit"`
	TTB      string     `json:"ttb"`
	TTS      string     `json:"tts"`
	DealBasR string     `json:"deal_bas_r"`
	CurNm    string     `json:"cur_nm"`
}

// resultCode is the AP01 result: 1 success, 2 data code error, 3 auth
// code error, 4 daily request limit exceeded.
type resultCode int

// UnmarshalJSON accepts 1 and "1" (and null as 0).
func (c *resultCode) UnmarshalJSON(b []byte) error {
	s := string(bytes.Trim(b, `"`))
	if s == "null" {
		*c = 0
		return nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("result %s is not an integer", b)
	}
	*c = resultCode(n)
	return nil
}

// parseKoreaExim turns an AP01 body into quotes sorted by code, belonging
// to the KST day and recorded at recorded. `[]` is a NoData *Error; a result other than 1 is a
// classified *Error (no status: the caller fills it in); anything else
// wrong is a plain error for the caller to report as malformed.
func parseKoreaExim(body []byte, day, recorded time.Time) ([]rate.Quote, error) {
	var rows []koreaEximRow
	if err := json.Unmarshal(body, &rows); err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, &Error{Provider: KoreaEximName, Kind: NoData, Err: fmt.Errorf("searchdate %s: %w", day.Format("20060102"), ErrNoData)}
	}
	rateDate := kst.Day(day)
	quotes := make([]rate.Quote, 0, len(rows))
	seen := make(map[string]bool, len(rows))
	for _, row := range rows {
		switch row.Result {
		case 1:
		case 2:
			return nil, newError(KoreaEximName, Permanent, 0, "result 2: data code error")
		case 3:
			e := newError(KoreaEximName, Permanent, 0, "result 3: auth code error (check the authkey)")
			e.BadKey = true
			return nil, e
		case 4:
			return nil, newError(KoreaEximName, RateLimited, 0, "result 4: daily request limit exceeded")
		default:
			return nil, fmt.Errorf("unknown result %d", row.Result)
		}
		code, unit, err := splitUnit(row.CurUnit)
		if err != nil {
			return nil, err
		}
		if code == "KRW" {
			continue
		}
		if seen[code] {
			return nil, fmt.Errorf("currency %s appears twice", code)
		}
		seen[code] = true
		mid, err := parseAmount(row.DealBasR)
		if err != nil {
			return nil, fmt.Errorf("%s deal_bas_r: %w", code, err)
		}
		if !mid.IsPositive() {
			return nil, fmt.Errorf("%s deal_bas_r %q: %w", code, row.DealBasR, errNotPositive)
		}
		tts, err := optionalAmount(row.TTS)
		if err != nil {
			return nil, fmt.Errorf("%s tts: %w", code, err)
		}
		ttb, err := optionalAmount(row.TTB)
		if err != nil {
			return nil, fmt.Errorf("%s ttb: %w", code, err)
		}
		name := strings.TrimSpace(row.CurNm)
		if name == "" {
			name = KoreanName(code)
		}
		quotes = append(quotes, rate.Quote{
			Code:         code,
			Name:         name,
			DealBaseRate: perUnit(mid, unit),
			TTS:          perUnitPtr(tts, unit),
			TTB:          perUnitPtr(ttb, unit),
			RecordedAt:   recorded,
			RateDate:     rateDate,
		})
	}
	if len(quotes) == 0 {
		return nil, errors.New("no foreign-currency rows")
	}
	sort.Slice(quotes, func(i, j int) bool { return quotes[i].Code < quotes[j].Code })
	return quotes, nil
}

// splitUnit splits "JPY(100)" into JPY and 2 (a power of ten: 10^2 units
// per quote); "USD" is USD and 0. Only powers of ten are accepted, so the
// division stays exact.
func splitUnit(s string) (string, int32, error) {
	s = strings.TrimSpace(s)
	code, rest, found := strings.Cut(s, "(")
	code = strings.TrimSpace(code)
	if !isCode(code) {
		return "", 0, fmt.Errorf("cur_unit %q is not a currency code", s)
	}
	if !found {
		return code, 0, nil
	}
	n, ok := strings.CutSuffix(rest, ")")
	if !ok || len(n) < 1 || len(n) > 7 || n[0] != '1' || strings.Trim(n[1:], "0") != "" {
		return "", 0, fmt.Errorf("cur_unit %q: unit is not 10, 100, ...", s)
	}
	return code, int32(len(n) - 1), nil
}

// optionalAmount parses tts/ttb: empty or zero means the bank quotes no
// spread for that currency (nil), never a rate of 0.
func optionalAmount(s string) (*decimal.Decimal, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	d, err := parseAmount(s)
	if err != nil {
		return nil, err
	}
	if d.IsZero() {
		return nil, nil
	}
	if d.IsNegative() {
		return nil, fmt.Errorf("%q: %w", s, errNotPositive)
	}
	return &d, nil
}

// perUnit divides a quote for 10^exp units down to one unit: exact, it
// only moves the decimal point.
func perUnit(d decimal.Decimal, exp int32) decimal.Decimal {
	if exp == 0 {
		return d
	}
	return d.Shift(-exp)
}

func perUnitPtr(d *decimal.Decimal, exp int32) *decimal.Decimal {
	if d == nil {
		return nil
	}
	v := perUnit(*d, exp)
	return &v
}
