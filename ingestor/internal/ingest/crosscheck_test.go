package ingest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ratewire/ratewire/ingestor/internal/ingest"
	"github.com/ratewire/ratewire/ingestor/internal/provider"
	"github.com/ratewire/ratewire/ingestor/internal/rate"
	"github.com/ratewire/ratewire/ingestor/internal/store"
	"github.com/ratewire/ratewire/shared/logx"
	"github.com/ratewire/ratewire/shared/testinfra"
)

// quotes builds a batch of mid rates from code/rate pairs.
func quotes(src string, pairs ...string) rate.Batch {
	b := rate.Batch{Source: src, FetchedAt: at}
	for i := 0; i+1 < len(pairs); i += 2 {
		b.Quotes = append(b.Quotes, rate.Quote{Code: pairs[i], Name: pairs[i], DealBaseRate: d(pairs[i+1]), RecordedAt: at})
	}
	return b
}

// crossService builds a service over a fresh store with a movable clock.
func crossService(t *testing.T, now *time.Time, maxDev float64, ps ...provider.Provider) (*ingest.Service, *store.Store) {
	t.Helper()
	st := store.New(testinfra.OpenDB(t, testinfra.SQLiteURL(t)))
	if err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	svc, err := ingest.New(ingest.Config{Providers: ps, Store: st, Logger: logx.Discard(), Registry: prometheus.NewRegistry(),
		Now: func() time.Time { return *now }, Sleep: func(context.Context, time.Duration) error { return nil },
		CrossCheckMaxDeviation: maxDev})
	if err != nil {
		t.Fatal(err)
	}
	return svc, st
}

