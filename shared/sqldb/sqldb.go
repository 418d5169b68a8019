// Package sqldb opens the SQL database a service stores in — PostgreSQL
// through pgx's database/sql driver in production, a pure-Go SQLite file in
// devstack and tests — behind one *sqlx.DB, and applies each module's
// embedded migrations. Queries are written with `?` placeholders and
// rebound by sqlx, so one store runs on both.
package sqldb

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"github.com/jmoiron/sqlx"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver (no cgo)
)

// Dialect tells which SQL flavour a database speaks.
type Dialect string

// Supported dialects.
const (
	Postgres Dialect = "postgres"
	SQLite   Dialect = "sqlite"
)

// DialectOf reports which dialect an RATEWIRE_DATABASE_URL selects:
// postgres:// and postgresql:// URLs are PostgreSQL; anything else
// (sqlite:PATH, file:PATH or a plain path) is a SQLite file.
func DialectOf(databaseURL string) Dialect {
	if strings.HasPrefix(databaseURL, "postgres://") || strings.HasPrefix(databaseURL, "postgresql://") {
		return Postgres
	}
	return SQLite
}

// Open connects to databaseURL and checks the connection. For SQLite it
// turns on WAL, a busy timeout and immediate write transactions, which let
// several services in one process share one file without "database is
// locked" failures.
func Open(ctx context.Context, databaseURL string) (*sqlx.DB, error) {
	if databaseURL == "" {
		return nil, errors.New("sqldb: empty database URL")
	}
	var db *sqlx.DB
	var err error
	switch DialectOf(databaseURL) {
	case Postgres:
		db, err = sqlx.Open("pgx", databaseURL)
		if err == nil {
			db.SetMaxOpenConns(20)
			db.SetMaxIdleConns(10)
			db.SetConnMaxIdleTime(5 * time.Minute)
		}
	default:
		dsn, memory := sqliteDSN(databaseURL)
		db, err = sqlx.Open("sqlite", dsn)
		if err == nil && memory {
			// Every connection to :memory: is a different database.
			db.SetMaxOpenConns(1)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("sqldb: open: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(pingCtx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqldb: connect to %s database: %w", DialectOf(databaseURL), err)
	}
	return db, nil
}

// Is reports whether db speaks dialect d.
func Is(db *sqlx.DB, d Dialect) bool { return DialectFromDriver(db.DriverName()) == d }

// DialectFromDriver maps a database/sql driver name to its dialect.
func DialectFromDriver(driver string) Dialect {
	if driver == "pgx" || driver == "postgres" {
		return Postgres
	}
	return SQLite
}

// sqliteDSN turns a SQLite location into a modernc DSN with the pragmas
// ratewire relies on. It reports whether the database lives in memory.
func sqliteDSN(loc string) (string, bool) {
	path := strings.TrimPrefix(strings.TrimPrefix(loc, "sqlite://"), "sqlite:")
	path = strings.TrimPrefix(path, "file:")
	query := ""
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path, query = path[:i], path[i+1:]
	}
	memory := path == ":memory:" || path == ""
	if memory {
		path = ":memory:"
	}
	q, _ := url.ParseQuery(query)
	pragmas := []string{"busy_timeout(10000)", "foreign_keys(1)"}
	if !memory {
		pragmas = append(pragmas, "journal_mode(WAL)", "synchronous(NORMAL)")
	}
	for _, p := range pragmas {
		q.Add("_pragma", p)
	}
	if q.Get("_txlock") == "" {
		q.Set("_txlock", "immediate")
	}
	return "file:" + path + "?" + q.Encode(), memory
}

// InTx runs fn in a transaction on db, committing when fn returns nil and
// rolling back otherwise (also when fn panics). The commit error is checked
// and wrapped: a failed COMMIT means nothing was stored.
func InTx(ctx context.Context, db *sqlx.DB, fn func(tx *sqlx.Tx) error) (err error) {
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqldb: begin: %w", err)
	}
	defer func() {
		if p := recover(); p != nil {
			_ = tx.Rollback()
			panic(p)
		}
	}()
	if err := fn(tx); err != nil {
		if rbErr := tx.Rollback(); rbErr != nil && !errors.Is(rbErr, context.Canceled) {
			return errors.Join(err, fmt.Errorf("sqldb: rollback: %w", rbErr))
		}
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqldb: commit: %w", err)
	}
	return nil
}
