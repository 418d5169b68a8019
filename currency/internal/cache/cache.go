// Package cache is the currency service's rate:{CODE} cache in Redis, with
// version-guarded writes (DESIGN §7) and a 10-minute TTL.
package cache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ratewire/ratewire/currency/internal/rates"
	"github.com/ratewire/ratewire/shared/cachex"
)

// TTL is how long a rate stays cached without an update.
const TTL = 10 * time.Minute

// Cache implements rates.Cache.
type Cache struct {
	c      *redis.Client
	prefix string
}

// New returns a cache on c. prefix goes before every key; it is empty in
// production and a per-test namespace in tests.
func New(c *redis.Client, prefix string) *Cache { return &Cache{c: c, prefix: prefix} }

// Key is the Redis key of a currency's rate.
func (c *Cache) Key(code string) string { return c.prefix + "rate:" + code }

// Get implements rates.Cache. An entry that does not decode counts as a
// miss, so a bad entry is overwritten by the next fill.
func (c *Cache) Get(ctx context.Context, code string) (rates.Rate, bool, error) {
	_, body, err := cachex.GetVersioned(ctx, c.c, c.Key(code))
	if errors.Is(err, cachex.ErrMiss) {
		return rates.Rate{}, false, nil
	}
	if err != nil {
		return rates.Rate{}, false, err
	}
	var r rates.Rate
	if err := json.Unmarshal(body, &r); err != nil {
		return rates.Rate{}, false, nil
	}
	return r, true, nil
}

// GetMany implements rates.Cache with one MGET; misses are absent.
func (c *Cache) GetMany(ctx context.Context, codes []string) (map[string]rates.Rate, error) {
	out := make(map[string]rates.Rate, len(codes))
	if len(codes) == 0 {
		return out, nil
	}
	keys := make([]string, len(codes))
	for i, code := range codes {
		keys[i] = c.Key(code)
	}
	vals, err := cachex.GetManyVersioned(ctx, c.c, keys)
	if err != nil {
		return nil, fmt.Errorf("rate cache: %w", err)
	}
	for i, body := range vals {
		var r rates.Rate
		if body != nil && json.Unmarshal(body, &r) == nil {
			out[codes[i]] = r
		}
	}
	return out, nil
}

// Put implements rates.Cache: it writes only when r is newer than what the
// key holds.
func (c *Cache) Put(ctx context.Context, r rates.Rate) error {
	body, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("rate cache: encode %s: %w", r.Code, err)
	}
	_, err = cachex.SetVersioned(ctx, c.c, c.Key(r.Code), r.Version, body, TTL)
	return err
}

// Delete implements rates.Cache.
func (c *Cache) Delete(ctx context.Context, codes ...string) error {
	if len(codes) == 0 {
		return nil
	}
	keys := make([]string, len(codes))
	for i, code := range codes {
		keys[i] = c.Key(code)
	}
	if err := c.c.Del(ctx, keys...).Err(); err != nil {
		return fmt.Errorf("rate cache: delete: %w", err)
	}
	return nil
}
