// Package store keeps the ingestor's data in SQL (PostgreSQL or SQLite via
// sqldb): raw observations and the versioned latest rate per currency. It
// owns these tables' migrations; the currency and history services read
// them.
package store

import (
	"context"
	"embed"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/ratewire/ratewire/ingestor/internal/rate"
	"github.com/ratewire/ratewire/shared/event"
	"github.com/ratewire/ratewire/shared/kst"
	"github.com/ratewire/ratewire/shared/sqldb"
)

//go:embed migrations
var migrations embed.FS

// Module is the name the ingestor's migrations are recorded under.
const Module = "ingestor"

// Store is the SQL store of the ingestor.
type Store struct {
	db *sqlx.DB
}

// New wraps an open database.
func New(db *sqlx.DB) *Store { return &Store{db: db} }

// Migrate brings the schema up to date.
func (s *Store) Migrate(ctx context.Context) error {
	return sqldb.Migrate(ctx, s.db, Module, sub(migrations))
}

// Ping checks the database, for readiness.
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// SaveBatch stores one collection in a single transaction: every quote as
// an observation (a quote already stored for the same currency, source and
// instant is skipped), its KST day's OHLC and, for each currency whose rate
// changed and is not older than the stored one, a new latest rate with the
// next version. It returns the latest rates it changed, in the batch's
// order; unchanged rates are not returned. Nothing is stored when it fails.
func (s *Store) SaveBatch(ctx context.Context, b rate.Batch, runID string, now time.Time) ([]event.Rate, error) {
	var changed []event.Rate
	err := sqldb.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		var err error
		changed, err = saveBatch(ctx, tx, b, runID, now)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("save batch from %s: %w", b.Source, err)
	}
	return changed, nil
}

