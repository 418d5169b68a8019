// Package store keeps the ranking's data in SQL (PostgreSQL or SQLite via
// sqldb): click counts per country per KST day, the source of truth that
// the Redis ranking is rebuilt from, and the record of admin resets. It
// owns these tables' migrations, which are embedded so the binary carries
// its schema.
package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"

	"github.com/jmoiron/sqlx"

	"github.com/ratewire/ratewire/shared/sqldb"
)

//go:embed migrations
var migrations embed.FS

// Module is the name the ranking's migrations are recorded under in
// schema_migrations, shared with the other services' modules.
const Module = "ranking"

// Store is the SQL store of the ranking service.
type Store struct {
	db *sqlx.DB
}

// New wraps an open database; the caller keeps ownership and closes it.
func New(db *sqlx.DB) *Store { return &Store{db: db} }

// Migrate brings the schema up to date. It is safe to run on every start
// and from several processes at once.
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
