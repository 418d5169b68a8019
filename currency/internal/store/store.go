// Package store reads current rates from the SQL tables the ingestor
// writes (latest_rates, rate_observations). The currency service owns no
// tables; the ingestor's migrations define these.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/shopspring/decimal"

	"github.com/ratewire/ratewire/currency/internal/rates"
	"github.com/ratewire/ratewire/shared/apperr"
	"github.com/ratewire/ratewire/shared/event"
)

// Store implements rates.Store over sqlx.
type Store struct{ db *sqlx.DB }

// New wraps an open database.
func New(db *sqlx.DB) *Store { return &Store{db: db} }

// Ping checks the database and that the ingestor's tables exist.
func (s *Store) Ping(ctx context.Context) error {
	var n int
	if err := s.db.GetContext(ctx, &n, `SELECT COUNT(*) FROM latest_rates WHERE 1 = 0`); err != nil {
		return fmt.Errorf("rates table not readable (has the ingestor migrated?): %w", err)
	}
	return nil
}

// Latest implements rates.Store. Rows scan straight into the rate's
// embedded event.Rate by its db tags.
func (s *Store) Latest(ctx context.Context, code string) (rates.Rate, error) {
	var r rates.Rate
	err := s.db.GetContext(ctx, &r, s.db.Rebind(`SELECT `+event.RateColumns+` FROM latest_rates WHERE currency_code = ?`), code)
	if errors.Is(err, sql.ErrNoRows) {
		return rates.Rate{}, apperr.NotFound(fmt.Sprintf("no rate for currency %s", code))
	}
	if err != nil {
		return rates.Rate{}, apperr.Unavailable("rates database unavailable", fmt.Errorf("read rate %s: %w", code, err))
	}
	r.Rate = r.Rate.UTC()
	return r, nil
}

// AllLatest implements rates.Store.
func (s *Store) AllLatest(ctx context.Context) ([]rates.Rate, error) {
	var out []rates.Rate
	if err := s.db.SelectContext(ctx, &out, `SELECT `+event.RateColumns+` FROM latest_rates ORDER BY currency_code`); err != nil {
		return nil, apperr.Unavailable("rates database unavailable", fmt.Errorf("read rates: %w", err))
	}
	for i := range out {
		out[i].Rate = out[i].Rate.UTC()
	}
	return out, nil
}

// PreviousClose implements rates.Store: the last observation of code
// recorded before the instant, from any source (served by the index on
// currency_code, recorded_at).
func (s *Store) PreviousClose(ctx context.Context, code string, before time.Time) (decimal.Decimal, bool, error) {
	var d decimal.Decimal
	err := s.db.GetContext(ctx, &d, s.db.Rebind(`SELECT deal_base_rate FROM rate_observations
		WHERE currency_code = ? AND recorded_at < ? ORDER BY recorded_at DESC LIMIT 1`), code, before.UTC())
	if errors.Is(err, sql.ErrNoRows) {
		return decimal.Decimal{}, false, nil
	}
	if err != nil {
		return decimal.Decimal{}, false, apperr.Unavailable("rates database unavailable", fmt.Errorf("read previous close %s: %w", code, err))
	}
	return d, true, nil
}

// Versions implements rates.Store with one query.
func (s *Store) Versions(ctx context.Context, codes []string) (map[string]int64, error) {
	out := make(map[string]int64, len(codes))
	if len(codes) == 0 {
		return out, nil
	}
	q, args, err := sqlx.In(`SELECT currency_code, version FROM latest_rates WHERE currency_code IN (?)`, codes)
	if err != nil {
		return nil, apperr.Internal(fmt.Errorf("build versions query: %w", err))
	}
	rows, err := s.db.QueryxContext(ctx, s.db.Rebind(q), args...)
	if err != nil {
		return nil, apperr.Unavailable("rates database unavailable", fmt.Errorf("read versions: %w", err))
	}
	defer rows.Close()
	for rows.Next() {
		var code string
		var v int64
		if err := rows.Scan(&code, &v); err != nil {
			return nil, apperr.Unavailable("rates database unavailable", fmt.Errorf("scan versions: %w", err))
		}
		out[code] = v
	}
	if err := rows.Err(); err != nil {
		return nil, apperr.Unavailable("rates database unavailable", fmt.Errorf("read versions: %w", err))
	}
	return out, nil
}

var _ rates.Store = (*Store)(nil)
