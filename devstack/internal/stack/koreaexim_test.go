package stack_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/shopspring/decimal"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ratewire/ratewire/devstack/internal/stack"
	"github.com/ratewire/ratewire/ingestor/eximtest"
	"github.com/ratewire/ratewire/shared/event"
	"github.com/ratewire/ratewire/shared/kst"
)

// eximHolidays are the fake bank's holidays: Wed 23 - Fri 25 September
// 2026, a three-day holiday before a weekend, and the year-end closing.
var eximHolidays = []string{"2026-09-23", "2026-09-24", "2026-09-25", "2026-12-31", "2027-01-01"}

// rateBody is the part of GET /api/v1/currencies/{code} these tests read.
type rateBody struct {
	DealBaseRate decimal.Decimal  `json:"deal_base_rate"`
	TTS          *decimal.Decimal `json:"tts"`
	TTB          *decimal.Decimal `json:"ttb"`
	DisplayUnit  int              `json:"display_unit"`
	Source       string           `json:"source"`
	RecordedAt   time.Time        `json:"recorded_at"`
	RateDate     string           `json:"rate_date"`
	CarriedOver  bool             `json:"carried_over"`
	Version      int64            `json:"version"`
}

// runBody is one entry of GET /api/v1/ingest/runs.
type runBody struct {
	Trigger, Status, Error string
	Provider               string
	RateDate               string `json:"rate_date"`
}

// eximStack is a devstack on a fake clock whose only provider is a fake
// Korea Eximbank on the same clock.
type eximStack struct {
	addrs stack.Addrs
	clock *clockwork.FakeClock
	bank  *eximtest.Bank
	ctx   context.Context
}

// startEximStack starts the stack at instant now with a 14-day backfill and
// waits for the backfill to end; extra settings are added to the
// environment.
func startEximStack(t *testing.T, now time.Time, extra map[string]string) *eximStack {
	t.Helper()
	clk := clockwork.NewFakeClockAt(now)
	bank := eximtest.New("exim-key", clk.Now, eximHolidays...)
	srv := httptest.NewServer(bank)
	t.Cleanup(srv.Close)
	env := map[string]string{
		"RATEWIRE_PROVIDERS": "koreaexim", "RATEWIRE_KOREAEXIM_API_URL": srv.URL,
		"RATEWIRE_KOREAEXIM_API_KEY": "exim-key", "RATEWIRE_ADMIN_TOKEN": "tok",
	}
	for k, v := range extra {
		env[k] = v
	}
	c := stack.Config{DataDir: t.TempDir(), Host: "127.0.0.1", Getenv: func(k string) string { return env[k] },
		Out: &syncBuffer{}, Log: &syncBuffer{}, Clock: clk, BackfillDays: 14}
	addrs, backfilled := runStack(t, c)
	s := &eximStack{addrs: addrs, clock: clk, bank: bank, ctx: t.Context()}
	waitBackfill(t, backfilled)
	return s
}

func (s *eximStack) rate(t *testing.T, code string) (rateBody, int) {
	t.Helper()
	status, data := get(t, s.addrs.Currency+"/api/v1/currencies/"+code)
	var r rateBody
	_ = json.Unmarshal(data, &r)
	return r, status
}

func (s *eximStack) runs(t *testing.T) []runBody {
	t.Helper()
	_, data := get(t, s.addrs.Ingestor+"/api/v1/ingest/runs?limit=50")
	var body struct{ Runs []runBody }
	_ = json.Unmarshal(data, &body)
	return body.Runs
}

// adminRun asks the ingestor for a run now and returns its record.
func (s *eximStack) adminRun(t *testing.T) runBody {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.addrs.Ingestor+"/api/v1/ingest/run", nil)
	req.Header.Set("Authorization", "Bearer tok")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var env struct{ Data runBody }
	_ = json.NewDecoder(resp.Body).Decode(&env)
	return env.Data
}

// wantDay checks that every currency the bank quotes is served as the
// bank's rates of day, exact and per unit, with its spread (none invented)
// and its bank day, carried over when day is before today (KST).
func (s *eximStack) wantDay(t *testing.T, day string) {
	t.Helper()
	today := s.clock.Now().In(kst.Zone).Format(time.DateOnly)
	waitFor(t, 20*time.Second, "USD of "+day, func() bool {
		r, status := s.rate(t, "USD")
		return status == 200 && r.RateDate == day
	})
	for _, code := range eximtest.Codes {
		want := s.bank.Quote(day, code)
		var got rateBody
		waitFor(t, 20*time.Second, code+" of "+day, func() bool {
			var status int
			got, status = s.rate(t, code)
			return status == 200 && got.DealBaseRate.Equal(want.DealBaseRate)
		})
		if !eqDec(got.TTS, want.TTS) || !eqDec(got.TTB, want.TTB) || got.Source != "koreaexim" || got.RateDate != day ||
			got.CarriedOver != (day < today) || got.RecordedAt.After(s.clock.Now()) {
			t.Errorf("%s = %+v, want %s's %s tts %v ttb %v from koreaexim, carried over %v, recorded no later than %s",
				code, got, day, want.DealBaseRate, want.TTS, want.TTB, day < today, s.clock.Now())
		}
		if wantUnit := map[bool]int{true: 100, false: 1}[code == "JPY"]; got.DisplayUnit != wantUnit {
			t.Errorf("%s display unit %d, want %d", code, got.DisplayUnit, wantUnit)
		}
	}
	if _, status := s.rate(t, "KRW"); status != 404 {
		t.Errorf("KRW row stored as a rate (status %d)", status)
	}
}

