package store_test

import (
	"context"
	"testing"

	"github.com/ratewire/ratewire/history/internal/store"
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

		// Migrate must leave the bookkeeping table in place even though
		// history has no migrations of its own yet.
		var applied int
		if err := db.GetContext(ctx, &applied, db.Rebind(`SELECT COUNT(*) FROM schema_migrations WHERE module = ?`), store.Module); err != nil {
			t.Fatalf("read schema_migrations after migrate: %v, want the table to exist", err)
		}
		if applied != 0 {
			t.Errorf("applied migrations of %q = %d, want 0 (history owns no tables yet)", store.Module, applied)
		}
	})
}
