// Package testinfra gives each test its own slice of real infrastructure:
// a fresh PostgreSQL schema, a fresh SQLite file, a Redis key namespace or
// a miniredis server. Real servers come from RATEWIRE_TEST_POSTGRES_URL and
// RATEWIRE_TEST_REDIS_URL; when one is unset the test is skipped with a
// message locally and fails when CI=true, so CI can never go green by
// skipping the real-infrastructure tests.
package testinfra

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/jmoiron/sqlx"
	"github.com/redis/go-redis/v9"

	"github.com/ratewire/ratewire/shared/cachex"
	"github.com/ratewire/ratewire/shared/sqldb"
)

// Environment variables naming the real servers tests use.
const (
	EnvPostgresURL = "RATEWIRE_TEST_POSTGRES_URL"
	EnvRedisURL    = "RATEWIRE_TEST_REDIS_URL"
)

// InCI reports whether tests run in CI, where absent infrastructure is a
// failure instead of a skip.
func InCI() bool { return os.Getenv("CI") == "true" }

// Require returns the value of env, or skips the test (fails it in CI)
// when it is unset.
func Require(t testing.TB, env string) string {
	t.Helper()
	v := os.Getenv(env)
	if v == "" {
		if InCI() {
			t.Fatalf("%s is not set: CI must run the real-infrastructure tests", env)
		}
		t.Skipf("%s is not set: skipping the test that needs it (set it to run against a real server)", env)
	}
	return v
}

// RandomName returns prefix followed by 12 random hex characters, safe as
// a SQL identifier or a Redis key prefix.
func RandomName(prefix string) string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return prefix + hex.EncodeToString(b[:])
}

// SQLiteURL returns the location of a new SQLite file in the test's
// temporary directory.
func SQLiteURL(t testing.TB) string {
	t.Helper()
	return "sqlite:" + filepath.Join(t.TempDir(), "ratewire.db")
}

// PostgresURL creates a schema of its own for this test in the database of
// RATEWIRE_TEST_POSTGRES_URL, returns a URL whose connections use it as
// their search_path, and drops it when the test ends.
func PostgresURL(t testing.TB) string {
	t.Helper()
	base := Require(t, EnvPostgresURL)
	schema := RandomName("t_")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := sqldb.Open(ctx, base)
	if err != nil {
		t.Fatalf("connect to %s: %v", EnvPostgresURL, err)
	}
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		admin.Close()
		t.Fatalf("create schema %s: %v", schema, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
		admin.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("%s: %v", EnvPostgresURL, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Database names one backend of a store contract suite.
type Database struct {
	Name string // "sqlite" or "postgres"
	URL  string
}

// ForEachDatabase runs fn as a subtest against a fresh SQLite file and a
// fresh PostgreSQL schema: one contract suite, both backends.
func ForEachDatabase(t *testing.T, fn func(t *testing.T, db Database)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, Database{Name: "sqlite", URL: SQLiteURL(t)}) })
	t.Run("postgres", func(t *testing.T) { fn(t, Database{Name: "postgres", URL: PostgresURL(t)}) })
}

// OpenDB opens the database at u for the duration of the test.
func OpenDB(t testing.TB, u string) *sqlx.DB {
	t.Helper()
	db, err := sqldb.Open(context.Background(), u)
	if err != nil {
		t.Fatalf("open %s: %v", u, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// Redis is one test's Redis: a server URL and the key prefix the test must
// put in front of every key it writes, so tests sharing a real server never
// see each other's keys.
type Redis struct {
	Name   string // "miniredis" or "redis"
	URL    string
	Prefix string
	Client *redis.Client
	// Mini is the miniredis server behind a "miniredis" Redis, for tests
	// that stop it or fast-forward its clock; nil for a real server.
	Mini *miniredis.Miniredis
}

// MiniRedis starts a miniredis server for the test.
func MiniRedis(t testing.TB) Redis {
	t.Helper()
	m := miniredis.NewMiniRedis()
	if err := m.Start(); err != nil {
		t.Fatalf("start miniredis: %v", err)
	}
	t.Cleanup(m.Close)
	u := "redis://" + m.Addr() + "/0"
	return Redis{Name: "miniredis", URL: u, Client: newClient(t, u), Mini: m}
}

// RealRedis gives the test a namespace on the server of
// RATEWIRE_TEST_REDIS_URL and deletes the namespace's keys when it ends.
func RealRedis(t testing.TB) Redis {
	t.Helper()
	u := Require(t, EnvRedisURL)
	c := newClient(t, u)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("ping %s: %v", EnvRedisURL, err)
	}
	prefix := RandomName("test:") + ":"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		// SCAN is fine here: it only ever walks a test server.
		iter := c.Scan(ctx, 0, prefix+"*", 500).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if len(keys) > 0 {
			c.Del(ctx, keys...)
		}
	})
	return Redis{Name: "redis", URL: u, Prefix: prefix, Client: c}
}

// ForEachRedis runs fn as a subtest against miniredis and the real Redis.
func ForEachRedis(t *testing.T, fn func(t *testing.T, r Redis)) {
	t.Helper()
	t.Run("miniredis", func(t *testing.T) { fn(t, MiniRedis(t)) })
	t.Run("redis", func(t *testing.T) { fn(t, RealRedis(t)) })
}

func newClient(t testing.TB, u string) *redis.Client {
	t.Helper()
	c, err := cachex.Open(u)
	if err != nil {
		t.Fatalf("redis URL %q: %v", u, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// String describes the backend for test names and messages.
func (d Database) String() string {
	return fmt.Sprintf("%s(%s)", d.Name, strings.SplitN(d.URL, "?", 2)[0])
}

// BenchSize is how much work a benchmark that measures a rate over one
// long run should do: b.N when it is given (-benchtime 50000x), else
// probe. Go's first call of a benchmark has b.N 1, and when that run lasts
// longer than -benchtime Go stops there, so probe makes the default
// `go test -bench` measure probe items rather than a handful.
func BenchSize(b *testing.B, probe int) int {
	if b.N > 1 {
		return b.N
	}
	return probe
}
