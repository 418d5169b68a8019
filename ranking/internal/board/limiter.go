package board

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ratewire/ratewire/ranking/internal/rank"
)

// Limiter implements rank.Limiter in Redis, so every instance shares the
// same counts: a fixed-window rate limit per client, and a duplicate
// window per client and country.
type Limiter struct {
	c      redis.UniversalClient
	prefix string
	limit  int
	window time.Duration
	dedupe time.Duration
}

var _ rank.Limiter = (*Limiter)(nil)

// LimiterConfig sets the limits. Zero values take the defaults.
type LimiterConfig struct {
	// Limit is how many clicks a client may send per Window (default 60
	// per minute). Duplicates count against it.
	Limit  int
	Window time.Duration
	// Dedupe is how long a repeated click on the same country by the same
	// client is not counted again (default 10 s).
	Dedupe time.Duration
}

// Defaults of LimiterConfig.
const (
	DefaultLimit  = 60
	DefaultWindow = time.Minute
	DefaultDedupe = 10 * time.Second
)

// NewLimiter returns a limiter on c with every key starting with prefix.
func NewLimiter(c redis.UniversalClient, prefix string, cfg LimiterConfig) *Limiter {
	l := &Limiter{c: c, prefix: prefix, limit: cfg.Limit, window: cfg.Window, dedupe: cfg.Dedupe}
	if l.limit <= 0 {
		l.limit = DefaultLimit
	}
	if l.window <= 0 {
		l.window = DefaultWindow
	}
	if l.dedupe <= 0 {
		l.dedupe = DefaultDedupe
	}
	return l
}

// admitScript counts the click in the client's window (INCR, with PEXPIRE
// on the first), refuses it with the window's remaining time when over
// the limit, and otherwise reports whether it is the first click on that
// country inside the duplicate window (SET NX PX). KEYS: rate key,
// duplicate key; ARGV: limit, window ms, duplicate window ms.
var admitScript = redis.NewScript(`
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if n > tonumber(ARGV[1]) then
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl < 0 then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    ttl = tonumber(ARGV[2])
  end
  return {0, ttl, 0}
end
if redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[3]) then return {1, 0, 1} end
return {1, 0, 0}
`)

// Admit implements rank.Limiter in one round trip.
func (l *Limiter) Admit(ctx context.Context, client, country string) (rank.Admission, error) {
	base := l.prefix + "ranking:limit:"
	keys := []string{base + "rate:" + client, base + "dup:" + country + ":" + client}
	res, err := admitScript.Run(ctx, l.c, keys, l.limit, l.window.Milliseconds(), l.dedupe.Milliseconds()).Int64Slice()
	if err != nil {
		return rank.Admission{}, fmt.Errorf("rate limit: %w", err)
	}
	if len(res) != 3 {
		return rank.Admission{}, fmt.Errorf("rate limit: unexpected reply %v", res)
	}
	return rank.Admission{
		Allowed:    res[0] == 1,
		RetryAfter: time.Duration(res[1]) * time.Millisecond,
		First:      res[2] == 1,
	}, nil
}
