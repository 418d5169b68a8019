package ingestor_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/ratewire/ratewire/ingestor"
	"github.com/ratewire/ratewire/ingestor/internal/store"
	"github.com/ratewire/ratewire/shared/event"
	"github.com/ratewire/ratewire/shared/testinfra"
)

func TestBackfillSimulated(t *testing.T) {
	testinfra.ForEachDatabase(t, func(t *testing.T, db testinfra.Database) {
		ctx := context.Background()
		cfg, err := ingestor.LoadConfig(func(k string) string {
			return map[string]string{"RATEWIRE_DATABASE_URL": db.URL}[k]
		}, ":0")
		if err != nil {
			t.Fatal(err)
		}
		if has, err := ingestor.HasRates(ctx, cfg); err != nil || has {
			t.Fatalf("HasRates on a new database = %v, %v", has, err)
		}
		if p := ingestor.BackfillProvider(cfg); p != "simulated" {
			t.Fatalf("BackfillProvider = %q, want simulated", p)
		}
		now := time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)
		from := now.Add(-48 * time.Hour)
		res, err := ingestor.Backfill(ctx, cfg, ingestor.BackfillOptions{Provider: "simulated", From: from, To: now,
			Step: time.Hour, Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		if res.Batches != 49 || res.Observations != 49*31 {
			t.Fatalf("backfill = %+v, want 49 hourly batches of 30 quotes and CNY beside CNH", res)
		}
		s := store.New(testinfra.OpenDB(t, db.URL))
		days, err := s.DailyRates(ctx, "USD", "2026-11-20", "2026-11-22")
		if err != nil || len(days) != 3 || days[1].Samples != 24 {
			t.Fatalf("daily rows = %+v (%v), want 3 KST days with 24 hourly samples on the full one", days, err)
		}
		runs, _ := s.Runs(ctx, 5)
		// The last hour moves most rates (a few stay within a cent and
		// publish no update); its run events wait in the outbox.
		if len(runs) != 1 || runs[0].Trigger != "backfill" || runs[0].Changed < 15 || runs[0].Events != runs[0].Changed+3 {
			t.Fatalf("runs = %+v, want one backfill run with its changed rates and 3 run events", runs)
		}
		pending, _ := s.PendingOutbox(ctx, 100)
		if len(pending) != runs[0].Events {
			t.Errorf("outbox holds %d events, want the run's %d", len(pending), runs[0].Events)
		}
		// Every backfilled currency's history moved, the unchanged ones'
		// too: the run's invalidation lists all 31 (CNY served from CNH).
		var inv event.CacheInvalidation
		for _, m := range pending {
			if m.Topic == event.TopicCacheInvalidation {
				if err := json.Unmarshal([]byte(m.Payload), &inv); err != nil {
					t.Fatal(err)
				}
			}
		}
		if len(inv.CacheKeys) != 31 || !slices.Contains(inv.CacheKeys, event.RateCacheKey("CNY")) || runs[0].Changed == 31 {
			t.Errorf("cache_invalidation lists %d keys (%v) with %d changed, want all 31 backfilled codes and some unchanged",
				len(inv.CacheKeys), inv.CacheKeys, runs[0].Changed)
		}
		res, err = ingestor.Backfill(ctx, cfg, ingestor.BackfillOptions{Provider: "simulated", From: from, To: now, OnlyIfEmpty: true})
		if err != nil || !res.Skipped {
			t.Errorf("second backfill with OnlyIfEmpty = %+v, %v; want skipped", res, err)
		}
		if _, err := ingestor.Backfill(ctx, cfg, ingestor.BackfillOptions{Provider: "exchangerate-api", From: from, To: now}); err == nil {
			t.Error("backfill from a provider without history succeeded")
		}
		if _, err := ingestor.Backfill(ctx, cfg, ingestor.BackfillOptions{Provider: "simulated", From: now, To: from}); err == nil {
			t.Error("backfill of an empty range succeeded")
		}
	})
}
