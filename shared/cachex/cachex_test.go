package cachex_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ratewire/ratewire/shared/cachex"
	"github.com/ratewire/ratewire/shared/testinfra"
)

func TestVersionedContract(t *testing.T) {
	testinfra.ForEachRedis(t, func(t *testing.T, r testinfra.Redis) {
		ctx := context.Background()
		c, err := cachex.Open(r.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		key := r.Prefix + "rate:USD"

		if _, _, err := cachex.GetVersioned(ctx, c, key); !errors.Is(err, cachex.ErrMiss) {
			t.Fatalf("get on empty key: err = %v, want ErrMiss", err)
		}
		for _, s := range []struct {
			version int64
			payload string
		}{{5, `{"v":5}`}, {12, `{"v":12}`}} {
			val := fmt.Sprintf("%020d:%s", s.version, s.payload)
			if err := c.Set(ctx, key, val, time.Minute).Err(); err != nil {
				t.Fatal(err)
			}
			v, body, err := cachex.GetVersioned(ctx, c, key)
			if err != nil || v != s.version || string(body) != s.payload {
				t.Errorf("after writing v%d: got v%d %s (%v), want v%d %s", s.version, v, body, err, s.version, s.payload)
			}
		}
		many, err := cachex.GetManyVersioned(ctx, c, []string{key, r.Prefix + "rate:NONE"})
		if err != nil || len(many) != 2 || string(many[0]) != `{"v":12}` || many[1] != nil {
			t.Errorf("GetManyVersioned = %q (%v), want [{\"v\":12} nil]", many, err)
		}
		if err := c.Set(ctx, key, "garbage", time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
		if _, _, err := cachex.GetVersioned(ctx, c, key); err == nil || errors.Is(err, cachex.ErrMiss) {
			t.Errorf("unversioned value: err = %v, want a format error", err)
		}
	})
}

func TestOpenOptions(t *testing.T) {
	c, err := cachex.Open("redis://127.0.0.1:1/0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := c.Options().MaxRetries; got != 1 {
		t.Errorf("default MaxRetries: expected 1, got %d", got)
	}
	n, err := cachex.Open("redis://127.0.0.1:1/0", cachex.NoRetries)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if got := n.Options(); got.MaxRetries > 0 || got.ReadTimeout != c.Options().ReadTimeout {
		t.Errorf("NoRetries: expected no retries (go-redis reads -1 as 0) and the same timeouts, got %d and %v", got.MaxRetries, got.ReadTimeout)
	}
}

func TestOpenRejectsBadURL(t *testing.T) {
	if _, err := cachex.Open("http://nope"); err == nil {
		t.Fatal("Open accepted a non-redis URL")
	}
}
