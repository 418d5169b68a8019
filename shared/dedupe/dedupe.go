// Package dedupe remembers, per consumer group, which events have been
// handled, so that the at-least-once delivery of DESIGN.md §6 does not apply an
// event twice when Kafka redelivers it (a rebalance, a restart, a producer's
// retried write, a dead-letter replay). It implements kafkabus.Dedupe on
// Redis.
package dedupe

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultTTL is how long a handled event id is remembered (DESIGN.md §6): far
// longer than any redelivery after a rebalance or restart, and as long as
// Kafka keeps the messages by default, so a replay of anything still in a
// topic is recognised.
const DefaultTTL = 7 * 24 * time.Hour

// periodsPerTTL is how many periods the TTL spans: marks of one period
// share a set, so a period is TTL/7, a day by default.
const periodsPerTTL = 7

// Redis stores the event ids a group handled in one set per period (a
// day by default): "<prefix>dedupe:{<group>}:<period start, UTC>", one
// member per event id (see member). A period's set expires one TTL after the period ends, so
// an id is remembered for at least the TTL and at most the TTL and one
// period. Marking a batch is one SADD and one PEXPIRE (in MULTI/EXEC, so a
// set never lives without its expiry); looking a batch up is a pipeline
// of EXISTS on every set that may still hold a mark (the periods of the
// last TTL, and the next one, where a consumer whose clock runs ahead may
// have marked), then one of SMISMEMBER on those that exist. A key per event
// with its own TTL, as before, cost a command per event, the consumer's
// largest cost (BenchmarkConsumerOverhead). No Lua: miniredis, which the
// tests and devstack use, runs scripts slowly. The group is a hash tag, so
// a group's sets share a Redis Cluster slot. Errors are returned as they
// are, and the consumer treats them as transient.
type Redis struct {
	rdb    redis.Cmdable
	prefix string
	ttl    time.Duration
	period time.Duration
	now    func() time.Time
}

// Options configures NewRedis.
type Options struct {
	// KeyPrefix goes before every key: empty in production, a namespace of
	// its own for each test that shares a Redis server.
	KeyPrefix string
	// TTL is how long an id is remembered at least; 0 means DefaultTTL.
	// It is cut to whole milliseconds, at least 7.
	TTL time.Duration
	// Now is the clock that picks the period; nil means time.Now.
	Now func() time.Time
}

// NewRedis returns a store on rdb.
func NewRedis(rdb redis.Cmdable, o Options) *Redis {
	if o.TTL <= 0 {
		o.TTL = DefaultTTL
	}
	o.TTL = max(o.TTL.Truncate(time.Millisecond), periodsPerTTL*time.Millisecond)
	if o.Now == nil {
		o.Now = time.Now
	}
	period := (o.TTL / periodsPerTTL).Truncate(time.Millisecond)
	return &Redis{rdb: rdb, prefix: o.KeyPrefix, ttl: o.TTL, period: period, now: o.Now}
}

// Key returns the set that holds the marks group makes at t.
func (r *Redis) Key(group string, t time.Time) string {
	return r.key(group, r.periodOf(t))
}

// periodOf numbers the period t falls in.
func (r *Redis) periodOf(t time.Time) int64 {
	return t.UnixMilli() / r.period.Milliseconds()
}

func (r *Redis) key(group string, p int64) string {
	start := time.UnixMilli(p * r.period.Milliseconds()).UTC()
	// The braces make the group a hash tag: all of a group's sets share
	// a Redis Cluster slot, so one script may read them together.
	return r.prefix + "dedupe:{" + group + "}:" + start.Format("20060102T150405.000Z")
}

// Seen reports whether group has marked eventID.
func (r *Redis) Seen(ctx context.Context, group, eventID string) (bool, error) {
	if group == "" || eventID == "" {
		return false, errors.New("dedupe: seen: empty group or event id")
	}
	seen, err := r.SeenMany(ctx, group, []string{eventID})
	if err != nil {
		return false, err
	}
	return seen[0], nil
}

// Mark records that group has handled eventID, for at least the TTL.
func (r *Redis) Mark(ctx context.Context, group, eventID string) error {
	if group == "" || eventID == "" {
		return errors.New("dedupe: mark: empty group or event id")
	}
	return r.MarkMany(ctx, group, []string{eventID})
}

