// Package store is the history service's access to SQL (PostgreSQL or
// SQLite via sqldb). History reads the rates the ingestor stores; the
// migrations embedded here are only for tables history itself owns.
package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"

	"github.com/jmoiron/sqlx"

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

// Store is the SQL store of the history service.
type Store struct {
	db *sqlx.DB
}

// New wraps an open database; the caller keeps ownership and closes it.
func New(db *sqlx.DB) *Store { return &Store{db: db} }

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
