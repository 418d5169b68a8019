package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/shopspring/decimal"

	"github.com/ratewire/ratewire/ingestor/internal/rate"
	"github.com/ratewire/ratewire/shared/kst"
)

// Daily is one currency's OHLC of the mid rate over one KST day.
type Daily struct {
	Code    string          `db:"currency_code"`
	Day     string          `db:"day"`
	Open    decimal.Decimal `db:"open"`
	High    decimal.Decimal `db:"high"`
	Low     decimal.Decimal `db:"low"`
	Close   decimal.Decimal `db:"close"`
	Samples int             `db:"samples"`
	FirstAt time.Time       `db:"first_at"`
	LastAt  time.Time       `db:"last_at"`
	Source  string          `db:"source"`

	dirty bool // changed by this batch, to be written
}

// dailySet is the daily rows a batch touches, read once and updated in Go:
// comparing exact decimals in SQL would compare text on SQLite.
type dailySet map[[2]string]*Daily

func dailyForUpdate(ctx context.Context, tx *sqlx.Tx, quotes []rate.Quote) (dailySet, error) {
	set := dailySet{}
	if len(quotes) == 0 {
		return set, nil
	}
	codes, days := map[string]bool{}, map[string]bool{}
	var args []any
	for _, q := range quotes {
		codes[q.Code] = true
		days[kst.Day(q.RecordedAt)] = true
	}
	for c := range codes {
		args = append(args, c)
	}
	nCodes := len(args)
	for d := range days {
		args = append(args, d)
	}
	q := `SELECT currency_code, day, open, high, low, close, samples, first_at, last_at, source FROM daily_rates
		WHERE currency_code IN (?` + strings.Repeat(", ?", nCodes-1) + `) AND day IN (?` + strings.Repeat(", ?", len(days)-1) + `)`
	var rows []Daily
	if err := tx.SelectContext(ctx, &rows, tx.Rebind(q), args...); err != nil {
		return nil, fmt.Errorf("read daily rates: %w", err)
	}
	for _, r := range rows {
		r.FirstAt, r.LastAt = r.FirstAt.UTC(), r.LastAt.UTC()
		set[[2]string{r.Code, r.Day}] = &r
	}
	return set, nil
}

// add folds one new observation into its day's OHLC.
func (s dailySet) add(q rate.Quote, source string) {
	day := kst.Day(q.RecordedAt)
	k := [2]string{q.Code, day}
	e, ok := s[k]
	mid := q.DealBaseRate
	if !ok {
		e = &Daily{Code: q.Code, Day: day, Open: mid, High: mid, Low: mid, Close: mid,
			FirstAt: q.RecordedAt, LastAt: q.RecordedAt, Source: source}
		s[k] = e
	} else {
		if mid.GreaterThan(e.High) {
			e.High = mid
		}
		if mid.LessThan(e.Low) {
			e.Low = mid
		}
		if q.RecordedAt.Before(e.FirstAt) {
			e.Open, e.FirstAt = mid, q.RecordedAt
		}
		if !q.RecordedAt.Before(e.LastAt) {
			e.Close, e.LastAt, e.Source = mid, q.RecordedAt, source
		}
	}
	e.Samples++
	e.dirty = true
}

// recompute rebuilds code's OHLC of the KST day from its stored
// observations (of every source), after one of them was revised: a
// revision cannot be folded in like a new sample, since the value it
// replaces may have been the day's high, low or close.
func (s dailySet) recompute(ctx context.Context, tx *sqlx.Tx, code, day string) error {
	start, err := kst.ParseDay(day)
	if err != nil {
		return fmt.Errorf("recompute daily rate %s %s: %w", code, day, err)
	}
	var obs []struct {
		Mid        decimal.Decimal `db:"deal_base_rate"`
		RecordedAt time.Time       `db:"recorded_at"`
		Source     string          `db:"source"`
	}
	if err := tx.SelectContext(ctx, &obs, tx.Rebind(`SELECT deal_base_rate, recorded_at, source FROM rate_observations
		WHERE currency_code = ? AND recorded_at >= ? AND recorded_at < ? ORDER BY recorded_at, id`),
		code, start.UTC(), start.AddDate(0, 0, 1).UTC()); err != nil {
		return fmt.Errorf("recompute daily rate %s %s: %w", code, day, err)
	}
	if len(obs) == 0 {
		return nil
	}
	e := &Daily{Code: code, Day: day, dirty: true}
	for i, o := range obs {
		at := o.RecordedAt.UTC()
		if i == 0 {
			e.Open, e.High, e.Low, e.FirstAt = o.Mid, o.Mid, o.Mid, at
		}
		if o.Mid.GreaterThan(e.High) {
			e.High = o.Mid
		}
		if o.Mid.LessThan(e.Low) {
			e.Low = o.Mid
		}
		e.Close, e.LastAt, e.Source = o.Mid, at, o.Source
	}
	e.Samples = len(obs)
	s[[2]string{code, day}] = e
	return nil
}

// write stores the days that add touched.
func (s dailySet) write(ctx context.Context, tx *sqlx.Tx) error {
	var rows [][]any
	for _, e := range s {
		if e.dirty {
			rows = append(rows, []any{e.Code, e.Day, e.Open, e.High, e.Low, e.Close, e.Samples, e.FirstAt, e.LastAt, e.Source})
		}
	}
	if err := execRows(ctx, tx, `INSERT INTO daily_rates
		(currency_code, day, open, high, low, close, samples, first_at, last_at, source) VALUES `, rows,
		` ON CONFLICT (currency_code, day) DO UPDATE SET open = excluded.open, high = excluded.high,
			low = excluded.low, close = excluded.close, samples = excluded.samples,
			first_at = excluded.first_at, last_at = excluded.last_at, source = excluded.source`); err != nil {
		return fmt.Errorf("store daily rates: %w", err)
	}
	return nil
}

// DailyRates returns the daily OHLC of code between two KST days
// (inclusive), oldest first.
func (s *Store) DailyRates(ctx context.Context, code, from, to string) ([]Daily, error) {
	var rows []Daily
	err := s.db.SelectContext(ctx, &rows, s.db.Rebind(`SELECT currency_code, day, open, high, low, close, samples,
		first_at, last_at, source FROM daily_rates WHERE currency_code = ? AND day BETWEEN ? AND ? ORDER BY day`), code, from, to)
	if err != nil {
		return nil, fmt.Errorf("read daily rates %s: %w", code, err)
	}
	for i := range rows {
		rows[i].FirstAt, rows[i].LastAt = rows[i].FirstAt.UTC(), rows[i].LastAt.UTC()
	}
	return rows, nil
}
