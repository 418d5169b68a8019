// Package cachex sets up go-redis clients with the timeouts a cache wants,
// and reads the versioned value format: a 20-digit zero-padded version, a
// colon, then the payload. Writers guard on that version in their own Lua
// scripts (the currency cache's put and tombstone), so that a fill that
// read the database before an update can never overwrite the newer entry
// written after it (DESIGN.md §7).
package cachex

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Option adjusts the client Open builds.
type Option func(*redis.Options)

// NoRetries makes the client send each command once. A caller whose
// scripts are not idempotent (a click counted twice) must not have a reply
// lost to a timeout retried blindly; it treats the timeout as a failure.
func NoRetries(o *redis.Options) { o.MaxRetries = -1 }

// Open returns a client for a redis:// URL with short timeouts: a cache
// that answers slowly is worse than a miss, and callers fall back to the
// database when Redis is unavailable. It does not fail when Redis is down;
// Ping reports that.
func Open(redisURL string, opts ...Option) (*redis.Client, error) {
	if redisURL == "" {
		return nil, errors.New("cachex: empty Redis URL")
	}
	opt, err := redis.ParseURL(redisURL)
	if err != nil {
		return nil, fmt.Errorf("cachex: parse Redis URL: %w", err)
	}
	if opt.DialTimeout == 0 || opt.DialTimeout > 2*time.Second {
		opt.DialTimeout = 2 * time.Second
	}
	opt.ReadTimeout = 500 * time.Millisecond
	opt.WriteTimeout = 500 * time.Millisecond
	opt.MaxRetries = 1
	// go-redis redials five times by default before it reports a dead
	// server; one quick retry lets a caller fall back to the database fast.
	opt.DialerRetries = 1
	opt.DialerRetryTimeout = 50 * time.Millisecond
	for _, o := range opts {
		o(opt)
	}
	return redis.NewClient(opt), nil
}

// versionWidth is the width of the zero-padded version that prefixes every
// versioned value; 20 digits hold any non-negative int64.
const versionWidth = 20

// ErrMiss is returned by GetVersioned when the key holds nothing.
var ErrMiss = errors.New("cachex: miss")

// GetVersioned reads a versioned entry. A missing key is
// ErrMiss; an entry not in the versioned format is an error (and should be
// treated as a miss by callers).
func GetVersioned(ctx context.Context, c redis.Cmdable, key string) (int64, []byte, error) {
	b, err := c.Get(ctx, key).Bytes()
	if errors.Is(err, redis.Nil) {
		return 0, nil, ErrMiss
	}
	if err != nil {
		return 0, nil, fmt.Errorf("cachex: get %s: %w", key, err)
	}
	v, payload, ok := splitVersioned(b)
	if !ok {
		return 0, nil, fmt.Errorf("cachex: %s holds an unversioned value", key)
	}
	return v, payload, nil
}

// GetManyVersioned reads several versioned entries with one MGET. The
// result has one payload per key, nil for a miss or an entry that is not
// in the versioned format.
func GetManyVersioned(ctx context.Context, c redis.Cmdable, keys []string) ([][]byte, error) {
	out := make([][]byte, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	vals, err := c.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, fmt.Errorf("cachex: mget: %w", err)
	}
	for i, v := range vals {
		if s, ok := v.(string); ok {
			if _, payload, ok := splitVersioned([]byte(s)); ok {
				out[i] = payload
			}
		}
	}
	return out, nil
}

func splitVersioned(b []byte) (int64, []byte, bool) {
	if len(b) < versionWidth+1 || b[versionWidth] != ':' {
		return 0, nil, false
	}
	v, err := strconv.ParseInt(string(b[:versionWidth]), 10, 64)
	if err != nil {
		return 0, nil, false
	}
	return v, b[versionWidth+1:], true
}
