package dedupe_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ratewire/ratewire/shared/dedupe"
	"github.com/ratewire/ratewire/shared/kafkabus"
	"github.com/ratewire/ratewire/shared/kst"
	"github.com/ratewire/ratewire/shared/testinfra"
)

// The Redis store is what kafkabus.Consumer expects, batched lookups and
// marks included.
var _ kafkabus.BatchDedupe = (*dedupe.Redis)(nil)

// instants are the clocks the contract tests run at: the edges where a
// store keyed by the wrong day, or a test reading the wall clock between
// a mark and its check, would break. Periods (days by default) start at
// midnight UTC, whatever the machine's zone.
var instants = []struct {
	name string
	at   time.Time
}{
	{"last millisecond of a UTC day", time.Date(2026, 11, 21, 23, 59, 59, 999e6, time.UTC)},
	{"00:30 KST, 15:30 UTC the day before", time.Date(2026, 11, 22, 0, 30, 0, 0, kst.Zone)},
	{"a Saturday noon", time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)},
	{"23:59:59 KST on 31 December", time.Date(2026, 12, 31, 23, 59, 59, 0, kst.Zone)},
}

// forEachInstant runs fn on miniredis and a real Redis at each of instants,
// with a store whose clock is fixed there.
func forEachInstant(t *testing.T, fn func(t *testing.T, r testinfra.Redis, d *dedupe.Redis, at time.Time)) {
	for _, in := range instants {
		t.Run(in.name, func(t *testing.T) {
			testinfra.ForEachRedis(t, func(t *testing.T, r testinfra.Redis) {
				d := dedupe.NewRedis(r.Client, dedupe.Options{KeyPrefix: r.Prefix, Now: func() time.Time { return in.at }})
				fn(t, r, d, in.at)
			})
		})
	}
}

func TestRedisContract(t *testing.T) {
	forEachInstant(t, func(t *testing.T, r testinfra.Redis, d *dedupe.Redis, at time.Time) {
		ctx := context.Background()

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
		checkTTL(t, r, d.Key("g1", at), at)
		if _, err := d.Seen(ctx, "", "e1"); err == nil {
			t.Error("Seen with an empty group: expected an error, got nil")
		}
	})
}

// SeenMany and MarkMany agree with Seen and Mark, id by id.
func TestRedisBatchContract(t *testing.T) {
	forEachInstant(t, func(t *testing.T, r testinfra.Redis, d *dedupe.Redis, at time.Time) {
		ctx := context.Background()

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
		checkTTL(t, r, d.Key("g1", at), at)
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

// checkTTL fails unless key, the set of marks made at the store's clock
// at, expires DefaultTTL after the end of at's UTC day: the TTL is set
// from the store's clock, so only the time the test itself took (a
// minute at most) may be missing from it.
func checkTTL(t *testing.T, r testinfra.Redis, key string, at time.Time) {
	t.Helper()
	if want := "dedupe:{g1}:" + at.UTC().Format("20060102") + "T000000.000Z"; !strings.HasSuffix(key, want) {
		t.Errorf("key of a mark at %s: expected ...%s, got %s", at, want, key)
	}
	y, m, dd := at.UTC().Date()
	want := time.Date(y, m, dd+1, 0, 0, 0, 0, time.UTC).Add(dedupe.DefaultTTL).Sub(at)
	ttl, err := r.Client.PTTL(context.Background(), key).Result()
	if err != nil || ttl > want || ttl < want-time.Minute {
		t.Errorf("TTL of %s marked at %s: expected %s (the end of its UTC day and %s), got %s (%v)",
			key, at, want, dedupe.DefaultTTL, ttl, err)
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
	d := dedupe.NewRedis(r.Client, dedupe.Options{Now: func() time.Time { return instants[0].at }})
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
		d := dedupe.NewRedis(r.Client, dedupe.Options{KeyPrefix: r.Prefix, Now: func() time.Time { return instants[0].at }})
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
