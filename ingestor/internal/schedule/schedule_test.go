package schedule_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/ratewire/ratewire/ingestor/internal/schedule"
	"github.com/ratewire/ratewire/shared/kst"
	"github.com/ratewire/ratewire/shared/logx"
)

// run starts s and returns a function that stops it and waits.
func run(t *testing.T, s *schedule.Scheduler) func() {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.Run(ctx) }()
	return func() { cancel(); <-done }
}

// TestRunsAtActivationsInItsZone: a Korea Eximbank schedule on a fake
// clock fires at 11:05 KST on weekdays only, whatever the machine's zone.
func TestRunsAtActivationsInItsZone(t *testing.T) {
	start := time.Date(2026, 11, 27, 10, 0, 0, 0, kst.Zone) // Friday 10:00 KST
	clk := clockwork.NewFakeClockAt(start)
	s := schedule.New(clk, kst.Zone, logx.Discard())
	fired := make(chan time.Time, 10)
	id, err := s.Add("ingest", "5 11-18 * * 1-5", func(context.Context) { fired <- clk.Now() })
	if err != nil {
		t.Fatal(err)
	}
	if next := s.Next(id); !next.Equal(time.Date(2026, 11, 27, 11, 5, 0, 0, kst.Zone)) {
		t.Errorf("next = %s, want Friday 11:05 KST", next)
	}
	stop := run(t, s)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var got []time.Time
	for i, st := range []struct {
		d     time.Duration
		fires bool
	}{
		{64 * time.Minute, false},              // 11:04: nothing yet
		{time.Minute, true},                    // 11:05: runs
		{7*time.Hour + 30*time.Minute, true},   // Friday 18:35: one catch-up run, not seven
		{54*time.Hour + 30*time.Minute, false}, // Monday 01:05: nothing on the weekend
		{10 * time.Hour, true},                 // Monday 11:05: runs
	} {
		if err := clk.BlockUntilContext(ctx, 1); err != nil {
			t.Fatalf("step %d: scheduler not waiting: %v", i, err)
		}
		clk.Advance(st.d)
		if st.fires { // the clock stays put until the run has read it
			select {
			case at := <-fired:
				got = append(got, at.In(kst.Zone))
			case <-ctx.Done():
				t.Fatalf("step %d: no run", i)
			}
		}
	}
	if err := clk.BlockUntilContext(ctx, 1); err != nil {
		t.Fatal(err)
	}
	stop()
	close(fired)
	for at := range fired { // a run that should not have happened
		got = append(got, at.In(kst.Zone))
	}
	want := []time.Time{
		time.Date(2026, 11, 27, 11, 5, 0, 0, kst.Zone),
		time.Date(2026, 11, 27, 18, 35, 0, 0, kst.Zone),
		time.Date(2026, 11, 30, 11, 5, 0, 0, kst.Zone),
	}
	if len(got) != len(want) {
		t.Fatalf("ran at %v, want %v", got, want)
	}
	for i := range want {
		if !got[i].Equal(want[i]) {
			t.Errorf("run %d at %s, want %s", i, got[i], want[i])
		}
	}
}

// TestSkipsWhileRunningAndRecovers: an activation while the previous run
// is still going is skipped, across a year boundary, and a panicking run
// does not stop the schedule.
func TestSkipsWhileRunningAndRecovers(t *testing.T) {
	start := time.Date(2026, 12, 31, 23, 59, 59, 0, kst.Zone)
	clk := clockwork.NewFakeClockAt(start)
	s := schedule.New(clk, kst.Zone, logx.Discard())
	var mu sync.Mutex
	var runs []time.Time
	release := make(chan struct{})
	started := make(chan struct{}, 10)
	id, err := s.Add("midnight", "0 0 * * *", func(context.Context) {
		mu.Lock()
		runs = append(runs, clk.Now())
		mu.Unlock()
		started <- struct{}{}
		<-release
		panic("job failed") // recovered: the scheduler goes on
	})
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	if err := clk.BlockUntilContext(ctx, 1); err != nil {
		t.Fatal(err)
	}
	clk.Advance(2 * time.Second) // 1 January 00:00:01
	<-started
	// The next midnight comes while the first run still holds: skipped.
	if err := clk.BlockUntilContext(ctx, 1); err != nil {
		t.Fatal(err)
	}
	clk.Advance(24 * time.Hour)
	if err := clk.BlockUntilContext(ctx, 1); err != nil { // waiting for 3 January again
		t.Fatal(err)
	}
	close(release)
	for s.Running(id) {
		time.Sleep(time.Millisecond)
	}
	// Released (and panicked): the following midnight runs again.
	clk.Advance(24 * time.Hour)
	select {
	case <-started:
	case <-ctx.Done():
		t.Fatal("no run after a panicking one")
	}
	stop()
	mu.Lock()
	defer mu.Unlock()
	want := []time.Time{time.Date(2027, 1, 1, 0, 0, 1, 0, kst.Zone), time.Date(2027, 1, 3, 0, 0, 1, 0, kst.Zone)}
	if len(runs) != len(want) || !runs[0].Equal(want[0]) || !runs[1].Equal(want[1]) {
		t.Errorf("runs at %v, want %v", runs, want)
	}
}

func TestRejectsBadSpec(t *testing.T) {
	s := schedule.New(clockwork.NewFakeClock(), kst.Zone, logx.Discard())
	if _, err := s.Add("ingest", "61 * * * *", func(context.Context) {}); err == nil {
		t.Error("minute 61 accepted")
	}
}
