package sqldb_test

import (
	"context"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/shopspring/decimal"

	"github.com/ratewire/ratewire/shared/kst"
	"github.com/ratewire/ratewire/shared/sqldb"
	"github.com/ratewire/ratewire/shared/testinfra"
)

var migrations = os.DirFS("testdata/migrations")

func TestDialectOf(t *testing.T) {
	tests := map[string]sqldb.Dialect{
		"postgres://u@h/db":        sqldb.Postgres,
		"postgresql://u@h/db":      sqldb.Postgres,
		"sqlite:/tmp/x.db":         sqldb.SQLite,
		"file:/tmp/x.db?cache=1":   sqldb.SQLite,
		"/var/lib/ratewire/app.db": sqldb.SQLite,
	}
	for in, want := range tests {
		if got := sqldb.DialectOf(in); got != want {
			t.Errorf("DialectOf(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestStoreContract(t *testing.T) {
	testinfra.ForEachDatabase(t, func(t *testing.T, d testinfra.Database) {
		ctx := context.Background()
		db := testinfra.OpenDB(t, d.URL)
		if got := sqldb.Is(db, sqldb.Dialect(d.Name)); !got {
			t.Fatalf("Is(%s) = false for driver %s", d.Name, db.DriverName())
		}

		t.Run("migrate is idempotent and concurrent-safe", func(t *testing.T) {
			var wg sync.WaitGroup
			errs := make([]error, 4)
			for i := range errs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs[i] = sqldb.Migrate(ctx, db, "sqldbtest", migrations)
				}()
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatalf("migration %d: %v", i, err)
				}
			}
			if err := sqldb.Migrate(ctx, db, "sqldbtest", migrations); err != nil {
				t.Fatalf("second migration: %v", err)
			}
			var versions []string
			if err := db.SelectContext(ctx, &versions, `SELECT version FROM schema_migrations WHERE module = 'sqldbtest' ORDER BY version`); err != nil {
				t.Fatal(err)
			}
			if len(versions) != 2 || versions[0] != "0001_init" || versions[1] != "0002_index" {
				t.Fatalf("applied versions = %v, want [0001_init 0002_index]", versions)
			}
		})

		t.Run("exact decimals and UTC times round-trip", func(t *testing.T) {
			amount := decimal.RequireFromString("1234.5678901234")
			at := time.Date(2026, 11, 22, 2, 0, 0, 123456000, kst.Zone)
			if _, err := db.ExecContext(ctx, db.Rebind(`INSERT INTO items (name, amount, at) VALUES (?, ?, ?)`), "usd", amount, at.UTC()); err != nil {
				t.Fatal(err)
			}
			var got struct {
				Amount decimal.Decimal `db:"amount"`
				At     time.Time       `db:"at"`
			}
			if err := db.GetContext(ctx, &got, db.Rebind(`SELECT amount, at FROM items WHERE name = ?`), "usd"); err != nil {
				t.Fatal(err)
			}
			if !got.Amount.Equal(amount) {
				t.Errorf("amount = %s, want %s", got.Amount, amount)
			}
			if !got.At.Equal(at) {
				t.Errorf("at = %s, want %s", got.At, at)
			}
		})

		t.Run("InTx rolls back on error and commits on success", func(t *testing.T) {
			at := time.Date(2026, 11, 21, 15, 30, 0, 0, time.UTC) // any fixed instant: only the rows matter
			boom := errors.New("boom")
			err := sqldb.InTx(ctx, db, func(tx *sqlx.Tx) error {
				if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO items (name, amount, at) VALUES (?, ?, ?)`), "lost", "1", at); err != nil {
					return err
				}
				return boom
			})
			if !errors.Is(err, boom) {
				t.Fatalf("InTx error = %v, want boom", err)
			}
			var n int
			if err := db.GetContext(ctx, &n, `SELECT COUNT(*) FROM items WHERE name = 'lost'`); err != nil {
				t.Fatal(err)
			}
			if n != 0 {
				t.Fatalf("rolled-back row is visible (%d rows)", n)
			}
			if err := sqldb.InTx(ctx, db, func(tx *sqlx.Tx) error {
				_, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO items (name, amount, at) VALUES (?, ?, ?)`), "kept", "2", at)
				return err
			}); err != nil {
				t.Fatalf("InTx: %v", err)
			}
			if err := db.GetContext(ctx, &n, `SELECT COUNT(*) FROM items WHERE name = 'kept'`); err != nil || n != 1 {
				t.Fatalf("committed row count = %d (%v), want 1", n, err)
			}
		})

		t.Run("a failing migration applies nothing", func(t *testing.T) {
			bad := badFS{dialect: d.Name}
			if err := sqldb.Migrate(ctx, db, "broken", bad); err == nil {
				t.Fatal("Migrate of a broken file succeeded")
			}
			var n int
			if err := db.GetContext(ctx, &n, `SELECT COUNT(*) FROM schema_migrations WHERE module = 'broken'`); err != nil || n != 0 {
				t.Fatalf("broken migration recorded %d rows (%v), want 0", n, err)
			}
		})
	})
}
