package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/ratewire/ratewire/ranking/internal/store"
	"github.com/ratewire/ratewire/shared/testinfra"
)

// TestStoreContract runs against SQLite and PostgreSQL alike.
func TestStoreContract(t *testing.T) {
	testinfra.ForEachDatabase(t, func(t *testing.T, d testinfra.Database) {
		ctx := context.Background()
		db := testinfra.OpenDB(t, d.URL)
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

		var applied int
		if err := db.GetContext(ctx, &applied, db.Rebind(`SELECT COUNT(*) FROM schema_migrations WHERE module = ?`), store.Module); err != nil {
			t.Fatalf("count applied migrations: %v", err)
		}
		if applied != 1 {
			t.Errorf("applied migrations of %q = %d, want 1 (migrating twice must not re-apply)", store.Module, applied)
		}

		// The primary key (country_code, day) is what makes a click an
		// upsert: a second row for the same country and day must fail.
		now := time.Date(2026, 11, 22, 2, 0, 0, 0, time.UTC)
		insert := db.Rebind(`INSERT INTO country_clicks (country_code, day, clicks, updated_at) VALUES (?, ?, ?, ?)`)
		if _, err := db.ExecContext(ctx, insert, "JP", "2026-11-22", 3, now); err != nil {
			t.Fatalf("first insert: %v", err)
		}
		if _, err := db.ExecContext(ctx, insert, "JP", "2026-11-22", 5, now); err == nil {
			t.Fatal("second insert of (JP, 2026-11-22) succeeded, want a primary key violation")
		}
		if _, err := db.ExecContext(ctx, insert, "JP", "2026-11-23", 1, now); err != nil {
			t.Fatalf("insert of another day for the same country: %v, want success", err)
		}
		if _, err := db.ExecContext(ctx, insert, "US", "2026-11-22", 1, now); err != nil {
			t.Fatalf("insert of another country on the same day: %v, want success", err)
		}

		var clicks int64
		if err := db.GetContext(ctx, &clicks, db.Rebind(`SELECT clicks FROM country_clicks WHERE country_code = ? AND day = ?`), "JP", "2026-11-22"); err != nil {
			t.Fatalf("read clicks: %v", err)
		}
		if clicks != 3 {
			t.Errorf("clicks of (JP, 2026-11-22) = %d, want 3 (the rejected insert must change nothing)", clicks)
		}

		// The reset record table exists with its columns.
		if _, err := db.ExecContext(ctx, db.Rebind(`INSERT INTO ranking_resets (day, removed_countries, removed_clicks, reset_at) VALUES (?, ?, ?, ?)`),
			"2026-11-22", 2, 4, now); err != nil {
			t.Fatalf("insert reset record: %v", err)
		}
	})
}
