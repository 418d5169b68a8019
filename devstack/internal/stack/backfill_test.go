package stack_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ratewire/ratewire/shared/sqldb"
)

// TestHistoryAfterBackfill is what a newcomer does: start devstack and ask
// for six months of history at once. The answer made before the backfill
// (the start-up run's one point) is cached; once the backfill has
// committed, its run's cache_invalidation lists every backfilled currency,
// so history answers the full series from the database soon after, not
// after the cache's TTL or the next scheduled run. It logs how long after
// the backfill the full series was served.
func TestHistoryAfterBackfill(t *testing.T) {
	c := plainConfig(t)
	c.BackfillDays = 30
	release := make(chan struct{})
	c.BackfillStart = func() { <-release }
	a, backfilled := runStack(t, c)
	ctx := context.Background()

	const url = "/api/v1/history?target=USD&period=6m"
	points := func() int {
		status, data := get(t, a.History+url)
		var h struct {
			Statistics struct {
				DataPoints int `json:"data_points"`
			} `json:"statistics"`
		}
		if status != 200 || json.Unmarshal(data, &h) != nil {
			return -1
		}
		return h.Statistics.DataPoints
	}
	// The start-up run's events handled (they invalidate what history
	// answered before them), then the short answer is made and cached.
	cl, err := kgo.NewClient(kgo.SeedBrokers(a.Kafka...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	waitFor(t, 15*time.Second, "history-service offsets at the end of every partition", func() bool {
		return caughtUp(ctx, adm, "history-service")
	})
	var before int
	waitFor(t, 15*time.Second, "history of the start-up run", func() bool {
		before = points()
		return before >= 1
	})
	if again := points(); again != before {
		t.Fatalf("the answer before the backfill changed from %d to %d points without a new run", before, again)
	}

	close(release)
	waitBackfill(t, backfilled)
	finished := time.Now()
	db, err := sqldb.Open(ctx, a.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var days int
	if err := sqlx.GetContext(ctx, db, &days, `SELECT COUNT(*) FROM daily_rates WHERE currency_code = 'USD'`); err != nil {
		t.Fatal(err)
	}
	if days < 30 {
		t.Fatalf("%d daily rows of USD after a 30-day backfill", days)
	}
	// The backfill's days are all older than the start-up run's rates:
	// no latest rate moved, so no exchange_rate_updated invalidated USD.
	var version int64
	if err := sqlx.GetContext(ctx, db, &version, `SELECT version FROM latest_rates WHERE currency_code = 'USD'`); err != nil || version != 1 {
		t.Fatalf("USD at version %d (%v) after the backfill, want 1: the test no longer shows the invalidation of an unchanged currency", version, err)
	}
	var after int
	waitFor(t, 20*time.Second, "the full series after the backfill", func() bool {
		after = points()
		return after > before && after >= days-1
	})
	t.Logf("history served %d points (%d before the backfill) %s after the backfill finished", after, before,
		time.Since(finished).Round(time.Millisecond))
}
