package rates_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ratewire/ratewire/currency/internal/rates"
	"github.com/ratewire/ratewire/shared/event"
	"github.com/ratewire/ratewire/shared/kst"
	"github.com/ratewire/ratewire/shared/testinfra"
)

// TestRunWritesEachChangedRateOnce handles one ingestor run's events
// (exchange_rate_updated per changed currency, cache_invalidation,
// data_processing_completed) and counts the writes to each rate:{CODE}
// key: exactly one for each changed currency (USD, cached at an older
// version, and EUR, not cached), none for the unchanged JPY. A write is
// seen by the key's value changing or its TTL being set again: before each
// step every key's TTL is lowered to a marker below both the rate TTL and
// the tombstone TTL, which any SET ... PX raises. The events carry
// updated_at with nanoseconds where the database keeps microseconds, as
// the ingestor's do. The topics are consumed independently, so the
// refresh may also come before the others.
func TestRunWritesEachChangedRateOnce(t *testing.T) {
	const marker = 20 * time.Second
	orders := []struct {
		name  string
		steps []string
	}{
		{"published order", []string{"apply", "invalidate", "refresh"}},
		{"refresh before invalidation", []string{"apply", "refresh", "invalidate"}},
		{"refresh before update", []string{"refresh", "apply", "invalidate"}},
	}
	for _, order := range orders {
		t.Run(order.name, func(t *testing.T) {
			testinfra.ForEachRedis(t, func(t *testing.T, r testinfra.Redis) {
				testinfra.ForEachDatabase(t, func(t *testing.T, db testinfra.Database) {
					ctx := context.Background()
					r := r
					r.Prefix += db.Name + ":"
					svc, sqlDB := setup(t, db.URL, r)
					for _, code := range []string{"USD", "JPY"} { // cached before the run: USD 2, JPY 1
						if _, err := svc.Get(ctx, code); err != nil {
							t.Fatal(err)
						}
					}

					// The run commits USD 3 and a first EUR rate, and its events
					// carry them as the ingestor's do.
					runAt := today.Add(5 * time.Minute)
					updatedAt := runAt.Add(30*time.Second + 123456789*time.Nanosecond)
					seed(t, sqlDB, "USD", "미국 달러", "1405.10", "1419.15", "1391.05", runAt, 3)
					seed(t, sqlDB, "EUR", "유로", "1620.5", nil, nil, runAt, 1)
					if _, err := sqlDB.ExecContext(ctx, sqlDB.Rebind(`UPDATE latest_rates SET updated_at = ?, rate_date = ?
						WHERE currency_code IN ('USD', 'EUR')`), updatedAt, kst.Day(runAt)); err != nil {
						t.Fatal(err)
					}
					tts, ttb := d("1419.15"), d("1391.05")
					changed := []rates.Rate{
						{Rate: event.Rate{CurrencyCode: "USD", CurrencyName: "미국 달러", DealBaseRate: d("1405.10"), TTS: &tts, TTB: &ttb,
							Source: "koreaexim", RecordedAt: runAt, RateDate: kst.Day(runAt), UpdatedAt: updatedAt, Version: 3}},
						{Rate: event.Rate{CurrencyCode: "EUR", CurrencyName: "유로", DealBaseRate: d("1620.5"),
							Source: "koreaexim", RecordedAt: runAt, RateDate: kst.Day(runAt), UpdatedAt: updatedAt, Version: 1}},
					}

					keys := map[string]string{"USD": r.Prefix + "rate:USD", "EUR": r.Prefix + "rate:EUR", "JPY": r.Prefix + "rate:JPY"}
					last := map[string]string{}
					mark := func() {
						for code, k := range keys {
							v, err := r.Client.Get(ctx, k).Result()
							if err != nil && !errors.Is(err, redis.Nil) {
								t.Fatal(err)
							}
							last[code] = v
							if err == nil {
								if err := r.Client.PExpire(ctx, k, marker).Err(); err != nil {
									t.Fatal(err)
								}
							}
						}
					}
					writes := map[string]int{}
					count := func(step string) {
						for code, k := range keys {
							v, err := r.Client.Get(ctx, k).Result()
							if err != nil && !errors.Is(err, redis.Nil) {
								t.Fatal(err)
							}
							ttl, err := r.Client.PTTL(ctx, k).Result()
							if err != nil {
								t.Fatal(err)
							}
							if v != last[code] || ttl > marker {
								writes[code]++
								t.Logf("%s wrote rate:%s (TTL %v)", step, code, ttl)
							}
						}
					}
					for _, step := range order.steps {
						mark()
						var err error
						switch step {
						case "apply":
							err = svc.ApplyMany(ctx, changed)
						case "invalidate":
							err = svc.Invalidate(ctx, "USD", "EUR")
						case "refresh":
							err = svc.RefreshAll(ctx)
						}
						if err != nil {
							t.Fatalf("%s: %v", step, err)
						}
						count(step)
					}

					for code, want := range map[string]int{"USD": 1, "EUR": 1, "JPY": 0} {
						if writes[code] != want {
							t.Errorf("rate:%s written %d times in the run, want %d", code, writes[code], want)
						}
					}
					for code, v := range map[string]int64{"USD": 3, "EUR": 1, "JPY": 1} {
						got, err := svc.Get(ctx, code)
						if err != nil || got.Version != v {
							t.Errorf("%s after the run = version %d (%v), want %d", code, got.Version, err, v)
						}
					}
					if got, _ := svc.Get(ctx, "USD"); !got.UpdatedAt.Equal(updatedAt.Truncate(time.Microsecond)) || got.Change == nil {
						t.Errorf("USD after the run = %+v, want updated_at %v and a change", got, updatedAt.Truncate(time.Microsecond))
					}
				})
			})
		})
	}
}
