// Package cache is the history service's Redis cache of computed answers
// (history:*, stats:*, analysis:*), implementing series.Cache.
//
// Each entry is indexed in a per-currency set, {prefix}history:index:{CODE},
// for every currency it involves, so an update of USD deletes exactly the
// members of the USD set and nothing else: no KEYS, no SCAN.
//
// Fills are guarded by a per-currency generation counter,
// {prefix}history:gen:{CODE}. A reader takes the generations together with
// its cache lookup (one MGET), before it reads the database; the fill
// script writes only if every generation is still the same. Invalidation
// bumps the generation and deletes the indexed entries in one script, so a
// fill that read the database before an update can never land after the
// update's invalidation: either it lands first and is deleted, or it sees
// the moved generation and is refused. (The currency cache guards one
// monotonically versioned value; an entry here depends on two currencies,
// hence the generation pair.)
//
// The scripts touch keys they do not declare (the index members), which
// standalone Redis allows; Redis Cluster would need hash tags.
package cache

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// indexTTL outlives every entry's TTL (at most an hour); each fill renews
// it, so an index set lives as long as the newest entry it lists.
const indexTTL = time.Hour + 5*time.Minute

// Cache implements series.Cache on Redis.
type Cache struct {
	c      redis.UniversalClient
	prefix string
}

// New returns a cache on c. prefix goes before every key: empty in
// production, a per-test namespace in tests.
func New(c redis.UniversalClient, prefix string) *Cache { return &Cache{c: c, prefix: prefix} }

// Key is the Redis key of a logical entry key.
func (c *Cache) Key(logical string) string { return c.prefix + logical }

// GenKey is the Redis key of code's generation counter.
func (c *Cache) GenKey(code string) string { return c.prefix + "history:gen:" + code }

// IndexKey is the Redis key of the set of entries involving code.
func (c *Cache) IndexKey(code string) string { return c.prefix + "history:index:" + code }

// Lookup implements series.Cache with one MGET of the entry and the
// generations.
func (c *Cache) Lookup(ctx context.Context, key string, codes []string) ([]byte, []int64, error) {
	keys := make([]string, 0, 1+len(codes))
	keys = append(keys, c.Key(key))
	for _, code := range codes {
		keys = append(keys, c.GenKey(code))
	}
	vals, err := c.c.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, nil, fmt.Errorf("history cache: lookup %s: %w", key, err)
	}
	gens := make([]int64, len(codes))
	for i := range codes {
		if s, ok := vals[1+i].(string); ok {
			if gens[i], err = strconv.ParseInt(s, 10, 64); err != nil {
				return nil, nil, fmt.Errorf("history cache: generation of %s is %q", codes[i], s)
			}
		}
	}
	var payload []byte
	if s, ok := vals[0].(string); ok {
		payload = []byte(s)
	}
	return payload, gens, nil
}

// fill: KEYS = entry, n generation keys, n index keys; ARGV = payload, ttl
// ms, n, index ttl ms, n expected generations.
var fill = redis.NewScript(`
local n = tonumber(ARGV[3])
for i = 1, n do
  local g = redis.call('GET', KEYS[1 + i]) or '0'
  if g ~= ARGV[4 + i] then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
for i = 1, n do
  redis.call('SADD', KEYS[1 + n + i], KEYS[1])
  redis.call('PEXPIRE', KEYS[1 + n + i], ARGV[4])
end
return 1
`)

// Fill implements series.Cache.
func (c *Cache) Fill(ctx context.Context, key string, codes []string, gens []int64, payload []byte, ttl time.Duration) (bool, error) {
	if len(gens) != len(codes) {
		return false, errors.New("history cache: fill needs one generation per code")
	}
	if ttl <= 0 {
		return false, fmt.Errorf("history cache: non-positive TTL for %s", key)
	}
	keys := make([]string, 0, 1+2*len(codes))
	keys = append(keys, c.Key(key))
	for _, code := range codes {
		keys = append(keys, c.GenKey(code))
	}
	for _, code := range codes {
		keys = append(keys, c.IndexKey(code))
	}
	args := make([]any, 0, 4+len(gens))
	args = append(args, payload, ttl.Milliseconds(), len(codes), indexTTL.Milliseconds())
	for _, g := range gens {
		args = append(args, strconv.FormatInt(g, 10))
	}
	n, err := fill.Run(ctx, c.c, keys, args...).Int()
	if err != nil {
		return false, fmt.Errorf("history cache: fill %s: %w", key, err)
	}
	return n == 1, nil
}

// invalidate: KEYS = generation key, index key. Deletes in chunks so a
// large index stays within Lua's unpack limit.
var invalidate = redis.NewScript(`
redis.call('INCR', KEYS[1])
local ks = redis.call('SMEMBERS', KEYS[2])
local n = 0
for i = 1, #ks, 500 do
  n = n + redis.call('DEL', unpack(ks, i, math.min(i + 499, #ks)))
end
redis.call('DEL', KEYS[2])
return n
`)

// Invalidate implements series.Cache.
func (c *Cache) Invalidate(ctx context.Context, code string) (int, error) {
	n, err := invalidate.Run(ctx, c.c, []string{c.GenKey(code), c.IndexKey(code)}).Int()
	if err != nil {
		return 0, fmt.Errorf("history cache: invalidate %s: %w", code, err)
	}
	return n, nil
}
