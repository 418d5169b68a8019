package dedupe_test

import (
	"context"
	"fmt"
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
		ttl, err := r.Client.TTL(ctx, d.Key("g1", "e1")).Result()
		if err != nil {
			t.Fatalf("TTL: %v", err)
		}
		if ttl <= dedupe.DefaultTTL-time.Minute || ttl > dedupe.DefaultTTL {
			t.Errorf("TTL of a mark: expected about %s, got %s", dedupe.DefaultTTL, ttl)
		}
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
			ttl, err := r.Client.TTL(ctx, d.Key("g1", id)).Result()
			if err != nil || ttl <= dedupe.DefaultTTL-time.Minute || ttl > dedupe.DefaultTTL {
				t.Errorf("TTL of %s after MarkMany: expected about %s, got %s (%v)", id, dedupe.DefaultTTL, ttl, err)
			}
		}
		if seen, err := d.SeenMany(ctx, "g2", []string{"e1", "e2"}); err != nil || fmt.Sprint(seen) != "[false false]" {
			t.Errorf("SeenMany for another group: expected [false false], nil; got %v, %v", seen, err)
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

func TestRedisExpires(t *testing.T) {
	r := testinfra.MiniRedis(t)
	ctx := context.Background()
	d := dedupe.NewRedis(r.Client, dedupe.Options{TTL: time.Hour})
	if err := d.Mark(ctx, "g", "e"); err != nil {
		t.Fatal(err)
	}
	r.Mini.FastForward(time.Hour + time.Second)
	if seen, err := d.Seen(ctx, "g", "e"); err != nil || seen {
		t.Errorf("Seen after the TTL: expected false, nil; got %v, %v", seen, err)
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