// wantHistoryAgrees checks that history's newest observation and the
// newest daily close of USD both equal the currency API's USD rate.
func (s *eximStack) wantHistoryAgrees(t *testing.T) {
	t.Helper()
	var cur rateBody
	var last struct{ obs, daily decimal.Decimal }
	ok := func() bool {
		cur, _ = s.rate(t, "USD")
		var stats struct {
			Current    decimal.Decimal `json:"current"`
			DataPoints int             `json:"data_points"`
		}
		if status, data := get(t, s.addrs.History+"/api/v1/history/stats?target=USD&period=1w"); status != 200 || json.Unmarshal(data, &stats) != nil {
			return false
		}
		var series struct {
			Results []struct {
				Date time.Time       `json:"date"`
				Rate decimal.Decimal `json:"rate"`
			} `json:"results"`
		}
		if status, data := get(t, s.addrs.History+"/api/v1/history?target=USD&period=1m&interval=1d"); status != 200 ||
			json.Unmarshal(data, &series) != nil || len(series.Results) == 0 {
			return false
		}
		last.obs, last.daily = stats.Current, series.Results[len(series.Results)-1].Rate
		return stats.DataPoints > 0 && cur.DealBaseRate.Equal(last.obs) && cur.DealBaseRate.Equal(last.daily)
	}
	deadline := time.Now().Add(20 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("currency USD %s, history's newest observation %s, newest daily close %s: want all equal",
				cur.DealBaseRate, last.obs, last.daily)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestKoreaEximAtAnyHour is the Korea Eximbank acceptance path through the
// whole stack at fixed instants: a cold start serves the most recent day
// the bank published, with its spread, its bank day and whether it is
// carried over, every endpoint has data, and the run history says which
// day the rates came from.
func TestKoreaEximAtAnyHour(t *testing.T) {
	at := func(y int, m time.Month, d, h, min, s int) time.Time {
		return time.Date(y, m, d, h, min, s, 0, kst.Zone)
	}
	tests := []struct {
		name    string
		now     time.Time
		wantDay string
	}{
		{"Wednesday 00:30", at(2026, 11, 25, 0, 30, 0), "2026-11-24"},
		{"Wednesday 10:59", at(2026, 11, 25, 10, 59, 0), "2026-11-24"},
		{"Wednesday 11:01", at(2026, 11, 25, 11, 1, 0), "2026-11-25"},
		{"Wednesday 23:59", at(2026, 11, 25, 23, 59, 0), "2026-11-25"},
		{"Saturday", at(2026, 11, 28, 14, 0, 0), "2026-11-27"},
		{"Monday 09:00", at(2026, 11, 30, 9, 0, 0), "2026-11-27"},
		{"Monday 09:00 after a three-day holiday", at(2026, 9, 28, 9, 0, 0), "2026-09-22"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startEximStack(t, tt.now, nil)
			s.wantDay(t, tt.wantDay)
			s.wantHistoryAgrees(t)
			// The backfill may have served these rates before the start-up
			// run's record is committed: wait for the record.
			var startup *runBody
			waitFor(t, 20*time.Second, "the start-up run's record", func() bool {
				for _, r := range s.runs(t) {
					if r.Trigger == "startup" {
						startup = &r
					}
				}
				return startup != nil
			})
			if startup.Status != "success" || startup.RateDate != tt.wantDay {
				t.Errorf("start-up run %+v, want a success that stored %s", startup, tt.wantDay)
			}
			for _, path := range []string{"/api/v1/currencies/latest", "/api/v1/currencies/convert?from=USD&to=KRW&amount=100&rate_type=tts",
				"/api/v1/history/analysis?target=USD&period=1m", "/api/v1/rankings?period=daily"} {
				if status, data := get(t, s.addrs.Gateway+path); status != 200 {
					t.Errorf("GET %s = %d %s, want 200", path, status, data)
				}
			}
		})
	}
}

// TestKoreaEximYearEnd starts at 31 December 23:59:59 KST, a bank
// holiday, and lets the clock pass midnight into 1 January, another one:
// the hourly schedule (on the injected clock) runs at 00:00 and still
// serves 30 December's rates, carried over.
func TestKoreaEximYearEnd(t *testing.T) {
	s := startEximStack(t, time.Date(2026, 12, 31, 23, 59, 59, 0, kst.Zone), map[string]string{"RATEWIRE_INGEST_SCHEDULE": "0 * * * *"})
	s.wantDay(t, "2026-12-30")
	ctx, cancel := context.WithTimeout(s.ctx, 20*time.Second)
	defer cancel()
	if err := s.clock.BlockUntilContext(ctx, 2); err != nil { // the ingest and retention schedules wait
		t.Fatal(err)
	}
	s.clock.Advance(2 * time.Second)
	waitFor(t, 20*time.Second, "the scheduled run of 1 January 00:00", func() bool {
		for _, r := range s.runs(t) {
			if r.Trigger == "schedule" {
				if r.Status != "success" || r.RateDate != "2026-12-30" {
					t.Fatalf("scheduled run %+v, want a success that found 30 December", r)
				}
				return true
			}
		}
		return false
	})
	s.wantDay(t, "2026-12-30")
	s.wantHistoryAgrees(t)
	asked := s.bank.Asked()
	if n := len(asked); n < 3 || asked[n-3] != "2027-01-01" || asked[n-2] != "2026-12-31" || asked[n-1] != "2026-12-30" {
		t.Errorf("the bank was asked %v, want the run to end asking 2027-01-01, 2026-12-31, 2026-12-30", asked)
	}
}

// TestKoreaEximRevision: the bank revises the day's rates after 11:00; a
// run stores the revision as one keyed update, and the currency API, the
// history series and the daily close agree on it. A provider error (result
// 3 with HTTP 200) changes nothing and shows in the run history without
// the key.
func TestKoreaEximRevision(t *testing.T) {
	now := time.Date(2026, 11, 25, 14, 5, 0, 0, kst.Zone)
	s := startEximStack(t, now, nil)
	s.wantDay(t, "2026-11-25")
	s.wantHistoryAgrees(t)
	before := map[string]int64{}
	for _, code := range append(slices.Clone(eximtest.Codes), "CNY") { // CNY is served from the bank's CNH
		r, _ := s.rate(t, code)
		before[code] = r.Version
	}

	s.bank.SetResult(3)
	if r := s.adminRun(t); r.Status != "failed" || !strings.Contains(r.Error, "koreaexim") || strings.Contains(r.Error, "exim-key") {
		t.Errorf("run with result 3 = %+v, want a failed koreaexim run whose error does not leak the key", r)
	}
	if r, _ := s.rate(t, "USD"); r.Version != before["USD"] {
		t.Errorf("USD after a provider error = %+v, want version %d unchanged", r, before["USD"])
	}
	s.bank.SetResult(1)

	revised := s.bank.Quote("2026-11-25", "USD").DealBaseRate.Add(decimal.RequireFromString("2.235"))
	s.bank.Revise("2026-11-25", "USD", revised)
	if r := s.adminRun(t); r.Status != "success" || r.RateDate != "2026-11-25" {
		t.Errorf("revision run = %+v, want a success for 2026-11-25", r)
	}
	waitFor(t, 20*time.Second, "the revised USD", func() bool {
		r, _ := s.rate(t, "USD")
		return r.DealBaseRate.Equal(revised) && r.Version == before["USD"]+1 && r.RateDate == "2026-11-25"
	})
	s.wantHistoryAgrees(t)

	// Exactly one more update, keyed USD, with the contract headers; the
	// unchanged currencies publish nothing.
	cl, err := kgo.NewClient(kgo.SeedBrokers(s.addrs.Kafka...), kgo.ConsumeTopics(event.TopicExchangeRateUpdated),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	newer := map[string]int{}
	deadline := time.Now().Add(15 * time.Second)
	for quiet := false; !(newer["USD"] >= 1 && quiet) && time.Now().Before(deadline); {
		fctx, fcancel := context.WithTimeout(s.ctx, time.Second)
		fetches := cl.PollFetches(fctx)
		quiet = fetches.NumRecords() == 0 // read on until the topic has nothing more
		fetches.EachRecord(func(r *kgo.Record) {
			var ev event.ExchangeRateUpdated
			if err := json.Unmarshal(r.Value, &ev); err != nil {
				t.Errorf("undecodable update: %v", err)
				return
			}
			if ev.Version > before[string(r.Key)] {
				newer[string(r.Key)]++
				if ev.RateDate != "2026-11-25" || !ev.DealBaseRate.Equal(revised) {
					t.Errorf("update %+v, want the revised rate of 2026-11-25", ev)
				}
			}
			hs := map[string]string{}
			for _, h := range r.Headers {
				hs[h.Key] = string(h.Value)
			}
			for _, k := range []string{"event_id", "event_type", "schema_version", "correlation_id", "producer", "content-type"} {
				if hs[k] == "" {
					t.Errorf("%s update lacks header %s", r.Key, k)
				}
			}
		})
		fcancel()
	}
	if fmt.Sprint(newer) != fmt.Sprint(map[string]int{"USD": 1}) {
		t.Errorf("updates after the revision per key = %v, want one for USD", newer)
	}
}

func eqDec(a, b *decimal.Decimal) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Equal(*b)
}
