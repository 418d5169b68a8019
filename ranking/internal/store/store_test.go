package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ratewire/ratewire/ranking/internal/rank"
	"github.com/ratewire/ratewire/ranking/internal/store"
	"github.com/ratewire/ratewire/shared/testinfra"
)

func day(t testing.TB, s string) rank.Day {
	t.Helper()
	d, err := rank.ParseDay(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestStoreContract runs against SQLite and PostgreSQL alike.
func TestStoreContract(t *testing.T) {
	testinfra.ForEachDatabase(t, func(t *testing.T, d testinfra.Database) {
		ctx := context.Background()
		db := testinfra.OpenDB(t, d.URL)
		s := store.New(db)
		if err := s.Migrate(ctx); err != nil {
			t.Fatalf("migrate: %v", err)
		}
		if err := s.Migrate(ctx); err != nil {
			t.Fatalf("second migrate: %v", err)
		}
		if err := s.Ping(ctx); err != nil {
			t.Fatalf("ping: %v", err)
		}
		var applied int
		if err := db.GetContext(ctx, &applied, db.Rebind(`SELECT COUNT(*) FROM schema_migrations WHERE module = ?`), store.Module); err != nil {
			t.Fatalf("count applied migrations: %v", err)
		}
		if applied != 2 {
			t.Errorf("applied migrations of %q = %d, want 2 (migrating twice must not re-apply)", store.Module, applied)
		}

		at := time.Date(2026, 11, 22, 2, 0, 0, 0, time.UTC)
		d18, d19, d23 := day(t, "2026-11-18"), day(t, "2026-11-19"), day(t, "2026-11-23")

		t.Run("empty snapshot", func(t *testing.T) {
			seq, counts, err := s.Snapshot(ctx, rank.Day{}, rank.Day{})
			if err != nil || seq != 0 || len(counts) != 0 {
				t.Errorf("Snapshot of nothing = %d %v %v, want 0, empty, nil", seq, counts, err)
			}
		})

		t.Run("add clicks upserts and numbers each change", func(t *testing.T) {
			seq1, c1, err := s.AddClicks(ctx, []rank.Delta{{Day: d18, Country: "JP", Clicks: 3}, {Day: d18, Country: "US", Clicks: 1}}, at)
			if err != nil {
				t.Fatalf("AddClicks: %v", err)
			}
			seq2, c2, err := s.AddClicks(ctx, []rank.Delta{{Day: d18, Country: "JP", Clicks: 2}, {Day: d19, Country: "JP", Clicks: 4}}, at)
			if err != nil {
				t.Fatalf("AddClicks: %v", err)
			}
			if seq1 != 1 || seq2 != 2 {
				t.Errorf("sequence numbers %d, %d, want 1, 2", seq1, seq2)
			}
			if got := c1[rank.DayCountry{Day: d18, Country: "JP"}]; got != 3 || len(c1) != 2 {
				t.Errorf("first counts %v, want JP 3 of 2 rows", c1)
			}
			if got := c2[rank.DayCountry{Day: d18, Country: "JP"}]; got != 5 {
				t.Errorf("JP on 18th after second add = %d, want 5", got)
			}
			if got := c2[rank.DayCountry{Day: d19, Country: "JP"}]; got != 4 {
				t.Errorf("JP on 19th = %d, want 4", got)
			}
		})

		t.Run("a bad delta stores nothing", func(t *testing.T) {
			_, _, err := s.AddClicks(ctx, []rank.Delta{{Day: d18, Country: "FR", Clicks: 1}, {Day: d18, Country: "DE", Clicks: 0}}, at)
			if err == nil {
				t.Fatal("AddClicks with a zero delta succeeded, want an error")
			}
			_, _, err = s.AddClicks(ctx, []rank.Delta{{Day: d18, Country: "XXX", Clicks: 1}}, at)
			if err == nil {
				t.Fatal("AddClicks with a three-letter code succeeded, want the check constraint to refuse it")
			}
			seq, counts, err := s.Snapshot(ctx, rank.Day{}, rank.Day{})
			if err != nil || seq != 2 || counts["FR"] != 0 {
				t.Errorf("after failed adds: seq %d FR %d (%v), want seq 2 and no FR", seq, counts["FR"], err)
			}
		})

		t.Run("snapshot sums a range of days", func(t *testing.T) {
			if _, _, err := s.AddClicks(ctx, []rank.Delta{{Day: d23, Country: "GB", Clicks: 7}}, at); err != nil {
				t.Fatal(err)
			}
			tests := []struct {
				from, to rank.Day
				want     map[string]int64
			}{
				{d18, d18, map[string]int64{"JP": 5, "US": 1}},
				{d18, d19, map[string]int64{"JP": 9, "US": 1}},
				{d19, day(t, "2026-11-22"), map[string]int64{"JP": 4}},
				{rank.Day{}, rank.Day{}, map[string]int64{"JP": 9, "US": 1, "GB": 7}},
			}
			for _, tt := range tests {
				seq, got, err := s.Snapshot(ctx, tt.from, tt.to)
				if err != nil || seq != 3 || fmt.Sprint(got) != fmt.Sprint(tt.want) {
					t.Errorf("Snapshot(%s, %s) = %d %v %v, want 3 %v", tt.from, tt.to, seq, got, err, tt.want)
				}
			}
			if n, err := s.CountryTotal(ctx, "JP"); err != nil || n != 9 {
				t.Errorf("CountryTotal(JP) = %d %v, want 9", n, err)
			}
			if n, err := s.CountryTotal(ctx, "KR"); err != nil || n != 0 {
				t.Errorf("CountryTotal(KR) = %d %v, want 0", n, err)
			}
			rows, err := s.DailyCounts(ctx, "JP", day(t, "2026-11-01"), d23)
			if err != nil || fmt.Sprint(rows) != fmt.Sprint([]rank.DayCount{{Day: d18, Clicks: 5}, {Day: d19, Clicks: 4}}) {
				t.Errorf("DailyCounts(JP) = %v %v, want 18th 5 and 19th 4", rows, err)
			}
		})

		t.Run("reset removes a day and records it", func(t *testing.T) {
			rec, err := s.ResetDay(ctx, d18, at)
			if err != nil {
				t.Fatalf("ResetDay: %v", err)
			}
			if rec.ID == 0 || rec.Seq != 4 || fmt.Sprint(rec.Removed) != "[{JP 5} {US 1}]" {
				t.Errorf("reset record %+v, want an id, seq 4, removed [JP 5, US 1]", rec)
			}
			seq, counts, err := s.Snapshot(ctx, d18, d18)
			if err != nil || seq != 4 || len(counts) != 0 {
				t.Errorf("18th after reset = %d %v %v, want seq 4, empty", seq, counts, err)
			}
			if _, counts, _ := s.Snapshot(ctx, d19, d19); counts["JP"] != 4 {
				t.Errorf("19th after resetting the 18th: JP %d, want 4 (untouched)", counts["JP"])
			}
			empty, err := s.ResetDay(ctx, d18, at)
			if err != nil || len(empty.Removed) != 0 || empty.ID == rec.ID {
				t.Errorf("second reset = %+v %v, want a new record removing nothing", empty, err)
			}
			resets, err := s.Resets(ctx, d18)
			if err != nil || len(resets) != 2 || fmt.Sprint(resets[0].Removed) != "[{JP 5} {US 1}]" || !resets[0].At.Equal(at) {
				t.Errorf("Resets(18th) = %+v %v, want both resets, the first removing [JP 5, US 1] at %s", resets, err, at)
			}
		})

		t.Run("concurrent adds lose nothing and each take a number", func(t *testing.T) {
			_, before, _ := s.Snapshot(ctx, d23, d23)
			var wg sync.WaitGroup
			errs := make(chan error, 16)
			for range 16 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, _, err := s.AddClicks(ctx, []rank.Delta{{Day: d23, Country: "GB", Clicks: 1}, {Day: d23, Country: "KR", Clicks: 2}}, at)
					errs <- err
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatalf("concurrent AddClicks: %v", err)
				}
			}
			seq, after, err := s.Snapshot(ctx, d23, d23)
			if err != nil || after["GB"] != before["GB"]+16 || after["KR"] != 32 || seq != 5+16 {
				t.Errorf("after 16 concurrent adds: seq %d GB %d KR %d (%v), want seq 21, GB %d, KR 32",
					seq, after["GB"], after["KR"], err, before["GB"]+16)
			}
		})

		// The primary key (country_code, day) is what makes a click an
		// upsert: a plain second row for the same country and day fails.
		insert := db.Rebind(`INSERT INTO country_clicks (country_code, day, clicks, updated_at) VALUES (?, ?, ?, ?)`)
		if _, err := db.ExecContext(ctx, insert, "JP", "2026-11-19", 1, at); err == nil {
			t.Error("second row for (JP, 2026-11-19) was accepted, want a primary key violation")
		}
	})
}