func storedCodes(t *testing.T, st *store.Store) map[string]string {
	t.Helper()
	latest, err := st.Latest(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, r := range latest {
		out[r.CurrencyCode] = r.DealBaseRate.String()
	}
	return out
}

// TestCrossCheckKeepsOutliersFromPublication: with two real providers, a
// quote more than 3 % from the other provider's is not stored, and the run
// (as stored and read back) says which, by how much and against whom.
func TestCrossCheckKeepsOutliersFromPublication(t *testing.T) {
	now := at
	// ExchangeRate-API's NGN 9 % and MMK 18 % off, as real tables were.
	primary := &fixed{name: "exchangerate-api", batch: quotes("exchangerate-api", "USD", "1466.1", "NGN", "1.0900", "MMK", "0.8260", "JPY", "9.3457")}
	ref := &fixed{name: "frankfurter", batch: quotes("frankfurter", "USD", "1471.7", "NGN", "1.0000", "MMK", "0.7000")}
	svc, st := crossService(t, &now, 0, primary, ref)
	run, err := svc.Run(context.Background(), "test")
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	got := storedCodes(t, st)
	if len(got) != 2 || got["USD"] != "1466.1" || got["JPY"] != "9.3457" {
		t.Errorf("stored %v, want USD (0.38 %% from the reference) and JPY (not quoted by it) only", got)
	}
	if run.Rejected != 2 || run.Provider != "exchangerate-api" {
		t.Errorf("run %+v, want 2 rejected from exchangerate-api", run)
	}
	runs, err := st.Runs(context.Background(), 1)
	if err != nil || len(runs) != 1 {
		t.Fatalf("runs: %v %v", runs, err)
	}
	cc := runs[0].CrossCheck
	if cc == nil || cc.Reference != "frankfurter" || cc.MaxDeviation != "0.03" || cc.Compared != 3 || len(cc.Rejected) != 2 {
		t.Fatalf("stored cross-check %+v, want frankfurter, 0.03, 3 compared, 2 rejected", cc)
	}
	want := []store.CrossRejection{
		{Code: "MMK", Rate: "0.826", Reference: "0.7", Deviation: "0.18"},
		{Code: "NGN", Rate: "1.09", Reference: "1", Deviation: "0.09"},
	}
	for _, w := range want {
		found := false
		for _, r := range cc.Rejected {
			found = found || r == w
		}
		if !found {
			t.Errorf("cross-check rejections %+v lack %+v", cc.Rejected, w)
		}
	}
	if last := runs[0].Attempts[len(runs[0].Attempts)-1]; last.Provider != "frankfurter" || last.Outcome != "reference" {
		t.Errorf("attempts %+v, want the reference's fetch recorded last", runs[0].Attempts)
	}
}

func TestCrossCheckBoundIsConfigurable(t *testing.T) {
	now := at
	primary := &fixed{name: "exchangerate-api", batch: quotes("exchangerate-api", "USD", "1466.1", "NGN", "1.0900")}
	ref := &fixed{name: "frankfurter", batch: quotes("frankfurter", "USD", "1471.7", "NGN", "1.0000")}
	svc, st := crossService(t, &now, 0.10, primary, ref)
	if run, err := svc.Run(context.Background(), "test"); err != nil || run.Rejected != 0 || run.CrossCheck.MaxDeviation != "0.1" {
		t.Fatalf("run %+v (%v), want nothing rejected under a 10 %% bound", run, err)
	}
	if got := storedCodes(t, st); len(got) != 2 {
		t.Errorf("stored %v, want USD and NGN", got)
	}

	// A negative bound turns the check off: the reference is not asked.
	primary2 := &fixed{name: "exchangerate-api", batch: quotes("exchangerate-api", "USD", "1466.1", "NGN", "1.0900")}
	ref2 := &fixed{name: "frankfurter", batch: quotes("frankfurter", "USD", "1471.7", "NGN", "1.0000")}
	svc, _ = crossService(t, &now, -1, primary2, ref2)
	if run, err := svc.Run(context.Background(), "test"); err != nil || run.CrossCheck != nil || ref2.calls != 0 {
		t.Fatalf("run %+v (%v), %d reference calls; want no cross-check", run, err, ref2.calls)
	}
}

// TestCrossCheckReference: the reference is cached for an hour, a failing
// one leaves the quotes unchecked with the reason recorded, and the
// simulator is never a reference.
func TestCrossCheckReference(t *testing.T) {
	now := at
	primary := &fixed{name: "exchangerate-api", batch: quotes("exchangerate-api", "USD", "1466.1")}
	ref := &fixed{name: "frankfurter", batch: quotes("frankfurter", "USD", "1471.7")}
	svc, _ := crossService(t, &now, 0, primary, ref)
	for i, step := range []struct {
		after     time.Duration
		wantCalls int
	}{{0, 1}, {59 * time.Minute, 1}, {61 * time.Minute, 2}} {
		now = at.Add(step.after)
		run, err := svc.Run(context.Background(), "test")
		if err != nil || run.CrossCheck == nil || run.CrossCheck.Compared != 1 {
			t.Fatalf("run %d: %+v (%v), want USD compared", i, run, err)
		}
		if ref.calls != step.wantCalls {
			t.Errorf("run %d (+%s): reference asked %d times, want %d", i, step.after, ref.calls, step.wantCalls)
		}
	}

	failing := &fixed{name: "frankfurter", errs: []error{&provider.Error{Provider: "frankfurter", Kind: provider.Temporary, Status: 502, Err: errors.New("bad gateway")}}}
	svc, st := crossService(t, &now, 0, &fixed{name: "exchangerate-api", batch: quotes("exchangerate-api", "USD", "1466.1")}, failing)
	run, err := svc.Run(context.Background(), "test")
	if err != nil || run.CrossCheck == nil || run.CrossCheck.Skipped == "" || run.CrossCheck.Compared != 0 {
		t.Fatalf("run %+v (%v), want the check skipped with its reason", run, err)
	}
	if failing.calls != 1 {
		t.Errorf("failing reference asked %d times, want once (no retries for a reference)", failing.calls)
	}
	if last := run.Attempts[len(run.Attempts)-1]; last.Outcome != "reference_failed" || last.Reason != ingest.ReasonProviderError {
		t.Errorf("last attempt %+v, want reference_failed: provider error", last)
	}
	if got := storedCodes(t, st); got["USD"] != "1466.1" {
		t.Errorf("stored %v, want USD published unchecked", got)
	}

	sim := &provider.Simulated{Now: func() time.Time { return now }}
	svc, _ = crossService(t, &now, 0, &fixed{name: "exchangerate-api", batch: quotes("exchangerate-api", "USD", "1466.1")}, sim)
	if run, err := svc.Run(context.Background(), "test"); err != nil || run.CrossCheck != nil {
		t.Fatalf("run %+v (%v), want no cross-check against the simulator", run, err)
	}
}