// SaveBatches stores many batches (a backfill) like SaveBatch, several
// per transaction: each transaction is all-or-nothing, and a failure stops
// at the first batch it could not store.
func (s *Store) SaveBatches(ctx context.Context, bs []rate.Batch, runID string, now time.Time) error {
	const perTx = 250
	for len(bs) > 0 {
		n := min(len(bs), perTx)
		err := sqldb.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
			for _, b := range bs[:n] {
				if _, err := saveBatch(ctx, tx, b, runID, now); err != nil {
					return fmt.Errorf("batch from %s at %s: %w", b.Source, b.FetchedAt.Format(time.RFC3339), err)
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("save batches: %w", err)
		}
		bs = bs[n:]
	}
	return nil
}

// saveBatch is SaveBatch inside a caller's transaction. Every table is
// written with multi-row statements: a run of 170 currencies is a handful
// of round trips, not hundreds.
//
// A Daily batch (one rate per currency per bank day) may revise a day
// already stored: the day's observation takes the new numbers and keeps
// its recorded_at, the day's OHLC is recomputed from its observations,
// and the latest rate moves with them, so the currency API, the history
// series and the daily close agree. The same numbers again change nothing.
func saveBatch(ctx context.Context, tx *sqlx.Tx, b rate.Batch, runID string, now time.Time) ([]event.Rate, error) {
	// Both databases keep microseconds: what the events carry must be
	// what a reader of latest_rates gets back.
	now = now.UTC().Truncate(time.Microsecond)
	quotes := make([]rate.Quote, len(b.Quotes))
	for i, q := range b.Quotes {
		q.RecordedAt = q.RecordedAt.UTC().Truncate(time.Microsecond)
		q.RateDate = q.Day()
		quotes[i] = q
	}
	current, err := latestForUpdate(ctx, tx, quotes)
	if err != nil {
		return nil, err
	}
	// Daily sources: find the stored observation of each quote's day.
	stored := map[[2]string]storedObservation{}
	if b.Daily {
		if stored, err = dailyObservations(ctx, tx, b.Source, quotes); err != nil {
			return nil, err
		}
	}
	revisedDays := map[[2]string]bool{} // code, KST day of recorded_at
	fresh := quotes[:0:0]               // quotes to insert as new observations
	for i, q := range quotes {
		o, ok := stored[[2]string{q.Code, q.RateDate}]
		if !ok {
			fresh = append(fresh, q)
			continue
		}
		quotes[i].RecordedAt = o.RecordedAt // the day keeps its first recorded time
		if rate.SameRate(q, o.Rate) {
			continue
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE rate_observations SET deal_base_rate = ?, tts = ?, ttb = ?,
			cash_buy = ?, cash_sell = ?, run_id = ?, created_at = ? WHERE id = ?`), q.DealBaseRate, q.TTS, q.TTB, q.CashBuy, q.CashSell, runID, now, o.ID); err != nil {
			return nil, fmt.Errorf("revise observation %s of %s: %w", q.Code, q.RateDate, err)
		}
		revisedDays[[2]string{q.Code, kst.Day(o.RecordedAt)}] = true
	}

	obs := make([][]any, len(fresh))
	for i, q := range fresh {
		obs[i] = []any{q.Code, b.Source, q.DealBaseRate, q.TTS, q.TTB, q.CashBuy, q.CashSell, q.RecordedAt, q.RateDate, runID, now}
	}
	inserted := make(map[[2]string]bool, len(fresh))
	err = queryRows(ctx, tx, `INSERT INTO rate_observations
		(currency_code, source, deal_base_rate, tts, ttb, cash_buy, cash_sell, recorded_at, rate_date, run_id, created_at) VALUES `, obs,
		` ON CONFLICT (currency_code, source, recorded_at) DO NOTHING RETURNING currency_code, recorded_at`,
		func(rows *sqlx.Rows) error {
			var code string
			var at time.Time
			if err := rows.Scan(&code, &at); err != nil {
				return err
			}
			inserted[[2]string{code, at.UTC().Format(time.RFC3339Nano)}] = true
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("store observations: %w", err)
	}

	days, err := dailyForUpdate(ctx, tx, quotes)
	if err != nil {
		return nil, err
	}
	for k := range revisedDays {
		if err := days.recompute(ctx, tx, k[0], k[1]); err != nil {
			return nil, err
		}
	}
	for _, q := range fresh {
		// A new observation (not a replay) moves its day's OHLC, unless the
		// day was recomputed from its observations, this one included.
		if inserted[[2]string{q.Code, q.RecordedAt.Format(time.RFC3339Nano)}] && !revisedDays[[2]string{q.Code, kst.Day(q.RecordedAt)}] {
			days.add(q, b.Source)
		}
	}

	// Per currency, the newest quote of the batch is the candidate latest
	// rate; currencies keep the order of their first quote.
	newest := make(map[string]rate.Quote, len(quotes))
	var order []string
	for _, q := range quotes {
		n, seen := newest[q.Code]
		if !seen {
			order = append(order, q.Code)
		}
		if !seen || !q.RecordedAt.Before(n.RecordedAt) {
			newest[q.Code] = q
		}
	}
	// Freshness of the batch, at the databases' microsecond precision;
	// nil when unknown (a batch without a fetch time, a source without a
	// schedule).
	var fetchedAt, nextUpdate *time.Time
	if !b.FetchedAt.IsZero() {
		t := b.FetchedAt.UTC().Truncate(time.Microsecond)
		fetchedAt = &t
	}
	if !b.NextUpdateAt.IsZero() {
		t := b.NextUpdateAt.UTC().Truncate(time.Microsecond)
		nextUpdate = &t
	}
	var changed []event.Rate
	var latestRows [][]any
	for _, code := range order {
		q := newest[code]
		cur, ok := current[code]
		if ok && ((rate.SameRate(q, cur) && cur.Day() == q.RateDate && cur.QuotedAs == q.QuotedAs) || q.RecordedAt.Before(cur.RecordedAt)) {
			continue
		}
		// The one place a provider's quote becomes a stored rate.
		changed = append(changed, event.Rate{
			CurrencyCode: q.Code, CurrencyName: q.Name, DealBaseRate: q.DealBaseRate, TTS: q.TTS, TTB: q.TTB,
			CashBuy: q.CashBuy, CashSell: q.CashSell,
			Source: b.Source, RecordedAt: q.RecordedAt, RateDate: q.RateDate, QuotedAs: q.QuotedAs, UpdatedAt: now,
			FetchedAt: fetchedAt, NextUpdateAt: nextUpdate,
			Version: cur.Version + 1,
		})
	}
	for _, l := range changed {
		latestRows = append(latestRows, []any{l.CurrencyCode, l.CurrencyName, l.DealBaseRate, l.TTS, l.TTB, l.CashBuy, l.CashSell, l.Source,
			l.RecordedAt, l.RateDate, l.QuotedAs, l.UpdatedAt, l.FetchedAt, l.NextUpdateAt, l.Version})
	}
	if err := execRows(ctx, tx, `INSERT INTO latest_rates
		(currency_code, currency_name, deal_base_rate, tts, ttb, cash_buy, cash_sell, source, recorded_at, rate_date, quoted_as, updated_at,
		fetched_at, next_update_at, version) VALUES `, latestRows,
		` ON CONFLICT (currency_code) DO UPDATE SET
			currency_name = excluded.currency_name, deal_base_rate = excluded.deal_base_rate,
			tts = excluded.tts, ttb = excluded.ttb, cash_buy = excluded.cash_buy, cash_sell = excluded.cash_sell, source = excluded.source,
			recorded_at = excluded.recorded_at, rate_date = excluded.rate_date, quoted_as = excluded.quoted_as,
			updated_at = excluded.updated_at, fetched_at = excluded.fetched_at, next_update_at = excluded.next_update_at,
			version = excluded.version`); err != nil {
		return nil, fmt.Errorf("store latest rates: %w", err)
	}
	if err := days.write(ctx, tx); err != nil {
		return nil, err
	}
	return changed, nil
}

// storedObservation is an observation already stored for a daily source's
// day: its id and, as a stored rate, the columns a revision compares.
type storedObservation struct {
	ID int64 `db:"id"`
	event.Rate
}

// dailyObservations reads source's stored observations of the quotes'
// codes and bank days, keyed by code and day. Rows stored before rate_date
// existed are matched by nothing and stay as they are.
func dailyObservations(ctx context.Context, tx *sqlx.Tx, source string, quotes []rate.Quote) (map[[2]string]storedObservation, error) {
	out := map[[2]string]storedObservation{}
	if len(quotes) == 0 {
		return out, nil
	}
	codes, days := map[string]bool{}, map[string]bool{}
	for _, q := range quotes {
		codes[q.Code], days[q.RateDate] = true, true
	}
	q, args, err := sqlx.In(`SELECT id, currency_code, deal_base_rate, tts, ttb, cash_buy, cash_sell, recorded_at, rate_date
		FROM rate_observations WHERE source = ? AND rate_date IN (?) AND currency_code IN (?)
		ORDER BY recorded_at`, source, keys(days), keys(codes))
	if err != nil {
		return nil, err
	}
	rows, err := tx.QueryxContext(ctx, tx.Rebind(q), args...)
	if err != nil {
		return nil, fmt.Errorf("read stored observations of %s: %w", source, err)
	}
	defer rows.Close()
	for rows.Next() {
		var o storedObservation
		if err := rows.StructScan(&o); err != nil {
			return nil, fmt.Errorf("read stored observations of %s: %w", source, err)
		}
		o.Rate = o.Rate.UTC()
		k := [2]string{o.CurrencyCode, o.RateDate}
		if _, dup := out[k]; !dup { // the day's first observation is the day's
			out[k] = o
		}
	}
	return out, rows.Err()
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// latestForUpdate reads the stored latest rates of the batch's currencies,
// locking them on PostgreSQL so two concurrent runs cannot hand out the
// same version twice (SQLite's immediate transaction already holds the
// write lock).
func latestForUpdate(ctx context.Context, tx *sqlx.Tx, quotes []rate.Quote) (map[string]event.Rate, error) {
	out := make(map[string]event.Rate, len(quotes))
	if len(quotes) == 0 {
		return out, nil
	}
	codes := make([]any, len(quotes))
	for i, q := range quotes {
		codes[i] = q.Code
	}
	q := `SELECT ` + event.RateColumns + `
		FROM latest_rates WHERE currency_code IN (?` + strings.Repeat(", ?", len(codes)-1) + `)`
	if sqldb.DialectFromDriver(tx.DriverName()) == sqldb.Postgres {
		q += ` FOR UPDATE`
	}
	var rows []event.Rate
	if err := tx.SelectContext(ctx, &rows, tx.Rebind(q), codes...); err != nil {
		return nil, fmt.Errorf("read latest rates: %w", err)
	}
	for _, r := range rows {
		out[r.CurrencyCode] = r.UTC()
	}
	return out, nil
}

// Latest returns every stored latest rate, ordered by currency code. A
// row stored before rate_date existed has an empty RateDate (see
// event.Rate.Day).
func (s *Store) Latest(ctx context.Context) ([]event.Rate, error) {
	var rows []event.Rate
	if err := s.db.SelectContext(ctx, &rows, `SELECT `+event.RateColumns+` FROM latest_rates ORDER BY currency_code`); err != nil {
		return nil, fmt.Errorf("read latest rates: %w", err)
	}
	for i := range rows {
		rows[i] = rows[i].UTC()
	}
	return rows, nil
}

// CountObservations returns how many observations are stored for a
// currency, for tests and operators.
func (s *Store) CountObservations(ctx context.Context, code string) (int, error) {
	var n int
	err := s.db.GetContext(ctx, &n, s.db.Rebind(`SELECT COUNT(*) FROM rate_observations WHERE currency_code = ?`), code)
	return n, err
}

// Observations returns code's stored observations (mid, spread, cash, time and
// bank day), oldest first, for tests and operators.
func (s *Store) Observations(ctx context.Context, code string) ([]rate.Quote, error) {
	rows, err := s.db.QueryxContext(ctx, s.db.Rebind(`SELECT deal_base_rate, tts, ttb, cash_buy, cash_sell, recorded_at, rate_date
		FROM rate_observations WHERE currency_code = ? ORDER BY recorded_at, id`), code)
	if err != nil {
		return nil, fmt.Errorf("read observations %s: %w", code, err)
	}
	defer rows.Close()
	var out []rate.Quote
	for rows.Next() {
		q := rate.Quote{Code: code}
		var day *string
		if err := rows.Scan(&q.DealBaseRate, &q.TTS, &q.TTB, &q.CashBuy, &q.CashSell, &q.RecordedAt, &day); err != nil {
			return nil, fmt.Errorf("read observations %s: %w", code, err)
		}
		q.RecordedAt = q.RecordedAt.UTC()
		if day != nil {
			q.RateDate = *day
		}
		out = append(out, q)
	}
	return out, rows.Err()
}
