package cachex_test

import (
	"context"
	"errors"
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
		steps := []struct {
			version   int64
			payload   string
			wantWrite bool
			wantVer   int64
			wantBody  string
		}{
			{5, `{"v":5}`, true, 5, `{"v":5}`},
			{4, `{"v":4}`, false, 5, `{"v":5}`}, // a stale fill loses
			{5, `{"v":"5b"}`, false, 5, `{"v":5}`},
			{12, `{"v":12}`, true, 12, `{"v":12}`}, // 12 > 5 numerically, not as text
		}
		for _, s := range steps {
			wrote, err := cachex.SetVersioned(ctx, c, key, s.version, []byte(s.payload), time.Minute)
			if err != nil {
				t.Fatalf("set v%d: %v", s.version, err)
			}
			if wrote != s.wantWrite {
				t.Errorf("set v%d wrote = %v, want %v", s.version, wrote, s.wantWrite)
			}
			v, body, err := cachex.GetVersioned(ctx, c, key)
			if err != nil || v != s.wantVer || string(body) != s.wantBody {
				t.Errorf("after set v%d: got v%d %s (%v), want v%d %s", s.version, v, body, err, s.wantVer, s.wantBody)
			}
		}
		ttl, err := c.PTTL(ctx, key).Result()
		if err != nil || ttl <= 0 || ttl > time.Minute {
			t.Errorf("TTL = %v (%v), want within (0, 1m]", ttl, err)
		}
		if _, err := cachex.SetVersioned(ctx, c, key, 1, nil, 0); err == nil {
			t.Error("SetVersioned with zero TTL succeeded")
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

func TestOpenRejectsBadURL(t *testing.T) {
	if _, err := cachex.Open("http://nope"); err == nil {
		t.Fatal("Open accepted a non-redis URL")
	}
}
