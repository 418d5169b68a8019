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
// quote more than 3 % from the other provider's is not stored (nor taken
// from that other provider), and the run (as stored and read back) says
// which, by how much and against whom; the reference is the other
// provider's answer in the same run, at no extra request.
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
		{Code: "MMK", Source: "exchangerate-api", Rate: "0.826", ReferenceSource: "frankfurter", Reference: "0.7", Deviation: "0.18"},
		{Code: "NGN", Source: "exchangerate-api", Rate: "1.09", ReferenceSource: "frankfurter", Reference: "1", Deviation: "0.09"},
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
	if a := runs[0].Attempts; len(a) != 2 || a[1].Provider != "frankfurter" || a[1].Outcome != "ok" || ref.calls != 1 {
		t.Errorf("attempts %+v (%d calls to frankfurter), want each provider asked once, as a source", a, ref.calls)
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

	// A negative bound turns the check off: the first provider's quotes
	// are published whatever the others say.
	primary2 := &fixed{name: "exchangerate-api", batch: quotes("exchangerate-api", "USD", "1466.1", "NGN", "1.3000")}
	ref2 := &fixed{name: "frankfurter", batch: quotes("frankfurter", "USD", "1471.7", "NGN", "1.0000")}
	svc, st = crossService(t, &now, -1, primary2, ref2)
	if run, err := svc.Run(context.Background(), "test"); err != nil || run.CrossCheck != nil || run.Rejected != 0 {
		t.Fatalf("run %+v (%v); want no cross-check", run, err)
	}
	if got := storedCodes(t, st); got["NGN"] != "1.3" {
		t.Errorf("stored %v, want exchangerate-api's NGN 1.3 unchecked", got)
	}
}

// TestCrossCheckReference: in a run where the other provider does not
// answer, its last answer (under an hour old) is the reference; older, or
// never given, the quotes are published unchecked with the reason
// recorded; the simulator is never a reference. A later provider's quote
// in the same run comes before a cached one.
func TestCrossCheckReference(t *testing.T) {
	now := at
	down := &provider.Error{Provider: "frankfurter", Kind: provider.Permanent, Status: 403, Err: errors.New("forbidden")}
	primary := &fixed{name: "exchangerate-api", batch: quotes("exchangerate-api", "USD", "1466.1", "NGN", "1.09")}
	ref := &fixed{name: "frankfurter", batch: quotes("frankfurter", "USD", "1471.7", "NGN", "1.00")}
	svc, st := crossService(t, &now, 0, primary, ref)
	for i, step := range []struct {
		after       time.Duration
		refDown     bool
		wantCompare int    // quotes compared
		wantSkipped bool   // no reference at all
		wantNGN     string // stored NGN after the run ("" = none)
	}{
		{0, false, 2, false, ""},                  // both answer: NGN 9 % off, withheld
		{59 * time.Minute, true, 2, false, ""},    // frankfurter down: its answer of 59 minutes ago still serves
		{61 * time.Minute, true, 0, true, "1.09"}, // an hour old: nothing to compare with, published unchecked
	} {
		now = at.Add(step.after)
		if step.refDown {
			ref.errs = []error{down}
		}
		run, err := svc.Run(context.Background(), "test")
		if err != nil || run.CrossCheck == nil || run.CrossCheck.Compared != step.wantCompare || (run.CrossCheck.Skipped != "") != step.wantSkipped {
			t.Fatalf("run %d (+%s): %+v (%v), want %d compared, skipped %v", i, step.after, run.CrossCheck, err, step.wantCompare, step.wantSkipped)
		}
		if !step.wantSkipped && run.CrossCheck.Reference != "frankfurter" {
			t.Errorf("run %d: reference %q, want frankfurter", i, run.CrossCheck.Reference)
		}
		if got := storedCodes(t, st); got["NGN"] != step.wantNGN || got["USD"] != "1466.1" {
			t.Errorf("run %d: stored %v, want USD 1466.1 and NGN %q", i, got, step.wantNGN)
		}
	}
	if ref.calls != 3 {
		t.Errorf("frankfurter asked %d times, want once a run (a Permanent failure is not retried)", ref.calls)
	}

	// Three providers: the quote's reference is the next one in this run
	// that quotes the currency, before any cached answer.
	third := &fixed{name: "koreaexim", batch: quotes("koreaexim", "NGN", "1.08")}
	svc, st = crossService(t, &now, 0, &fixed{name: "exchangerate-api", batch: quotes("exchangerate-api", "USD", "1466.1", "NGN", "1.09")},
		&fixed{name: "frankfurter", batch: quotes("frankfurter", "USD", "1471.7")}, third)
	run, err := svc.Run(context.Background(), "test")
	if err != nil || run.CrossCheck == nil || run.CrossCheck.Compared != 2 || len(run.CrossCheck.Rejected) != 0 ||
		run.CrossCheck.Reference != "frankfurter,koreaexim" {
		t.Fatalf("three providers: cross-check %+v (%v), want USD against frankfurter and NGN against koreaexim", run.CrossCheck, err)
	}
	if got := storedCodes(t, st); got["NGN"] != "1.09" {
		t.Errorf("stored %v, want exchangerate-api's NGN", got)
	}

	sim := &provider.Simulated{Now: func() time.Time { return now }}
	svc, _ = crossService(t, &now, 0, &fixed{name: "exchangerate-api", batch: quotes("exchangerate-api", "USD", "1466.1")}, sim)
	if run, err := svc.Run(context.Background(), "test"); err != nil || run.CrossCheck != nil {
		t.Fatalf("run %+v (%v), want no cross-check against the simulator", run, err)
	}
}
