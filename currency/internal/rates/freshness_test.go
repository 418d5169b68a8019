package rates_test

import (
	"context"
	"testing"
	"time"

	"github.com/ratewire/ratewire/currency/internal/rates"
	"github.com/ratewire/ratewire/shared/testinfra"
)

// TestFreshness: every rate answer says how fresh it is. A single rate
// carries as_of (the source's time), fetched_at and next_update_at as the
// ingestor stored them, through the cache as from the database; a table or
// a conversion carries the newest source time and fetch and the earliest
// expected update among its rates. Rates stored without freshness answer
// without it.
func TestFreshness(t *testing.T) {
	testinfra.ForEachRedis(t, func(t *testing.T, r testinfra.Redis) {
		testinfra.ForEachDatabase(t, func(t *testing.T, db testinfra.Database) {
			ctx := context.Background()
			r.Prefix += db.Name + ":"
			svc, sqlDB := setup(t, db.URL, r)
			fetched := today.Add(5 * time.Minute)
			next := today.Add(24 * time.Hour)
			if _, err := sqlDB.ExecContext(ctx, sqlDB.Rebind(`UPDATE latest_rates SET fetched_at = ?, next_update_at = ? WHERE currency_code = 'USD'`),
				fetched, next); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 2; i++ { // from the database, then from the cache
				got, err := svc.Get(ctx, "USD")
				if err != nil {
					t.Fatal(err)
				}
				if !got.AsOf.Equal(today) || got.FetchedAt == nil || !got.FetchedAt.Equal(fetched) || got.NextUpdateAt == nil || !got.NextUpdateAt.Equal(next) {
					t.Errorf("read %d: USD as_of %s fetched %v next %v, want %s, %s, %s", i, got.AsOf, got.FetchedAt, got.NextUpdateAt, today, fetched, next)
				}
			}
			jpy, err := svc.Get(ctx, "JPY")
			if err != nil || jpy.FetchedAt != nil || jpy.NextUpdateAt != nil || !jpy.AsOf.Equal(today) {
				t.Errorf("JPY stored without freshness: %+v (%v)", jpy, err)
			}
			table, err := svc.Latest(ctx, "KRW", []string{"USD", "JPY"})
			if err != nil || table.FetchedAt == nil || !table.FetchedAt.Equal(fetched) || table.NextUpdateAt == nil || !table.NextUpdateAt.Equal(next) {
				t.Errorf("latest table %+v (%v), want USD's freshness", table, err)
			}
			conv, err := svc.Convert(ctx, "USD", "KRW", d("100"), rates.ConvertOptions{RateType: rates.RateMid})
			if err != nil || conv.FetchedAt == nil || !conv.FetchedAt.Equal(fetched) || conv.NextUpdateAt == nil || !conv.NextUpdateAt.Equal(next) {
				t.Errorf("conversion %+v (%v), want USD's freshness", conv, err)
			}
		})
	})
}
