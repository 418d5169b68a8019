package dedupe_test

import (
	"context"
	"testing"
	"time"

	"github.com/ratewire/ratewire/shared/dedupe"
	"github.com/ratewire/ratewire/shared/kafkabus"
	"github.com/ratewire/ratewire/shared/testinfra"
)

// The Redis store is what kafkabus.Consumer expects.
var _ kafkabus.Dedupe = (*dedupe.Redis)(nil)

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
}
