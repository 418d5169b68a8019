// Package cachex sets up go-redis clients and the one cache primitive every
// ratewire cache needs: a version-guarded write, so that a fill that read
// the database before an update can never overwrite the newer entry written
// after it (DESIGN §7).
package cachex

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Open returns a client for a redis:// URL with short timeouts: a cache
// that answers slowly is worse than a miss, and callers fall back to the
// database when Redis is unavailable. It does not fail when Redis is down;
// Ping reports that.
func Open(redisURL string) (*redis.Client, error) {
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
	return redis.NewClient(opt), nil
}

// versionWidth is the width of the zero-padded version that prefixes every
// versioned value; 20 digits hold any non-negative int64.
const versionWidth = 20

// setIfNewer stores ARGV[2] (already prefixed with its version) unless the
// key holds an entry whose version is greater or equal to ARGV[1]. Equal
// versions are not rewritten, which keeps the TTL of the first writer.
var setIfNewer = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur then
  local v = tonumber(string.sub(cur, 1, 20))
  if v and v >= tonumber(ARGV[1]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
`)

// SetVersioned writes payload under key with its version and ttl, unless
// key already holds the same or a newer version. It reports whether it
// wrote.
func SetVersioned(ctx context.Context, c redis.Scripter, key string, version int64, payload []byte, ttl time.Duration) (bool, error) {
	if version < 0 {
		return false, fmt.Errorf("cachex: negative version %d for %s", version, key)
	}
	if ttl <= 0 {
		return false, fmt.Errorf("cachex: non-positive TTL for %s", key)
	}
	v := fmt.Sprintf("%0*d", versionWidth, version)
	val := make([]byte, 0, len(v)+1+len(payload))
	val = append(append(append(val, v...), ':'), payload...)
	n, err := setIfNewer.Run(ctx, c, []string{key}, version, val, ttl.Milliseconds()).Int()
	if err != nil {
		return false, fmt.Errorf("cachex: set %s: %w", key, err)
	}
	return n == 1, nil
}

// ErrMiss is returned by GetVersioned when the key holds nothing.
var ErrMiss = errors.New("cachex: miss")

// GetVersioned reads an entry written by SetVersioned. A missing key is
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
