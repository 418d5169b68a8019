package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/ratewire/ratewire/history/internal/series"
	"github.com/ratewire/ratewire/history/internal/store"
	"github.com/ratewire/ratewire/ingestor"
	"github.com/ratewire/ratewire/shared/kst"
	"github.com/ratewire/ratewire/shared/testinfra"
)

var t0 = time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)

func insertObs(t *testing.T, db *sqlx.DB, code, source, rate string, at time.Time) {
	t.Helper()
	_, err := db.Exec(db.Rebind(`INSERT INTO rate_observations (currency_code, source, deal_base_rate, tts, ttb, recorded_at, run_id, created_at)
		VALUES (?, ?, ?, NULL, NULL, ?, 'run', ?)`), code, source, rate, at.UTC(), at.UTC())
	if err != nil {
		t.Fatalf("insert observation: %v", err)
	}
}

func insertDay(t *testing.T, db *sqlx.DB, code, day, o, h, l, c string) {
	t.Helper()
	at := t0
	_, err := db.Exec(db.Rebind(`INSERT INTO daily_rates (currency_code, day, open, high, low, close, samples, first_at, last_at, source)
		VALUES (?, ?, ?, ?, ?, ?, 3, ?, ?, 'koreaexim')`), code, day, o, h, l, c, at, at)
	if err != nil {
		t.Fatalf("insert day: %v", err)
	}
}

