package dedupe_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ratewire/ratewire/shared/dedupe"
	"github.com/ratewire/ratewire/shared/kafkabus"
	"github.com/ratewire/ratewire/shared/testinfra"
)

// The Redis store is what kafkabus.Consumer expects, batched lookups and
// marks included.
var _ kafkabus.BatchDedupe = (*dedupe.Redis)(nil)

func TestRedisContract(t *testing.T) {
	testinfra.ForEachRedis(t, func(t *testing.T, r testinfra.Redis) {
		ctx := context.Background()
		d := dedupe.NewRedis(r.Client, dedupe.Options{KeyPrefix: r.Prefix})

		seen, err := d.Seen(ctx, "g1", "e1")
		if err != nil || seen {
			t.Fatalf("Seen before Mark: expected false, nil; got %v, %v", seen, err)
		}
		if err := d.Mark(ctx, "g1", "e1"); err != nil {
			t.Fatalf("Mark: %v", err)
		}
		if seen, err := d.Seen(ctx, "g1", "e1"); err != nil || !seen {
			t.Errorf("Seen after Mark: expected true, nil; got %v, %v", seen, err)
		}
		// Groups are independent.
		if seen, err := d.Seen(ctx, "g2", "e1"); err != nil || seen {
			t.Errorf("Seen for another group: expected false, nil; got %v, %v", seen, err)
		}
		checkTTL(t, r, d.Key("g1", time.Now()))
		if _, err := d.Seen(ctx, "", "e1"); err == nil {
			t.Error("Seen with an empty group: expected an error, got nil")
		}
	})
}

// SeenMany and MarkMany agree with Seen and Mark, id by id.
func TestRedisBatchContract(t *testing.T) {
	testinfra.ForEachRedis(t, func(t *testing.T, r testinfra.Redis) {
		ctx := context.Background()
		d := dedupe.NewRedis(r.Client, dedupe.Options{KeyPrefix: r.Prefix})

		if err := d.Mark(ctx, "g1", "e1"); err != nil {
			t.Fatalf("Mark: %v", err)
		}
		seen, err := d.SeenMany(ctx, "g1", []string{"e1", "e2", "e3", "e1"})
		if err != nil || fmt.Sprint(seen) != "[true false false true]" {
			t.Fatalf("SeenMany after marking e1: expected [true false false true], nil; got %v, %v", seen, err)
		}
		if err := d.MarkMany(ctx, "g1", []string{"e2", "e3"}); err != nil {
			t.Fatalf("MarkMany: %v", err)
		}
		for _, id := range []string{"e2", "e3"} {
			if ok, err := d.Seen(ctx, "g1", id); err != nil || !ok {
				t.Errorf("Seen %s after MarkMany: expected true, nil; got %v, %v", id, ok, err)
			}
		}
		checkTTL(t, r, d.Key("g1", time.Now()))
		if seen, err := d.SeenMany(ctx, "g2", []string{"e1", "e2"}); err != nil || fmt.Sprint(seen) != "[false false]" {
			t.Errorf("SeenMany for another group: expected [false false], nil; got %v, %v", seen, err)
		}
		// Thousands of ids in one lookup, answered in order.
		many := make([]string, 9000)
		for i := range many {
			many[i] = fmt.Sprintf("m%d", i)
		}
		if err := d.MarkMany(ctx, "g1", []string{"m1", "m4500", "m8999"}); err != nil {
			t.Fatalf("MarkMany: %v", err)
		}
		seenMany, err := d.SeenMany(ctx, "g1", many)
		if err != nil || len(seenMany) != len(many) {
			t.Fatalf("SeenMany of %d ids: got %d answers, %v", len(many), len(seenMany), err)
		}
		for i, s := range seenMany {
			if want := i == 1 || i == 4500 || i == 8999; s != want {
				t.Errorf("SeenMany of %d ids: id %d seen %v, expected %v", len(many), i, s, want)
			}
		}
		if seen, err := d.SeenMany(ctx, "g1", nil); err != nil || len(seen) != 0 {
			t.Errorf("SeenMany of nothing: expected no answers, nil; got %v, %v", seen, err)
		}
		if _, err := d.SeenMany(ctx, "g1", []string{"e1", ""}); err == nil {
			t.Error("SeenMany with an empty event id: expected an error, got nil")
		}
		if err := d.MarkMany(ctx, "", []string{"e1"}); err == nil {
			t.Error("MarkMany with an empty group: expected an error, got nil")
		}
	})
}

