package testinfra_test

import (
	"context"
	"strings"
	"testing"

	"github.com/ratewire/ratewire/shared/testinfra"
)

// TestDatabasesAreIsolated checks that two tests' databases never share a
// table, on both backends.
func TestDatabasesAreIsolated(t *testing.T) {
	testinfra.ForEachDatabase(t, func(t *testing.T, d testinfra.Database) {
		ctx := context.Background()
		a := testinfra.OpenDB(t, d.URL)
		if _, err := a.ExecContext(ctx, `CREATE TABLE only_here (id INTEGER)`); err != nil {
			t.Fatal(err)
		}
		other := testinfra.SQLiteURL(t)
		if d.Name == "postgres" {
			other = testinfra.PostgresURL(t)
		}
		b := testinfra.OpenDB(t, other)
		if _, err := b.ExecContext(ctx, `SELECT COUNT(*) FROM only_here`); err == nil {
			t.Fatalf("a second %s database sees the first one's table", d.Name)
		}
	})
}

// TestRedisNamespaces checks that a real-Redis namespace is a prefix of its
// own and that miniredis servers are separate.
func TestRedisNamespaces(t *testing.T) {
	testinfra.ForEachRedis(t, func(t *testing.T, r testinfra.Redis) {
		ctx := context.Background()
		if r.Name == "redis" && !strings.HasPrefix(r.Prefix, "test:") {
			t.Errorf("prefix %q, want test:<random>:", r.Prefix)
		}
		if err := r.Client.Set(ctx, r.Prefix+"k", "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
		other := testinfra.MiniRedis(t)
		if r.Name == "redis" {
			other = testinfra.RealRedis(t)
		}
		if n, err := other.Client.Exists(ctx, other.Prefix+"k").Result(); err != nil || n != 0 {
			t.Errorf("another namespace sees the key (%d, %v)", n, err)
		}
	})
}

func TestRandomName(t *testing.T) {
	a, b := testinfra.RandomName("t_"), testinfra.RandomName("t_")
	if a == b || len(a) != 14 || !strings.HasPrefix(a, "t_") {
		t.Errorf("RandomName gave %q and %q, want distinct t_ + 12 hex", a, b)
	}
}
