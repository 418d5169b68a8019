package cache_test

import (
	"context"
	"testing"
	"time"

	"github.com/ratewire/ratewire/history/internal/cache"
	"github.com/ratewire/ratewire/shared/testinfra"
)

// TestCacheContract runs on miniredis and a real Redis.
func TestCacheContract(t *testing.T) {
	testinfra.ForEachRedis(t, func(t *testing.T, r testinfra.Redis) {
		ctx := context.Background()
		c := cache.New(r.Client, r.Prefix)

		fill := func(key string, codes ...string) {
			t.Helper()
			p, gens, err := c.Lookup(ctx, key, codes)
			if err != nil || p != nil {
				t.Fatalf("lookup %s before fill = %q %v, want a miss", key, p, err)
			}
			ok, err := c.Fill(ctx, key, codes, gens, []byte(`"`+key+`"`), 15*time.Minute)
			if err != nil || !ok {
				t.Fatalf("fill %s = %v %v, want written", key, ok, err)
			}
		}
		entries := map[string][]string{
			"history:KRW:USD:1w:1h":           {"USD"},
			"stats:KRW:USD:1m:1d":             {"USD"},
			"analysis:JPY:USD:1m:1d":          {"JPY", "USD"},
			"history:USD:EUR:1d:5m":           {"USD", "EUR"},
			"stats:compare:KRW:EUR,USD:1w:1d": {"EUR", "USD"},
			"history:KRW:JPY:1w:1h":           {"JPY"},
			"stats:KRW:EUR:1m:1d":             {"EUR"},
			"analysis:EUR:JPY:1y:1w":          {"EUR", "JPY"},
		}
		for k, codes := range entries {
			fill(k, codes...)
		}
		p, _, err := c.Lookup(ctx, "history:KRW:USD:1w:1h", []string{"USD"})
		if err != nil || string(p) != `"history:KRW:USD:1w:1h"` {
			t.Fatalf("lookup after fill = %q %v", p, err)
		}
		if ttl := r.Client.PTTL(ctx, c.Key("history:KRW:USD:1w:1h")).Val(); ttl <= 0 || ttl > 15*time.Minute {
			t.Errorf("entry TTL %v, want within (0, 15m]", ttl)
		}

		n, err := c.Invalidate(ctx, "USD")
		if err != nil || n != 5 {
			t.Errorf("invalidate USD dropped %d (%v), want the 5 entries involving USD", n, err)
		}
		for k, codes := range entries {
			involvesUSD := false
			for _, code := range codes {
				involvesUSD = involvesUSD || code == "USD"
			}
			exists := r.Client.Exists(ctx, c.Key(k)).Val() == 1
			if exists == involvesUSD {
				t.Errorf("after invalidating USD, %s exists = %v, want %v", k, exists, !involvesUSD)
			}
		}
		// Invalidating again finds nothing; the generation still moves.
		if n, err := c.Invalidate(ctx, "USD"); err != nil || n != 0 {
			t.Errorf("second invalidate = %d %v, want 0", n, err)
		}
		if g := r.Client.Get(ctx, c.GenKey("USD")).Val(); g != "2" {
			t.Errorf("USD generation = %q, want 2", g)
		}
	})
}

// TestFillRefusedAfterInvalidation is the race a version guard exists for:
// a reader takes the generations, reads the database (old data), an update
// is invalidated meanwhile, and the reader's fill arrives last. The fill
// must be refused, for either currency of the pair, and a fill that
// started after the update must be accepted.
func TestFillRefusedAfterInvalidation(t *testing.T) {
	testinfra.ForEachRedis(t, func(t *testing.T, r testinfra.Redis) {
		ctx := context.Background()
		c := cache.New(r.Client, r.Prefix)
		const key = "history:JPY:USD:1w:1h"
		codes := []string{"JPY", "USD"}
		for _, moved := range codes {
			_, gens, err := c.Lookup(ctx, key, codes) // the reader starts
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Invalidate(ctx, moved); err != nil { // an update lands
				t.Fatal(err)
			}
			ok, err := c.Fill(ctx, key, codes, gens, []byte(`"stale"`), time.Minute) // the stale fill
			if err != nil || ok {
				t.Fatalf("fill after %s moved = %v %v, want refused", moved, ok, err)
			}
			if p, _, _ := c.Lookup(ctx, key, codes); p != nil {
				t.Fatalf("entry after a refused fill = %q, want none", p)
			}
			_, gens, _ = c.Lookup(ctx, key, codes) // a reader after the update
			if ok, err := c.Fill(ctx, key, codes, gens, []byte(`"fresh"`), time.Minute); err != nil || !ok {
				t.Fatalf("fill after the update = %v %v, want written", ok, err)
			}
			if _, err := c.Invalidate(ctx, moved); err != nil {
				t.Fatal(err)
			}
			if p, _, _ := c.Lookup(ctx, key, codes); p != nil {
				t.Fatalf("entry after invalidating %s = %q, want dropped", moved, p)
			}
		}
	})
}
