package embedded

import (
	"context"
	"fmt"
	"time"

	"github.com/alicebob/miniredis/v2"
)

// StartRedis starts an in-memory Redis (miniredis) on 127.0.0.1 at a random
// free port. The caller closes it with Close. Its TTLs do not run until
// KeepTime drives them: miniredis never advances a clock of its own.
func StartRedis() (*miniredis.Miniredis, error) {
	m, err := miniredis.Run()
	if err != nil {
		return nil, fmt.Errorf("embedded: start redis: %w", err)
	}
	return m, nil
}

// KeepTime makes m keep time with now until ctx ends: on every value of
// tick it sets m's clock to now(), and m's TTLs run down by the time that
// passed, so keys expire as they would on a real Redis (rate entries after
// their 10 minutes, tombstones, ranking windows, dedupe days). Without it a
// long-running devstack keeps every key it ever wrote. Expired keys are
// dropped at the next command that touches the database, as miniredis
// does. The stack passes its own clock, so a test on a fake clock expires
// keys by advancing it.
func KeepTime(ctx context.Context, m *miniredis.Miniredis, now func() time.Time, tick <-chan time.Time) {
	m.SetTime(now())
	m.ClockTTL(true)
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick:
			m.SetTime(now())
		}
	}
}

// RedisURL returns the redis:// URL of m's database 0, the form
// RATEWIRE_REDIS_URL takes, so services connect to the embedded server
// exactly as they would to a real one.
func RedisURL(m *miniredis.Miniredis) string {
	return "redis://" + m.Addr() + "/0"
}
