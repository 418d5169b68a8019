// Package store keeps the ingestor's data in SQL (PostgreSQL or SQLite via
// sqldb): raw observations and the versioned latest rate per currency. It
// owns these tables' migrations; the currency and history services read
// them.
package store

import (
	"context"
	"embed"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/shopspring/decimal"

	"github.com/ratewire/ratewire/ingestor/internal/rate"
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
func (s *Store) SaveBatch(ctx context.Context, b rate.Batch, runID string, now time.Time) ([]rate.Latest, error) {
	var changed []rate.Latest
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
func saveBatch(ctx context.Context, tx *sqlx.Tx, b rate.Batch, runID string, now time.Time) ([]rate.Latest, error) {
	now = now.UTC()
	quotes := make([]rate.Quote, len(b.Quotes))
	for i, q := range b.Quotes {
		q.RecordedAt = q.RecordedAt.UTC().Truncate(time.Microsecond)
		quotes[i] = q
	}
	current, err := latestForUpdate(ctx, tx, quotes)
	if err != nil {
		return nil, err
	}
	days, err := dailyForUpdate(ctx, tx, quotes)
	if err != nil {
		return nil, err
	}

	obs := make([][]any, len(quotes))
	for i, q := range quotes {
		obs[i] = []any{q.Code, b.Source, q.DealBaseRate, q.TTS, q.TTB, q.RecordedAt, runID, now}
	}
	inserted := make(map[[2]string]bool, len(quotes))
	err = queryRows(ctx, tx, `INSERT INTO rate_observations
		(currency_code, source, deal_base_rate, tts, ttb, recorded_at, run_id, created_at) VALUES `, obs,
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

	// Per currency, the newest quote of the batch is the candidate latest
	// rate; currencies keep the order of their first quote.
	newest := make(map[string]rate.Quote, len(quotes))
	var order []string
	for _, q := range quotes {
		if inserted[[2]string{q.Code, q.RecordedAt.Format(time.RFC3339Nano)}] {
			// A new observation (not a replay) moves its day's OHLC.
			days.add(q, b.Source)
		}
		n, seen := newest[q.Code]
		if !seen {
			order = append(order, q.Code)
		}
		if !seen || !q.RecordedAt.Before(n.RecordedAt) {
			newest[q.Code] = q
		}
	}
	var changed []rate.Latest
	var latestRows [][]any
	for _, code := range order {
		q := newest[code]
		cur, ok := current[code]
		if ok && (rate.SameRate(cur.Quote, q) || q.RecordedAt.Before(cur.RecordedAt)) {
			continue
		}
		changed = append(changed, rate.Latest{Quote: q, Source: b.Source, UpdatedAt: now, Version: cur.Version + 1})
	}
	for _, l := range changed {
		latestRows = append(latestRows, []any{l.Code, l.Name, l.DealBaseRate, l.TTS, l.TTB, l.Source, l.RecordedAt, l.UpdatedAt, l.Version})
	}
	if err := execRows(ctx, tx, `INSERT INTO latest_rates
		(currency_code, currency_name, deal_base_rate, tts, ttb, source, recorded_at, updated_at, version) VALUES `, latestRows,
		` ON CONFLICT (currency_code) DO UPDATE SET
			currency_name = excluded.currency_name, deal_base_rate = excluded.deal_base_rate,
			tts = excluded.tts, ttb = excluded.ttb, source = excluded.source,
			recorded_at = excluded.recorded_at, updated_at = excluded.updated_at,
			version = excluded.version`); err != nil {
		return nil, fmt.Errorf("store latest rates: %w", err)
	}
	if err := days.write(ctx, tx); err != nil {
		return nil, err
	}
	return changed, nil
}

// latestRow is the scan target of latest_rates.
type latestRow struct {
	Code         string           `db:"currency_code"`
	Name         string           `db:"currency_name"`
	DealBaseRate decimal.Decimal  `db:"deal_base_rate"`
	TTS          *decimal.Decimal `db:"tts"`
	TTB          *decimal.Decimal `db:"ttb"`
	Source       string           `db:"source"`
	RecordedAt   time.Time        `db:"recorded_at"`
	UpdatedAt    time.Time        `db:"updated_at"`
	Version      int64            `db:"version"`
}

func (r latestRow) latest() rate.Latest {
	return rate.Latest{
		Quote: rate.Quote{Code: r.Code, Name: r.Name, DealBaseRate: r.DealBaseRate, TTS: r.TTS, TTB: r.TTB,
			RecordedAt: r.RecordedAt.UTC()},
		Source: r.Source, UpdatedAt: r.UpdatedAt.UTC(), Version: r.Version,
	}
}

// latestForUpdate reads the stored latest rates of the batch's currencies,
// locking them on PostgreSQL so two concurrent runs cannot hand out the
// same version twice (SQLite's immediate transaction already holds the
// write lock).
func latestForUpdate(ctx context.Context, tx *sqlx.Tx, quotes []rate.Quote) (map[string]rate.Latest, error) {
	out := make(map[string]rate.Latest, len(quotes))
	if len(quotes) == 0 {
		return out, nil
	}
	codes := make([]any, len(quotes))
	for i, q := range quotes {
		codes[i] = q.Code
	}
	q := `SELECT currency_code, currency_name, deal_base_rate, tts, ttb, source, recorded_at, updated_at, version
		FROM latest_rates WHERE currency_code IN (?` + strings.Repeat(", ?", len(codes)-1) + `)`
	if sqldb.DialectFromDriver(tx.DriverName()) == sqldb.Postgres {
		q += ` FOR UPDATE`
	}
	var rows []latestRow
	if err := tx.SelectContext(ctx, &rows, tx.Rebind(q), codes...); err != nil {
		return nil, fmt.Errorf("read latest rates: %w", err)
	}
	for _, r := range rows {
		out[r.Code] = r.latest()
	}
	return out, nil
}

// Latest returns every stored latest rate, ordered by currency code.
func (s *Store) Latest(ctx context.Context) ([]rate.Latest, error) {
	var rows []latestRow
	if err := s.db.SelectContext(ctx, &rows, `SELECT currency_code, currency_name, deal_base_rate, tts, ttb,
		source, recorded_at, updated_at, version FROM latest_rates ORDER BY currency_code`); err != nil {
		return nil, fmt.Errorf("read latest rates: %w", err)
	}
	out := make([]rate.Latest, len(rows))
	for i, r := range rows {
		out[i] = r.latest()
	}
	return out, nil
}

// CountObservations returns how many observations are stored for a
// currency, for tests and operators.
func (s *Store) CountObservations(ctx context.Context, code string) (int, error) {
	var n int
	err := s.db.GetContext(ctx, &n, s.db.Rebind(`SELECT COUNT(*) FROM rate_observations WHERE currency_code = ?`), code)
	return n, err
}
