// Package store is the history service's access to SQL (PostgreSQL or
// SQLite via sqldb). History reads the rates the ingestor stores; the
// migrations embedded here are only for tables history itself owns.
package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/shopspring/decimal"

	"github.com/ratewire/ratewire/history/internal/series"
	"github.com/ratewire/ratewire/shared/apperr"
	"github.com/ratewire/ratewire/shared/sqldb"
)

// migrations holds history's own schema. It has no .sql files yet: history
// reads the ingestor's rate_observations and latest_rates and owns no table
// until a feature needs one (see migrations/README.md). The README is what
// makes the directory embeddable, since go:embed refuses an empty one.
//
//go:embed migrations
var migrations embed.FS

// Module is the name history's migrations are recorded under in
// schema_migrations.
const Module = "history"

// Store is the SQL store of the history service; it implements
// series.Store.
type Store struct {
	db        *sqlx.DB
	obsQuery  string
	daysQuery string
}

// New wraps an open database; the caller keeps ownership and closes it.
func New(db *sqlx.DB) *Store {
	return &Store{
		db: db,
		// Served by rate_observations_code_time_idx (currency_code,
		// recorded_at): an index range scan returning rows in order.
		obsQuery: db.Rebind(`SELECT recorded_at, deal_base_rate FROM rate_observations
			WHERE currency_code = ? AND recorded_at >= ? AND recorded_at < ? ORDER BY recorded_at`),
		// Served by the primary key (currency_code, day).
		daysQuery: db.Rebind(`SELECT day, open, high, low, close, samples FROM daily_rates
			WHERE currency_code = ? AND day >= ? AND day <= ? ORDER BY day`),
	}
}

// Observations implements series.Store. Rates are scanned as exact
// decimals (NUMERIC on PostgreSQL, TEXT on SQLite) and only then turned
// into floats for the statistics.
func (s *Store) Observations(ctx context.Context, code string, from, to time.Time) ([]series.Observation, error) {
	rows, err := s.db.QueryContext(ctx, s.obsQuery, code, from.UTC(), to.UTC())
	if err != nil {
		return nil, unavailable("read observations of "+code, err)
	}
	defer rows.Close()
	var out []series.Observation
	var at time.Time
	var rate decimal.Decimal
	for rows.Next() {
		if err := rows.Scan(&at, &rate); err != nil {
			return nil, fmt.Errorf("scan observation of %s: %w", code, err)
		}
		out = append(out, series.Observation{At: at.UTC(), Rate: rate.InexactFloat64()})
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable("read observations of "+code, err)
	}
	return out, nil
}

// Days implements series.Store.
func (s *Store) Days(ctx context.Context, code, from, to string) ([]series.Day, error) {
	rows, err := s.db.QueryContext(ctx, s.daysQuery, code, from, to)
	if err != nil {
		return nil, unavailable("read daily rates of "+code, err)
	}
	defer rows.Close()
	var out []series.Day
	var o, h, l, c decimal.Decimal
	for rows.Next() {
		var d series.Day
		if err := rows.Scan(&d.Day, &o, &h, &l, &c, &d.Samples); err != nil {
			return nil, fmt.Errorf("scan daily rate of %s: %w", code, err)
		}
		d.Open, d.High, d.Low, d.Close = o.InexactFloat64(), h.InexactFloat64(), l.InexactFloat64(), c.InexactFloat64()
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable("read daily rates of "+code, err)
	}
	return out, nil
}

// QuotedAs implements series.Store from latest_rates, where the ingestor
// records the code a twin's rate was quoted under.
func (s *Store) QuotedAs(ctx context.Context, codes []string) (map[string]string, error) {
	out := map[string]string{}
	if len(codes) == 0 {
		return out, nil
	}
	q, args, err := sqlx.In(`SELECT currency_code, quoted_as FROM latest_rates WHERE currency_code IN (?) AND quoted_as <> ''`, codes)
	if err != nil {
		return nil, fmt.Errorf("build quoted_as query: %w", err)
	}
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(q), args...)
	if err != nil {
		return nil, unavailable("read quoted_as", err)
	}
	defer rows.Close()
	for rows.Next() {
		var code, as string
		if err := rows.Scan(&code, &as); err != nil {
			return nil, fmt.Errorf("scan quoted_as: %w", err)
		}
		out[code] = as
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable("read quoted_as", err)
	}
	return out, nil
}

// unavailable classifies a failed query as the database being down; the
// cause is logged at the edge, never sent.
func unavailable(what string, err error) error {
	return apperr.Unavailable("rates database unavailable", fmt.Errorf("%s: %w", what, err))
}

// Migrate brings history's schema up to date. With no migrations yet it
// only makes sure schema_migrations exists, so the first real migration
// lands on the same path as every later one.
func (s *Store) Migrate(ctx context.Context) error {
	// sqldb.Migrate wants the dialect directories at the root.
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("migrate %s: %w", Module, err)
	}
	return sqldb.Migrate(ctx, s.db, Module, fsys)
}

// Ping checks the database, for readiness.
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }
