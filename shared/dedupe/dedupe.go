// Package dedupe remembers, per consumer group, which events have been
// handled, so that the at-least-once delivery of DESIGN §6 does not apply an
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

// DefaultTTL is how long a handled event id is remembered (DESIGN §6): far
// longer than any redelivery after a rebalance or restart, and as long as
// Kafka keeps the messages by default, so a replay of anything still in a
// topic is recognised.
const DefaultTTL = 7 * 24 * time.Hour

// Redis stores handled event ids as keys "<prefix>dedupe:<group>:<event_id>"
// with a TTL. A lookup is one EXISTS and a mark one SET. SeenMany and
// MarkMany answer for a whole fetched batch in a single round trip (at
// thousands of events a second the round trips, not Redis, were the
// consumer's cost): SeenMany is one MGET on a single server and a pipeline
// of EXISTS on a cluster, whose multi-key commands must stay within one
// hash slot; MarkMany is a pipeline of SETs (a script SETting every key
// would be one command too, but Lua is slow in miniredis, which the tests
// and benchmarks use, and no faster in Redis). Errors are returned as they
// are, and the consumer treats them as transient.
type Redis struct {
	rdb    redis.Cmdable
	prefix string
	ttl    time.Duration
	// multiKey is set when rdb talks to one server, so a command may
	// span keys of any hash slot.
	multiKey bool
}

// Options configures NewRedis.
type Options struct {
	// KeyPrefix goes before every key: empty in production, a namespace of
	// its own for each test that shares a Redis server.
	KeyPrefix string
	// TTL is how long an id is remembered; 0 means DefaultTTL.
	TTL time.Duration
}

// NewRedis returns a store on rdb.
func NewRedis(rdb redis.Cmdable, o Options) *Redis {
	if o.TTL <= 0 {
		o.TTL = DefaultTTL
	}
	r := &Redis{rdb: rdb, prefix: o.KeyPrefix, ttl: o.TTL}
	switch rdb.(type) {
	case *redis.Client, *redis.Conn:
		r.multiKey = true
	}
	return r
}

// keys returns the keys of ids for group.
func (r *Redis) keys(group string, ids []string) []string {
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = r.Key(group, id)
	}
	return keys
}

// Key returns the key that records group's handling of eventID.
func (r *Redis) Key(group, eventID string) string {
	return r.prefix + "dedupe:" + group + ":" + eventID
}

// Seen reports whether group has marked eventID.
func (r *Redis) Seen(ctx context.Context, group, eventID string) (bool, error) {
	if group == "" || eventID == "" {
		return false, errors.New("dedupe: seen: empty group or event id")
	}
	n, err := r.rdb.Exists(ctx, r.Key(group, eventID)).Result()
	if err != nil {
		return false, fmt.Errorf("dedupe: seen %s/%s: %w", group, eventID, err)
	}
	return n > 0, nil
}

// Mark records that group has handled eventID, for the TTL from now.
func (r *Redis) Mark(ctx context.Context, group, eventID string) error {
	if group == "" || eventID == "" {
		return errors.New("dedupe: mark: empty group or event id")
	}
	if err := r.rdb.Set(ctx, r.Key(group, eventID), 1, r.ttl).Err(); err != nil {
		return fmt.Errorf("dedupe: mark %s/%s: %w", group, eventID, err)
	}
	return nil
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
	seen := make([]bool, len(ids))
	if r.multiKey {
		vals, err := r.rdb.MGet(ctx, r.keys(group, ids)...).Result()
		if err != nil {
			return nil, fmt.Errorf("dedupe: seen %d events of %s: %w", len(ids), group, err)
		}
		for i, v := range vals {
			seen[i] = v != nil
		}
		return seen, nil
	}
	cmds := make([]*redis.IntCmd, len(ids))
	_, err := r.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.Exists(ctx, r.Key(group, id))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("dedupe: seen %d events of %s: %w", len(ids), group, err)
	}
	for i, c := range cmds {
		seen[i] = c.Val() > 0
	}
	return seen, nil
}

// MarkMany records that group has handled every one of ids, for the TTL
// from now, in one pipelined round trip. On an error some of the marks may
// have been written; marking again is harmless.
func (r *Redis) MarkMany(ctx context.Context, group string, ids []string) error {
	if err := checkIDs(group, ids); err != nil {
		return fmt.Errorf("dedupe: mark: %w", err)
	}
	if len(ids) == 0 {
		return nil
	}
	_, err := r.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, id := range ids {
			p.Set(ctx, r.Key(group, id), 1, r.ttl)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("dedupe: mark %d events of %s: %w", len(ids), group, err)
	}
	return nil
}

// checkIDs refuses an empty group or event id, which would make keys that
// collide across groups or events.
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