// SeenMany reports, for each of ids in order, whether group has marked it,
// in one pipelined round trip.
func (r *Redis) SeenMany(ctx context.Context, group string, ids []string) ([]bool, error) {
	if err := checkIDs(group, ids); err != nil {
		return nil, fmt.Errorf("dedupe: seen: %w", err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	now := r.periodOf(r.now())
	keys := make([]string, 0, periodsPerTTL+2)
	for q := now - periodsPerTTL; q <= now+1; q++ {
		keys = append(keys, r.key(group, q))
	}
	// First which of the sets exist (no marks were made in most periods
	// of a young group, nor in the next one), then their fields.
	exists := make([]*redis.IntCmd, len(keys))
	if _, err := r.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			exists[i] = p.Exists(ctx, k)
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("dedupe: seen %d events of %s: %w", len(ids), group, err)
	}
	members := make([]any, len(ids))
	for i, id := range ids {
		members[i] = member(id)
	}
	seen := make([]bool, len(ids))
	var found []*redis.BoolSliceCmd
	if _, err := r.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			if exists[i].Val() > 0 {
				found = append(found, p.SMIsMember(ctx, k, members...))
			}
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("dedupe: seen %d events of %s: %w", len(ids), group, err)
	}
	for _, c := range found {
		for i, in := range c.Val() {
			if in {
				seen[i] = true
			}
		}
	}
	return seen, nil
}

// MarkMany records that group has handled every one of ids, for at least
// the TTL, in one round trip. An error leaves either all of the marks or
// none; marking again is harmless.
func (r *Redis) MarkMany(ctx context.Context, group string, ids []string) error {
	if err := checkIDs(group, ids); err != nil {
		return fmt.Errorf("dedupe: mark: %w", err)
	}
	if len(ids) == 0 {
		return nil
	}
	now := r.now()
	p := r.periodOf(now)
	// The set expires one TTL after its period ends. The expiry is set
	// relative to this clock, not as a Unix time, so the Redis server's
	// clock does not matter.
	expireIn := time.UnixMilli((p + 1) * r.period.Milliseconds()).Add(r.ttl).Sub(now)
	key := r.key(group, p)
	// One []string argument: go-redis expands it without boxing each
	// member.
	members := make([]string, len(ids))
	for i, id := range ids {
		members[i] = member(id)
	}
	_, err := r.rdb.TxPipelined(ctx, func(pl redis.Pipeliner) error {
		pl.SAdd(ctx, key, members)
		pl.PExpire(ctx, key, expireIn)
		return nil
	})
	if err != nil {
		return fmt.Errorf("dedupe: mark %d events of %s: %w", len(ids), group, err)
	}
	return nil
}

// member is how id is stored in a set: a canonical (lower-case) UUID, as
// every ratewire producer writes, as "u" and its 16 bytes; anything else
// as "s" and the id. The short form halves what Redis parses, hashes and
// keeps per event; the first byte keeps the two forms apart.
func member(id string) string {
	if len(id) != 36 || id[8] != '-' || id[13] != '-' || id[18] != '-' || id[23] != '-' {
		return "s" + id
	}
	var b [17]byte
	b[0] = 'u'
	for j, i := range uuidHexAt {
		hi, lo := hexValue[id[i]], hexValue[id[i+1]]
		if hi > 0xf || lo > 0xf {
			return "s" + id
		}
		b[j+1] = hi<<4 | lo
	}
	return string(b[:])
}

// uuidHexAt are where the 16 bytes of a UUID's text start.
var uuidHexAt = [16]int{0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34}

// hexValue maps a lower-case hex digit to its value and any other byte to
// 0xff.
var hexValue = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for c := byte('0'); c <= '9'; c++ {
		t[c] = c - '0'
	}
	for c := byte('a'); c <= 'f'; c++ {
		t[c] = c - 'a' + 10
	}
	return t
}()

// checkIDs refuses an empty group or event id.
func checkIDs(group string, ids []string) error {
	if group == "" {
		return errors.New("empty group")
	}
	for _, id := range ids {
		if id == "" {
			return errors.New("empty event id")
		}
	}
	return nil
}