// TestStoreContract runs against SQLite and PostgreSQL alike: range reads
// of observations and daily rates with exact decimals, in order, bounded
// as documented.
func TestStoreContract(t *testing.T) {
	testinfra.ForEachDatabase(t, func(t *testing.T, d testinfra.Database) {
		ctx := context.Background()
		db := testinfra.OpenDB(t, d.URL)
		if err := ingestor.Migrate(ctx, db); err != nil {
			t.Fatalf("ingestor migrate: %v", err)
		}
		s := store.New(db)
		if err := s.Migrate(ctx); err != nil {
			t.Fatalf("migrate: %v", err)
		}
		if err := s.Migrate(ctx); err != nil {
			t.Fatalf("second migrate: %v", err)
		}
		if err := s.Ping(ctx); err != nil {
			t.Fatalf("ping: %v", err)
		}

		// Inserted out of order, with a fractional second and another
		// currency in between.
		insertObs(t, db, "USD", "koreaexim", "1400.5", t0.Add(10*time.Minute))
		insertObs(t, db, "USD", "koreaexim", "1398.123456789", t0)
		insertObs(t, db, "USD", "koreaexim", "1401", t0.Add(5*time.Minute+500*time.Millisecond))
		insertObs(t, db, "JPY", "koreaexim", "9.1", t0.Add(5*time.Minute))
		insertObs(t, db, "USD", "koreaexim", "1402", t0.Add(15*time.Minute))

		obs, err := s.Observations(ctx, "USD", t0, t0.Add(15*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		want := []struct {
			at   time.Time
			rate float64
		}{{t0, 1398.123456789}, {t0.Add(5*time.Minute + 500*time.Millisecond), 1401}, {t0.Add(10 * time.Minute), 1400.5}}
		if len(obs) != len(want) {
			t.Fatalf("observations = %+v, want %d rows in [t0, t0+15m)", obs, len(want))
		}
		for i, w := range want {
			if !obs[i].At.Equal(w.at) || obs[i].Rate != w.rate || obs[i].At.Location() != time.UTC {
				t.Errorf("row %d = %v %v, want %v %v in UTC", i, obs[i].At, obs[i].Rate, w.at, w.rate)
			}
		}
		// A window that starts between rows excludes the earlier ones.
		if obs, err := s.Observations(ctx, "USD", t0.Add(time.Minute), t0.Add(time.Hour)); err != nil || len(obs) != 3 {
			t.Errorf("observations from t0+1m = %d rows (%v), want 3", len(obs), err)
		}
		// A window that ends now reads up to series.OpenEnd: every row from
		// its start, the newest (15 minutes on) included.
		if obs, err := s.Observations(ctx, "USD", t0.Add(10*time.Minute), series.OpenEnd); err != nil || len(obs) != 2 || !obs[1].At.Equal(t0.Add(15*time.Minute)) {
			t.Errorf("observations from t0+10m to series.OpenEnd = %v (%v), want the rows at t0+10m and t0+15m", obs, err)
		}
		if obs, err := s.Observations(ctx, "EUR", t0, t0.Add(time.Hour)); err != nil || len(obs) != 0 {
			t.Errorf("observations of EUR = %v (%v), want none", obs, err)
		}

		insertDay(t, db, "USD", "2026-11-21", "1390", "1405.5", "1388", "1400")
		insertDay(t, db, "USD", "2026-11-19", "1380", "1391", "1379", "1385")
		insertDay(t, db, "USD", "2026-11-22", "1400", "1402", "1398.123456789", "1402")
		insertDay(t, db, "JPY", "2026-11-21", "9", "9.2", "8.9", "9.1")
		days, err := s.Days(ctx, "USD", "2026-11-20", "2026-11-22")
		if err != nil {
			t.Fatal(err)
		}
		if len(days) != 2 || days[0].Day != "2026-11-21" || days[1].Day != "2026-11-22" {
			t.Fatalf("days = %+v, want 2026-11-21 and 2026-11-22", days)
		}
		if d := days[0]; d.Open != 1390 || d.High != 1405.5 || d.Low != 1388 || d.Close != 1400 || d.Samples != 3 {
			t.Errorf("day = %+v", d)
		}
		if days[1].Low != 1398.123456789 {
			t.Errorf("low = %v, want 1398.123456789", days[1].Low)
		}
		if days, err := s.Days(ctx, "USD", "2026-11-21", kst.Day(series.OpenEnd)); err != nil || len(days) != 2 || days[1].Day != "2026-11-22" {
			t.Errorf("days from 2026-11-21 to series.OpenEnd = %+v (%v), want 2026-11-21 and 2026-11-22", days, err)
		}

		var applied int
		if err := db.GetContext(ctx, &applied, db.Rebind(`SELECT COUNT(*) FROM schema_migrations WHERE module = ?`), store.Module); err != nil {
			t.Fatalf("read schema_migrations after migrate: %v, want the table to exist", err)
		}
		if applied != 0 {
			t.Errorf("applied migrations of %q = %d, want 0 (history owns no tables)", store.Module, applied)
		}
	})
}

// TestQueriesUseIndexes checks on PostgreSQL that both reads are index
// scans, not sequential scans, once the table is big enough for the
// planner to care.
func TestQueriesUseIndexes(t *testing.T) {
	ctx := context.Background()
	db := testinfra.OpenDB(t, testinfra.PostgresURL(t))
	if err := ingestor.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO rate_observations (currency_code, source, deal_base_rate, recorded_at, run_id, created_at)
		SELECT c, 'sim', 1000 + g, TIMESTAMPTZ '2026-01-01' + g * INTERVAL '5 minutes', 'r', TIMESTAMPTZ '2026-03-01T00:00:00Z'
		FROM generate_series(1, 20000) g, unnest(ARRAY['USD','JPY','EUR']) c`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO daily_rates (currency_code, day, open, high, low, close, samples, first_at, last_at, source)
		SELECT c, to_char(DATE '2020-01-01' + g, 'YYYY-MM-DD'), 1, 1, 1, 1, 1, TIMESTAMPTZ '2026-03-01T00:00:00Z', TIMESTAMPTZ '2026-03-01T00:00:00Z', 'sim'
		FROM generate_series(1, 2000) g, unnest(ARRAY['USD','JPY','EUR']) c`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `ANALYZE rate_observations; ANALYZE daily_rates`); err != nil {
		t.Fatal(err)
	}
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`EXPLAIN SELECT recorded_at, deal_base_rate FROM rate_observations WHERE currency_code = $1 AND recorded_at >= $2 AND recorded_at < $3 ORDER BY recorded_at`,
			[]any{"USD", time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC), time.Date(2026, 1, 17, 0, 0, 0, 0, time.UTC)}},
		// A window that ends now reads up to series.OpenEnd.
		{`EXPLAIN SELECT recorded_at, deal_base_rate FROM rate_observations WHERE currency_code = $1 AND recorded_at >= $2 AND recorded_at < $3 ORDER BY recorded_at`,
			[]any{"USD", time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), series.OpenEnd}},
		{`EXPLAIN SELECT day, open, high, low, close, samples FROM daily_rates WHERE currency_code = $1 AND day >= $2 AND day <= $3 ORDER BY day`,
			[]any{"USD", "2024-01-01", "2024-12-31"}},
		{`EXPLAIN SELECT day, open, high, low, close, samples FROM daily_rates WHERE currency_code = $1 AND day >= $2 AND day <= $3 ORDER BY day`,
			[]any{"USD", "2025-06-01", kst.Day(series.OpenEnd)}},
	} {
		var plan []string
		if err := db.SelectContext(ctx, &plan, q.sql, q.args...); err != nil {
			t.Fatal(err)
		}
		joined := ""
		for _, l := range plan {
			joined += l + "\n"
		}
		if len(plan) == 0 || !containsAny(joined, "Index Scan", "Index Only Scan", "Bitmap Index Scan") || containsAny(joined, "Seq Scan") {
			t.Errorf("plan of %s:\n%s\nwant an index scan", q.sql, joined)
		}
	}
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
