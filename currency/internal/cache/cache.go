// Package cache is the currency service's rate:{CODE} cache in Redis, with
// version-guarded writes (DESIGN.md §7), invalidation tombstones that carry a
// version floor, and a 10-minute TTL.
//
// Values use cachex's versioned format, a 20-digit zero-padded version, a
// colon, then the payload, so cachex.GetVersioned reads them. A tombstone
// is a version with an empty payload: it reads as a miss. The Lua scripts
// here are the writers of that format: a fill at exactly a tombstone's
// version replaces it, and equal live entries are kept.
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
	if len(body) == 0 || json.Unmarshal(body, &r) != nil {
		return rates.Rate{}, false, nil // a tombstone or a bad entry
	}
	return r, true, nil
}

// GetRaw returns the cached JSON of a rate as stored, without decoding it,
// for the HTTP fast path; false on a miss or a tombstone.
func (c *Cache) GetRaw(ctx context.Context, code string) ([]byte, bool, error) {
	_, body, err := cachex.GetVersioned(ctx, c.c, c.Key(code))
	if errors.Is(err, cachex.ErrMiss) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return body, len(body) > 0, nil
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
		if len(body) > 0 && json.Unmarshal(body, &r) == nil {
			out[codes[i]] = r
		}
	}
	return out, nil
}

// putScript writes, for each key KEYS[i], the value ARGV[2+2i] (already
// prefixed with its version ARGV[1+2i]) unless the key holds a newer
// version, or the same version with a payload and either ARGV[2] is not
// '1' (equal live entries keep the first writer's TTL) or the stored
// value is the same bytes (a refresh that changes nothing writes
// nothing). ARGV[1] is the TTL in milliseconds. Keys are taken in order,
// so a key listed twice ends as the calls one by one would leave it.
// Zero-padded versions compare as strings exactly as they do as numbers,
// so no Lua number conversion can lose precision. It returns how many keys
// it wrote.
var putScript = redis.NewScript(`
local ttl, eq, n = ARGV[1], ARGV[2], 0
for i, k in ipairs(KEYS) do
  local v, val = ARGV[1 + 2 * i], ARGV[2 + 2 * i]
  local write = true
  local cur = redis.call('GET', k)
  if cur and string.sub(cur, 21, 21) == ':' then
    local held = string.sub(cur, 1, 20)
    if held > v or (held == v and string.len(cur) > 21 and (eq ~= '1' or cur == val)) then write = false end
  end
  if write then
    redis.call('SET', k, val, 'PX', ttl)
    n = n + 1
  end
end
return n
`)

// tombstoneScript replaces keys with tombstones. ARGV[i] is the floor of
// KEYS[i], ARGV[#KEYS+1] the tombstone TTL in milliseconds, and
// ARGV[#KEYS+2] '1' to replace every key (the floor is then the larger of
// ARGV[i] and the version the key holds) or '0' to replace only keys that
// are absent or hold a version below their floor. It returns how many
// keys it wrote.
var tombstoneScript = redis.NewScript(`
local ttl, all, n = ARGV[#KEYS + 1], ARGV[#KEYS + 2], 0
for i, k in ipairs(KEYS) do
  local floor = ARGV[i]
  local write = true
  local cur = redis.call('GET', k)
  if cur and string.sub(cur, 21, 21) == ':' then
    local v = string.sub(cur, 1, 20)
    if v >= floor then
      if all == '1' then floor = v else write = false end
    end
  end
  if write then
    redis.call('SET', k, floor .. ':', 'PX', ttl)
    n = n + 1
  end
end
return n
`)

func version(v int64) string { return fmt.Sprintf("%020d", max(v, 0)) }

// Put implements rates.Cache: it writes only when r is newer than what the
// key holds, or at least as new as the floor of the tombstone it holds.
func (c *Cache) Put(ctx context.Context, r rates.Rate) error {
	return c.put(ctx, []rates.Rate{r}, false)
}

// PutMany implements rates.Cache: Put of every rate, in order, in one
// script call.
func (c *Cache) PutMany(ctx context.Context, rs []rates.Rate) error { return c.put(ctx, rs, false) }

// RefreshMany implements rates.Cache: like PutMany, but an entry of the
// same version is replaced too when its stored value differs, for what is
// derived at fill time (the change against the previous KST day) may have
// moved without a new version. The comparison is of the stored bytes, in
// the script, so an unchanged entry costs no write and keeps its TTL.
func (c *Cache) RefreshMany(ctx context.Context, rs []rates.Rate) error { return c.put(ctx, rs, true) }

func (c *Cache) put(ctx context.Context, rs []rates.Rate, replaceEqual bool) error {
	if len(rs) == 0 {
		return nil
	}
	keys := make([]string, len(rs))
	args := make([]any, 2, 2+2*len(rs))
	args[0] = TTL.Milliseconds()
	args[1] = "0"
	if replaceEqual {
		args[1] = "1"
	}
	for i, r := range rs {
		if r.Version < 0 {
			return fmt.Errorf("rate cache: negative version %d for %s", r.Version, r.CurrencyCode)
		}
		body, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("rate cache: encode %s: %w", r.CurrencyCode, err)
		}
		v := version(r.Version)
		val := make([]byte, 0, len(v)+1+len(body))
		val = append(append(append(val, v...), ':'), body...)
		keys[i] = c.Key(r.CurrencyCode)
		args = append(args, v, val)
	}
	if err := putScript.Run(ctx, c.c, keys, args...).Err(); err != nil {
		if len(rs) == 1 {
			return fmt.Errorf("rate cache: put %s: %w", rs[0].CurrencyCode, err)
		}
		return fmt.Errorf("rate cache: put %d rates: %w", len(rs), err)
	}
	return nil
}

// Invalidate implements rates.Cache with one script call for all codes:
// only absent entries and entries below their floor become tombstones.
func (c *Cache) Invalidate(ctx context.Context, floors map[string]int64) error {
	return c.tombstone(ctx, floors, false)
}

// Clear implements rates.Cache with one script call for all codes.
func (c *Cache) Clear(ctx context.Context, floors map[string]int64) error {
	return c.tombstone(ctx, floors, true)
}

func (c *Cache) tombstone(ctx context.Context, floors map[string]int64, all bool) error {
	if len(floors) == 0 {
		return nil
	}
	keys := make([]string, 0, len(floors))
	args := make([]any, 0, len(floors)+2)
	for code, v := range floors {
		keys = append(keys, c.Key(code))
		args = append(args, version(v))
	}
	replaceAll := "0"
	if all {
		replaceAll = "1"
	}
	args = append(args, rates.TombstoneTTL.Milliseconds(), replaceAll)
	if err := tombstoneScript.Run(ctx, c.c, keys, args...).Err(); err != nil {
		return fmt.Errorf("rate cache: invalidate: %w", err)
	}
	return nil
}

var _ rates.Cache = (*Cache)(nil)
