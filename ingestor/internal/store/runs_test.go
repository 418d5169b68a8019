package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ratewire/ratewire/ingestor/internal/rate"
	"github.com/ratewire/ratewire/ingestor/internal/store"
	"github.com/ratewire/ratewire/shared/event"
	"github.com/ratewire/ratewire/shared/testinfra"
)

func TestRunsAndOutbox(t *testing.T) {
	testinfra.ForEachDatabase(t, func(t *testing.T, db testinfra.Database) {
		ctx := context.Background()
		s := store.New(testinfra.OpenDB(t, db.URL))
		if err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		t0 := time.Date(2026, 11, 22, 2, 0, 0, 0, time.UTC)
		b := rate.Batch{Source: "koreaexim", Quotes: []rate.Quote{
			{Code: "USD", Name: "미국 달러", DealBaseRate: d("1398.4"), RecordedAt: t0},
			{Code: "EUR", Name: "유로", DealBaseRate: d("1510.2"), RecordedAt: t0},
		}}
		run := store.Run{ID: "run-1", Trigger: "test", Status: "success", Provider: "koreaexim", Fetched: 2,
			Attempts: []store.Attempt{{Provider: "koreaexim", Attempt: 1, Outcome: "ok"}}, StartedAt: t0, FinishedAt: t0.Add(time.Second), DurationMS: 1000}
		changed, err := s.CommitRun(ctx, []rate.Batch{b}, run, func(changed []event.Rate) ([]store.OutboxMessage, error) {
			var out []store.OutboxMessage
			for _, l := range changed {
				out = append(out, store.OutboxMessage{EventID: "ev-" + l.CurrencyCode, Topic: "exchange_rate_updated", Key: l.CurrencyCode, Payload: `{"v":1}`, Headers: `{}`})
			}
			return out, nil
		})
		if err != nil || len(changed) != 2 {
			t.Fatalf("CommitRun: %d changed, %v", len(changed), err)
		}
		pending, err := s.PendingOutbox(ctx, 10)
		if err != nil || len(pending) != 2 || pending[0].EventID != "ev-USD" || pending[1].EventID != "ev-EUR" {
			t.Fatalf("pending = %+v (%v), want ev-USD then ev-EUR", pending, err)
		}
		n, oldest, err := s.OutboxBacklog(ctx)
		if err != nil || n != 2 || !oldest.Equal(t0.Add(time.Second)) {
			t.Errorf("backlog = %d since %s (%v), want 2 since %s", n, oldest, err, t0.Add(time.Second))
		}

		// A failure while building events stores nothing: no rates, no run.
		boom := errors.New("boom")
		b2 := rate.Batch{Source: "koreaexim", Quotes: []rate.Quote{{Code: "USD", Name: "미국 달러", DealBaseRate: d("1500"), RecordedAt: t0.Add(time.Hour)}}}
		if _, err := s.CommitRun(ctx, []rate.Batch{b2}, store.Run{ID: "run-2", Status: "success", StartedAt: t0, FinishedAt: t0}, func([]event.Rate) ([]store.OutboxMessage, error) {
			return nil, boom
		}); !errors.Is(err, boom) {
			t.Fatalf("CommitRun error = %v, want boom", err)
		}
		latest, _ := s.Latest(ctx)
		for _, l := range latest {
			if l.CurrencyCode == "USD" && !l.DealBaseRate.Equal(d("1398.4")) {
				t.Errorf("USD = %s after a failed commit, want 1398.4", l.DealBaseRate)
			}
		}
		if runs, _ := s.Runs(ctx, 10); len(runs) != 1 {
			t.Errorf("%d runs recorded, want 1 (the failed commit leaves none)", len(runs))
		}

		if err := s.MarkSent(ctx, []int64{pending[0].ID}, t0.Add(2*time.Second)); err != nil {
			t.Fatal(err)
		}
		if p, _ := s.PendingOutbox(ctx, 10); len(p) != 1 || p[0].EventID != "ev-EUR" {
			t.Errorf("pending after MarkSent = %+v, want only ev-EUR", p)
		}

		failed := store.Run{ID: "run-3", Trigger: "schedule", Status: "failed", Provider: "", StartedAt: t0.Add(time.Minute),
			FinishedAt: t0.Add(time.Minute), Error: "no provider answered"}
		if err := s.RecordRun(ctx, failed); err != nil {
			t.Fatal(err)
		}
		runs, err := s.Runs(ctx, 10)
		if err != nil || len(runs) != 2 || runs[0].ID != "run-3" || runs[1].Changed != 2 || runs[1].Events != 2 ||
			len(runs[1].Attempts) != 1 || runs[1].Attempts[0].Outcome != "ok" {
			t.Fatalf("runs = %+v (%v)", runs, err)
		}
		last, ok, err := s.LastRun(ctx, "success")
		if err != nil || !ok || last.ID != "run-1" {
			t.Errorf("last success = %+v %v %v", last, ok, err)
		}
		if _, ok, _ := s.LastRun(ctx, "no_data"); ok {
			t.Error("LastRun found a no_data run that does not exist")
		}

		locked, err := s.WithRelayLock(ctx, func() error { return nil })
		if err != nil || !locked {
			t.Errorf("WithRelayLock = %v, %v; want the lock", locked, err)
		}

		// Retention: observations before the cut go, daily aggregates stay.
		if n, err := s.PurgeObservations(ctx, t0.Add(time.Minute), 1); err != nil || n != 2 {
			t.Errorf("purged %d observations (%v), want 2", n, err)
		}
		if days, _ := s.DailyRates(ctx, "USD", "2026-11-22", "2026-11-22"); len(days) != 1 {
			t.Errorf("daily rows after purge = %d, want 1", len(days))
		}
		if n, err := s.PurgeSentOutbox(ctx, t0.Add(time.Hour), 100); err != nil || n != 1 {
			t.Errorf("purged %d sent outbox rows (%v), want 1", n, err)
		}
	})
}

