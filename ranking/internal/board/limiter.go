package board

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ratewire/ratewire/ranking/internal/rank"
)

// Limiter implements rank.Limiter in Redis, so every instance shares the
// same counts. The client address always limits: a budget of clicks per
// window for the address, all ids together, and a bound on the distinct
// X-Client-Id values it may use in a window. Inside that, each client
// (address and id) has its own fixed-window rate limit and its own
// duplicate window per country. A new id beyond the bound is treated as
// no id: it shares the address's own client, so rotating ids collapses
// into one client instead of escaping the duplicate window.
type Limiter struct {
	c         redis.UniversalClient
	prefix    string
	limit     int
	window    time.Duration
	dedupe    time.Duration
	addrLimit int
	addrIDs   int
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
	// AddressLimit is how many clicks one address may send per Window,
	// every id together (default AddressLimitFactor x Limit): an address
	// may be shared by a few people (a household NAT).
	AddressLimit int
	// AddressIDs is how many distinct client ids one address may use per
	// Window (default 8); clicks with further ids count as the address's
	// own client.
	AddressIDs int
}

// Defaults of LimiterConfig.
const (
	DefaultLimit       = 60
	DefaultWindow      = time.Minute
	DefaultDedupe      = 10 * time.Second
	AddressLimitFactor = 5
	DefaultAddressIDs  = 8
)

// NewLimiter returns a limiter on c with every key starting with prefix.
func NewLimiter(c redis.UniversalClient, prefix string, cfg LimiterConfig) *Limiter {
	l := &Limiter{c: c, prefix: prefix, limit: cfg.Limit, window: cfg.Window, dedupe: cfg.Dedupe,
		addrLimit: cfg.AddressLimit, addrIDs: cfg.AddressIDs}
	if l.limit <= 0 {
		l.limit = DefaultLimit
	}
	if l.window <= 0 {
		l.window = DefaultWindow
	}
	if l.dedupe <= 0 {
		l.dedupe = DefaultDedupe
	}
	if l.addrLimit <= 0 {
		l.addrLimit = AddressLimitFactor * l.limit
		if l.addrLimit/AddressLimitFactor != l.limit { // overflow of a huge test limit
			l.addrLimit = l.limit
		}
	}
	if l.addrIDs <= 0 {
		l.addrIDs = DefaultAddressIDs
	}
	return l
}

// admitScript decides one click atomically:
//
//  1. an address over its budget is refused (scope 2) with what is left
//     of the address window;
//  2. the client is the id when the address already used it in this
//     window or may still add it to its set of ids (SADD, PEXPIRE on the
//     first), else the address's own client;
//  3. the client's window is counted (INCR, PEXPIRE on the first) and a
//     client over its limit refused (scope 1);
//  4. an admitted click is counted against the address, and it is First
//     unless the client clicked that country inside the duplicate window
//     (SET NX PX).
//
// Clicks refused by the per-client limit do not use the address budget,
// so one flooding client does not lock out the others behind its address.
// KEYS: address count, address ids, id rate, id duplicate, address's own
// client rate, its duplicate. ARGV: limit, window ms, duplicate window ms,
// address limit, address ids, id ("" for none). Every key of one address
// shares a hash tag, so the script also runs on a Redis Cluster.
// Reply: {allowed, retry ms, first, scope}.
var admitScript = redis.NewScript(`
local window = tonumber(ARGV[2])
local function left(key)
  local ttl = redis.call('PTTL', key)
  if ttl < 0 then
    redis.call('PEXPIRE', key, window)
    ttl = window
  end
  return ttl
end
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
if used >= tonumber(ARGV[4]) then return {0, left(KEYS[1]), 0, 2} end
local rate, dup = KEYS[5], KEYS[6]
local id = ARGV[6]
if id ~= '' then
  if redis.call('SISMEMBER', KEYS[2], id) == 1 then
    rate, dup = KEYS[3], KEYS[4]
  elseif redis.call('SCARD', KEYS[2]) < tonumber(ARGV[5]) then
    if redis.call('SADD', KEYS[2], id) == 1 and redis.call('SCARD', KEYS[2]) == 1 then
      redis.call('PEXPIRE', KEYS[2], window)
    end
    rate, dup = KEYS[3], KEYS[4]
  end
end
local n = redis.call('INCR', rate)
if n == 1 then redis.call('PEXPIRE', rate, window) end
if n > tonumber(ARGV[1]) then return {0, left(rate), 0, 1} end
if redis.call('INCR', KEYS[1]) == 1 then redis.call('PEXPIRE', KEYS[1], window) end
if redis.call('SET', dup, '1', 'NX', 'PX', ARGV[3]) then return {1, 0, 1, 0} end
return {1, 0, 0, 0}
`)

// Admit implements rank.Limiter in one round trip.
func (l *Limiter) Admit(ctx context.Context, client rank.Client, country string) (rank.Admission, error) {
	// ids and country codes hold no braces, so the tag is the address.
	base := l.prefix + "ranking:limit:{" + client.Addr + "}:"
	keys := []string{
		base + "clicks", base + "ids",
		base + "id:" + client.ID, base + "dup:" + country + ":id:" + client.ID,
		base + "anon", base + "dup:" + country + ":anon",
	}
	res, err := admitScript.Run(ctx, l.c, keys, l.limit, l.window.Milliseconds(), l.dedupe.Milliseconds(),
		l.addrLimit, l.addrIDs, client.ID).Int64Slice()
	if err != nil {
		return rank.Admission{}, fmt.Errorf("rate limit: %w", err)
	}
	if len(res) != 4 {
		return rank.Admission{}, fmt.Errorf("rate limit: unexpected reply %v", res)
	}
	adm := rank.Admission{
		Allowed:    res[0] == 1,
		RetryAfter: time.Duration(res[1]) * time.Millisecond,
		First:      res[2] == 1,
	}
	switch res[3] {
	case 1:
		adm.Scope = rank.ScopeClient
	case 2:
		adm.Scope = rank.ScopeAddress
	}
	return adm, nil
}
