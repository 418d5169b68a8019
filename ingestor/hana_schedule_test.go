package ingestor_test

import (
	"testing"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/ratewire/ratewire/ingestor"
	"github.com/ratewire/ratewire/shared/config"
	"github.com/ratewire/ratewire/shared/kst"
)

// TestHanaDefaultSchedule: with hana first and no explicit schedule, the
// ingestor polls every five minutes in Korean banking hours on weekdays
// and never at night or at the weekend. The activations are computed from
// fixed instants, not the wall clock.
func TestHanaDefaultSchedule(t *testing.T) {
	cfg, err := ingestor.LoadConfig(envOf(map[string]string{
		"RATEWIRE_PROVIDERS": "hana,koreaexim,exchangerate-api", "RATEWIRE_KOREAEXIM_API_KEY": "k",
		"RATEWIRE_HANA_URL": "http://127.0.0.1:1",
	}), config.DefaultIngestorAddr)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HanaURL != "http://127.0.0.1:1" {
		t.Errorf("HanaURL = %q, want RATEWIRE_HANA_URL", cfg.HanaURL)
	}
	spec := ingestor.Schedule(cfg)
	if spec != ingestor.HanaSchedule {
		t.Fatalf("schedule %q, want the hana default %q", spec, ingestor.HanaSchedule)
	}
	sched, err := cron.ParseStandard(spec)
	if err != nil {
		t.Fatal(err)
	}
	// One week from Monday 00:00 KST, in the ingest time zone.
	start := time.Date(2026, 11, 23, 0, 0, 0, 0, kst.Zone)
	perDay := map[time.Weekday]int{}
	var first, last time.Time
	for at := sched.Next(start.In(cfg.IngestTimezone)); at.Before(start.AddDate(0, 0, 7)); at = sched.Next(at) {
		k := at.In(kst.Zone)
		if k.Hour() < 9 || k.Hour() >= 20 {
			t.Fatalf("runs at %s: outside 09:00-20:00 KST", k)
		}
		if first.IsZero() {
			first = k
		}
		if k.Weekday() == time.Monday {
			last = k
		}
		perDay[k.Weekday()]++
	}
	if !first.Equal(start.Add(9*time.Hour)) || !last.Equal(start.Add(19*time.Hour+55*time.Minute)) {
		t.Errorf("Monday runs from %s to %s, want 09:00 to 19:55 KST", first, last)
	}
	for wd := time.Sunday; wd <= time.Saturday; wd++ {
		want := 132 // every 5 minutes for 11 hours
		if wd == time.Saturday || wd == time.Sunday {
			want = 0
		}
		if perDay[wd] != want {
			t.Errorf("%s: %d runs, want %d", wd, perDay[wd], want)
		}
	}
}