// TestCommitRunSeveralSources commits one run's batches from two sources in
// one transaction: each rate keeps its own source and cash rates, the
// daily source's batch stays daily, and a failure in the second batch
// stores nothing of the first.
func TestCommitRunSeveralSources(t *testing.T) {
	testinfra.ForEachDatabase(t, func(t *testing.T, db testinfra.Database) {
		ctx := context.Background()
		s := store.New(testinfra.OpenDB(t, db.URL))
		if err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		t0 := time.Date(2026, 11, 25, 5, 5, 0, 0, time.UTC)
		buy, sell := d("1361.42"), d("1314.59")
		hana := rate.Batch{Source: "hana", Quotes: []rate.Quote{
			{Code: "USD", Name: "미국 달러", DealBaseRate: d("1338"), CashBuy: &buy, CashSell: &sell, RecordedAt: t0},
		}}
		exim := rate.Batch{Source: "koreaexim", Daily: true, Quotes: []rate.Quote{
			{Code: "BND", Name: "브루나이 달러", DealBaseRate: d("1050.1"), RecordedAt: t0.Add(-3 * time.Hour), RateDate: "2026-11-25"},
		}}
		run := store.Run{ID: "run-m", Trigger: "test", Status: "success", Provider: "hana,koreaexim", StartedAt: t0, FinishedAt: t0}
		none := func([]event.Rate) ([]store.OutboxMessage, error) { return nil, nil }
		changed, err := s.CommitRun(ctx, []rate.Batch{hana, exim}, run, none)
		if err != nil || len(changed) != 2 || changed[0].Source != "hana" || changed[1].Source != "koreaexim" {
			t.Fatalf("CommitRun = %+v (%v), want USD from hana then BND from koreaexim", changed, err)
		}
		latest, _ := s.Latest(ctx)
		if len(latest) != 2 || latest[0].CurrencyCode != "BND" || latest[0].CashBuy != nil || latest[1].Source != "hana" ||
			latest[1].CashBuy == nil || !latest[1].CashBuy.Equal(buy) {
			t.Errorf("latest = %+v, want BND without cash and USD from hana with cash_buy %s", latest, buy)
		}
		// A revised daily quote of a day stored by the same run's source is a
		// revision (daily batches stay daily inside a multi-source commit).
		exim.Quotes[0].DealBaseRate = d("1051.3")
		bad := rate.Batch{Source: "hana", Quotes: []rate.Quote{{Code: "usd", DealBaseRate: d("1"), RecordedAt: t0.Add(time.Hour)}}}
		if _, err := s.CommitRun(ctx, []rate.Batch{exim, bad}, store.Run{ID: "run-bad", Status: "success", StartedAt: t0, FinishedAt: t0}, func([]event.Rate) ([]store.OutboxMessage, error) {
			return nil, errors.New("boom")
		}); err == nil {
			t.Fatal("CommitRun with a failing events builder succeeded")
		}
		if obs, _ := s.Observations(ctx, "BND"); len(obs) != 1 || !obs[0].DealBaseRate.Equal(d("1050.1")) {
			t.Errorf("BND observations after a failed commit = %+v, want the first one unchanged", obs)
		}
		if _, err := s.CommitRun(ctx, []rate.Batch{exim}, store.Run{ID: "run-rev", Status: "success", StartedAt: t0, FinishedAt: t0}, none); err != nil {
			t.Fatal(err)
		}
		if obs, _ := s.Observations(ctx, "BND"); len(obs) != 1 || !obs[0].DealBaseRate.Equal(d("1051.3")) {
			t.Errorf("BND observations after the revision = %+v, want one, revised to 1051.3", obs)
		}
	})
}
