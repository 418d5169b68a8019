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
// with a TTL. A lookup is one EXISTS and a mark one SET, so both are single
// round trips; errors are returned as they are, and the consumer treats
// them as transient.
type Redis struct {
	rdb    redis.Cmdable
	prefix string
	ttl    time.Duration
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
	return &Redis{rdb: rdb, prefix: o.KeyPrefix, ttl: o.TTL}
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
