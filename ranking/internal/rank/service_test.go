package rank_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/ratewire/ratewire/ranking/internal/rank"
	"github.com/ratewire/ratewire/shared/country"
	"github.com/ratewire/ratewire/shared/kst"
)

// fakeStore stores nothing; AddClicks fails with err when set.
type fakeStore struct{ err error }

func (f fakeStore) AddClicks(_ context.Context, d []rank.Delta, _ time.Time) (int64, map[rank.DayCountry]int64, error) {
	if f.err != nil {
		time.Sleep(time.Millisecond) // a failing database is slow: clicks queue into batches
		return 0, nil, f.err
	}
	out := map[rank.DayCountry]int64{}
	for _, x := range d {
		out[rank.DayCountry{Day: x.Day, Country: x.Country}] += x.Clicks
	}
	return 1, out, nil
}
func (fakeStore) Snapshot(context.Context, rank.Day, rank.Day) (int64, map[string]int64, error) {
	return 0, map[string]int64{}, nil
}
func (fakeStore) CountryTotal(context.Context, string) (int64, error) { return 0, nil }
func (fakeStore) DailyCounts(context.Context, string, rank.Day, rank.Day) ([]rank.DayCount, error) {
	return nil, nil
}
func (fakeStore) ResetDay(context.Context, rank.Day, time.Time) (rank.ResetRecord, error) {
	return rank.ResetRecord{}, nil
}

// fakeBoards has no live board: every read rebuilds from the store.
type fakeBoards struct{}

func (fakeBoards) Apply(context.Context, int64, []rank.Delta) (map[rank.Board]map[string]rank.Standing, error) {
	return nil, nil
}
func (fakeBoards) Scores(context.Context, rank.Board) (map[string]int64, bool, error) {
	return nil, false, nil
}
func (fakeBoards) Fill(context.Context, rank.Board, int64, map[string]int64) error { return nil }
func (fakeBoards) Invalidate(context.Context, ...rank.Board) error                 { return nil }

// fakeLimiter admits everything, or fails with err when set.
type fakeLimiter struct{ err error }

func (f fakeLimiter) Admit(context.Context, rank.Client, string) (rank.Admission, error) {
	return rank.Admission{Allowed: true, First: true}, f.err
}

// records is a slog.Handler that keeps every record.
type records struct {
	mu   sync.Mutex
	list []slog.Record
}

func (r *records) Enabled(context.Context, slog.Level) bool { return true }
func (r *records) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	r.list = append(r.list, rec.Clone())
	r.mu.Unlock()
	return nil
}
func (r *records) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *records) WithGroup(string) slog.Handler      { return r }

// at returns the records of level lvl, each as its attributes.
func (r *records) at(lvl slog.Level) []map[string]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []map[string]any
	for _, rec := range r.list {
		if rec.Level != lvl {
			continue
		}
		m := map[string]any{"msg": rec.Message}
		rec.Attrs(func(a slog.Attr) bool { m[a.Key] = a.Value.Any(); return true })
		out = append(out, m)
	}
	return out
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newService(t *testing.T, st rank.Store, lim rank.Limiter) (*rank.Service, *records, *fakeClock) {
	t.Helper()
	logs := &records{}
	clk := &fakeClock{t: time.Date(2026, 11, 18, 12, 0, 0, 0, kst.Zone)}
	svc := rank.New(rank.Config{Store: st, Boards: fakeBoards{}, Limiter: lim, Countries: country.New(),
		Now: clk.Now, Logger: slog.New(logs)})
	t.Cleanup(svc.Close)
	return svc, logs, clk
}

func asInt(v any) int64 {
	n, _ := v.(int64)
	return n
}

// TestStoreOutageLogsOncePerInterval: during a database outage the
// service logs one line per failed batch with its size, at most one per
// 10 s of the service's clock, and the next line reports what it held back.
func TestStoreOutageLogsOncePerInterval(t *testing.T) {
	svc, logs, clk := newService(t, fakeStore{err: errors.New("connection refused")}, fakeLimiter{})
	const burst = 200
	var wg sync.WaitGroup
	for i := range burst {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := svc.Click(t.Context(), rank.Client{Addr: "192.0.2.1", ID: string(rune('a' + i%26))}, "JP"); err == nil {
				t.Error("click with the store down succeeded, want an error")
			}
		}()
	}
	wg.Wait()
	lines := logs.at(slog.LevelError)
	if len(lines) != 1 {
		t.Fatalf("%d ERROR lines for %d refused clicks within 10 s, want 1: %v", len(lines), burst, lines)
	}
	first := asInt(lines[0]["clicks"])
	if first < 1 {
		t.Errorf("first line: clicks %v, want the batch size", lines[0]["clicks"])
	}
	clk.Add(9 * time.Second)
	svc.Click(t.Context(), rank.Client{Addr: "192.0.2.1"}, "US")
	if n := len(logs.at(slog.LevelError)); n != 1 {
		t.Errorf("9 s later: %d ERROR lines, want still 1", n)
	}
	clk.Add(2 * time.Second)
	svc.Click(t.Context(), rank.Client{Addr: "192.0.2.1"}, "FR")
	lines = logs.at(slog.LevelError)
	if len(lines) != 2 {
		t.Fatalf("11 s later: %d ERROR lines, want 2", len(lines))
	}
	if c, sup := asInt(lines[1]["clicks"]), asInt(lines[1]["suppressed_clicks"]); c != 1 || first+sup != burst+1 {
		t.Errorf("second line: clicks %d suppressed_clicks %d; want 1, and %d with the first line's %d", c, sup, burst+1, first)
	}
}

// TestRedisOutageWarnsOncePerInterval: limits fail open and the warning
// is rate-limited on the service's clock, not the wall clock.
func TestRedisOutageWarnsOncePerInterval(t *testing.T) {
	svc, logs, clk := newService(t, fakeStore{}, fakeLimiter{err: errors.New("redis: connection refused")})
	for range 50 {
		if _, err := svc.Click(t.Context(), rank.Client{Addr: "192.0.2.1"}, "JP"); err != nil {
			t.Fatalf("click with Redis down: %v, want admitted (fail open)", err)
		}
	}
	if n := len(logs.at(slog.LevelWarn)); n != 1 {
		t.Fatalf("%d WARN lines for 50 Redis failures within 10 s, want 1", n)
	}
	clk.Add(11 * time.Second)
	svc.Click(t.Context(), rank.Client{Addr: "192.0.2.1"}, "JP")
	lines := logs.at(slog.LevelWarn)
	if len(lines) != 2 || asInt(lines[1]["suppressed_errors"]) != 49 {
		t.Errorf("after 11 s on the service's clock: %v, want a 2nd line with suppressed_errors 49", lines)
	}
}