// checkTTL fails unless key, a day's set of marks, expires between
// DefaultTTL and DefaultTTL plus a day from now.
func checkTTL(t *testing.T, r testinfra.Redis, key string) {
	t.Helper()
	ttl, err := r.Client.PTTL(context.Background(), key).Result()
	if err != nil || ttl < dedupe.DefaultTTL-time.Minute || ttl > dedupe.DefaultTTL+24*time.Hour {
		t.Errorf("TTL of %s: expected between %s and a day more, got %s (%v)", key, dedupe.DefaultTTL, ttl, err)
	}
}

// A mark is remembered for at least the TTL and forgotten after the TTL
// and one period (TTL/7), wherever in its period it was made; a mark made
// by a consumer whose clock runs one period ahead is seen too.
func TestRedisExpires(t *testing.T) {
	const ttl = 7 * time.Hour // periods of an hour
	for _, offset := range []time.Duration{0, 30 * time.Minute, time.Hour - time.Millisecond} {
		t.Run(offset.String(), func(t *testing.T) {
			r := testinfra.MiniRedis(t)
			ctx := context.Background()
			now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC).Add(offset)
			d := dedupe.NewRedis(r.Client, dedupe.Options{TTL: ttl, Now: func() time.Time { return now }})
			if err := d.MarkMany(ctx, "g", []string{"e", "f"}); err != nil {
				t.Fatal(err)
			}
			advance := func(by time.Duration) {
				now = now.Add(by)
				r.Mini.FastForward(by)
			}
			advance(ttl - time.Second)
			if seen, err := d.SeenMany(ctx, "g", []string{"e", "f", "x"}); err != nil || fmt.Sprint(seen) != "[true true false]" {
				t.Errorf("SeenMany just before the TTL: expected [true true false], nil; got %v, %v", seen, err)
			}
			advance(time.Hour + 2*time.Second)
			if seen, err := d.Seen(ctx, "g", "e"); err != nil || seen {
				t.Errorf("Seen after the TTL and a period: expected false, nil; got %v, %v", seen, err)
			}
			if keys := r.Mini.Keys(); len(keys) != 0 {
				t.Errorf("keys after the TTL and a period: expected none, got %v", keys)
			}

			ahead := dedupe.NewRedis(r.Client, dedupe.Options{TTL: ttl, Now: func() time.Time { return now.Add(time.Hour) }})
			if err := ahead.Mark(ctx, "g", "early"); err != nil {
				t.Fatal(err)
			}
			if seen, err := d.Seen(ctx, "g", "early"); err != nil || !seen {
				t.Errorf("Seen of a mark made an hour ahead: expected true, nil; got %v, %v", seen, err)
			}
		})
	}
}

func TestRedisDownIsAnError(t *testing.T) {
	r := testinfra.MiniRedis(t)
	d := dedupe.NewRedis(r.Client, dedupe.Options{})
	r.Mini.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := d.Seen(ctx, "g", "e"); err == nil {
		t.Error("Seen with Redis down: expected an error, got nil")
	}
	if err := d.Mark(ctx, "g", "e"); err == nil {
		t.Error("Mark with Redis down: expected an error, got nil")
	}
	if _, err := d.SeenMany(ctx, "g", []string{"e"}); err == nil {
		t.Error("SeenMany with Redis down: expected an error, got nil")
	}
	if err := d.MarkMany(ctx, "g", []string{"e"}); err == nil {
		t.Error("MarkMany with Redis down: expected an error, got nil")
	}
}

// Ids that look alike but are not the same canonical UUID stay apart: the
// compact form is used only for lower-case UUIDs.
func TestRedisKeepsLookalikeIDsApart(t *testing.T) {
	testinfra.ForEachRedis(t, func(t *testing.T, r testinfra.Redis) {
		ctx := context.Background()
		d := dedupe.NewRedis(r.Client, dedupe.Options{KeyPrefix: r.Prefix})
		const id = "3f2b8c1e-9a4d-4e6f-8b1a-2c3d4e5f6a7b"
		if err := d.Mark(ctx, "g", id); err != nil {
			t.Fatal(err)
		}
		ids := []string{id, strings.ToUpper(id), strings.ReplaceAll(id, "-", ""), "{" + id + "}", id[:35] + "g"}
		seen, err := d.SeenMany(ctx, "g", ids)
		if err != nil || fmt.Sprint(seen) != "[true false false false false]" {
			t.Errorf("SeenMany(%q) after marking %s: expected [true false false false false], got %v, %v", ids, id, seen, err)
		}
	})
}
