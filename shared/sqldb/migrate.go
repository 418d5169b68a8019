package sqldb

import (
	"context"
	"fmt"
	"hash/fnv"
	"io/fs"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
)

// Migrate applies the migrations of one module that db has not seen yet.
// fsys holds one directory per dialect ("postgres", "sqlite") of files named
// NNNN_description.sql, applied in name order, each in its own transaction
// together with its row in schema_migrations. Several processes may migrate
// the same database at once: PostgreSQL serialises them with an advisory
// lock, SQLite with its immediate write transactions.
func Migrate(ctx context.Context, db *sqlx.DB, module string, fsys fs.FS) error {
	d := DialectFromDriver(db.DriverName())
	files, err := fs.Glob(fsys, path.Join(string(d), "*.sql"))
	if err != nil {
		return fmt.Errorf("migrate %s: list: %w", module, err)
	}
	sort.Strings(files)
	// Concurrent CREATE TABLE IF NOT EXISTS races in PostgreSQL's catalog,
	// so the bookkeeping table is created under the same lock as the steps.
	err = InTx(ctx, db, func(tx *sqlx.Tx) error {
		if err := lockMigrations(ctx, tx, d); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		module     TEXT NOT NULL,
		version    TEXT NOT NULL,
		applied_at TIMESTAMP NOT NULL,
		PRIMARY KEY (module, version))`)
		return err
	})
	if err != nil {
		return fmt.Errorf("migrate %s: create schema_migrations: %w", module, err)
	}
	for _, f := range files {
		version := strings.TrimSuffix(path.Base(f), ".sql")
		body, err := fs.ReadFile(fsys, f)
		if err != nil {
			return fmt.Errorf("migrate %s: read %s: %w", module, f, err)
		}
		err = InTx(ctx, db, func(tx *sqlx.Tx) error {
			if err := lockMigrations(ctx, tx, d); err != nil {
				return err
			}
			var n int
			if err := tx.GetContext(ctx, &n, tx.Rebind(`SELECT COUNT(*) FROM schema_migrations WHERE module = ? AND version = ?`), module, version); err != nil {
				return fmt.Errorf("check: %w", err)
			}
			if n > 0 {
				return nil
			}
			for _, stmt := range splitStatements(string(body)) {
				if _, err := tx.ExecContext(ctx, stmt); err != nil {
					return fmt.Errorf("apply %s: %w", f, err)
				}
			}
			_, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO schema_migrations (module, version, applied_at) VALUES (?, ?, ?)`),
				module, version, time.Now().UTC())
			return err
		})
		if err != nil {
			return fmt.Errorf("migrate %s %s: %w", module, version, err)
		}
	}
	return nil
}

// splitStatements cuts a migration file at semicolons that end a line.
// Migrations are plain DDL; none needs a semicolon inside a statement.
func splitStatements(sql string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(sql, "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "--") {
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
		if strings.HasSuffix(trimmed, ";") {
			if s := strings.TrimSpace(cur.String()); s != ";" {
				out = append(out, s)
			}
			cur.Reset()
		}
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		out = append(out, s)
	}
	return out
}

// lockMigrations serialises migrations across processes on PostgreSQL with
// a transaction-scoped advisory lock; SQLite's immediate transactions
// already do so.
func lockMigrations(ctx context.Context, tx *sqlx.Tx, d Dialect) error {
	if d != Postgres {
		return nil
	}
	h := fnv.New64a()
	h.Write([]byte("ratewire-migrate"))
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(h.Sum64())); err != nil {
		return fmt.Errorf("lock: %w", err)
	}
	return nil
}
