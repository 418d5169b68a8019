package provider_test

import (
	"context"
	"testing"
	"time"

	"github.com/ratewire/ratewire/ingestor/internal/provider"
	"github.com/ratewire/ratewire/ingestor/internal/rate"
)

func TestSimulatedFetchRange(t *testing.T) {
	now := time.Date(2026, 11, 22, 0, 17, 0, 0, time.UTC)
	p := &provider.Simulated{Now: clock(now)}
	from := time.Date(2026, 11, 22, 0, 2, 0, 0, time.UTC)
	batches, err := p.FetchRange(context.Background(), from, now.Add(time.Hour)) // capped at now
	if err != nil {
		t.Fatal(err)
	}
	want := []time.Time{from.Add(3 * time.Minute), from.Add(8 * time.Minute), from.Add(13 * time.Minute)} // 00:05, 00:10, 00:15
	if len(batches) != len(want) {
		t.Fatalf("%d batches, want %d at 00:05, 00:10, 00:15", len(batches), len(want))
	}
	again, _ := p.FetchRange(context.Background(), from, now)
	for i, b := range batches {
		if b.Source != "simulated" || !b.FetchedAt.Equal(want[i]) {
			t.Errorf("batch %d: %s at %s, want simulated at %s", i, b.Source, b.FetchedAt, want[i])
		}
		sameBatch(t, b.Quotes, provider.SimulatedQuotes(want[i]))
		sameBatch(t, b.Quotes, again[i].Quotes) // deterministic
	}
	// A live fetch at the last step agrees with the backfill.
	live, _ := p.Fetch(context.Background())
	sameBatch(t, live.Quotes, batches[len(batches)-1].Quotes)

	hourly := &provider.Simulated{Now: clock(now), Step: time.Hour}
	hb, err := hourly.FetchRange(context.Background(), now.Add(-48*time.Hour), now)
	if err != nil || len(hb) != 48 {
		t.Errorf("hourly over 48 h: %d batches (err %v), want 48", len(hb), err)
	}
}

func TestSimulatedFetchRangeBounds(t *testing.T) {
	now := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	p := &provider.Simulated{Now: clock(now)}
	if b, err := p.FetchRange(context.Background(), now.Add(time.Hour), now.Add(2*time.Hour)); err != nil || len(b) != 0 {
		t.Errorf("a future range gave %d batches (err %v), want none", len(b), err)
	}
	_, err := p.FetchRange(context.Background(), now.AddDate(-2, 0, 0), now)
	wantFailure(t, err, "simulated", provider.Permanent, "larger Step")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.FetchRange(ctx, now.Add(-time.Hour), now); err == nil {
		t.Error("a cancelled context gave no error")
	}
}

func sameBatch(t testing.TB, a, b []rate.Quote) {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("%d quotes vs %d", len(a), len(b))
	}
	for i := range a {
		if a[i].Code != b[i].Code || !a[i].DealBaseRate.Equal(b[i].DealBaseRate) || !eqDec(a[i].TTS, b[i].TTS) || !eqDec(a[i].TTB, b[i].TTB) || !a[i].RecordedAt.Equal(b[i].RecordedAt) {
			t.Errorf("quote %d differs: %s %s@%s vs %s %s@%s", i, a[i].Code, a[i].DealBaseRate, a[i].RecordedAt, b[i].Code, b[i].DealBaseRate, b[i].RecordedAt)
		}
	}
}
