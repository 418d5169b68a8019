package embedded

import (
	"fmt"

	"github.com/alicebob/miniredis/v2"
)

// StartRedis starts an in-memory Redis (miniredis) on 127.0.0.1 at a random
// free port. The caller closes it with Close.
func StartRedis() (*miniredis.Miniredis, error) {
	m, err := miniredis.Run()
	if err != nil {
		return nil, fmt.Errorf("embedded: start redis: %w", err)
	}
	return m, nil
}

// RedisURL returns the redis:// URL of m's database 0, the form
// RATEWIRE_REDIS_URL takes, so services connect to the embedded server
// exactly as they would to a real one.
func RedisURL(m *miniredis.Miniredis) string {
	return "redis://" + m.Addr() + "/0"
}
