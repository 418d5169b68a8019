package ingest_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"github.com/shopspring/decimal"

	"github.com/ratewire/ratewire/ingestor/internal/ingest"
	"github.com/ratewire/ratewire/ingestor/internal/provider"
	"github.com/ratewire/ratewire/ingestor/internal/rate"
	"github.com/ratewire/ratewire/ingestor/internal/store"
	"github.com/ratewire/ratewire/shared/event"
	"github.com/ratewire/ratewire/shared/kst"
	"github.com/ratewire/ratewire/shared/logx"
	"github.com/ratewire/ratewire/shared/testinfra"
)

var at = time.Date(2026, 11, 22, 2, 0, 0, 0, time.UTC)

func d(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// fakePublisher records what it published and can be switched off, as a
// Kafka outage would.
type fakePublisher struct {
	mu   sync.Mutex
	msgs []kafka.Message
	down bool
}

func (p *fakePublisher) Publish(_ context.Context, msgs ...kafka.Message) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down {
		return errors.New("kafka: all brokers unreachable")
	}
	p.msgs = append(p.msgs, msgs...)
	return nil
}

type fixed struct {
	name  string
	batch rate.Batch
	errs  []error // returned in turn before the batch
	calls int
}

func (f *fixed) Name() string { return f.name }
func (f *fixed) Fetch(context.Context) (rate.Batch, error) {
	f.calls++
	if len(f.errs) > 0 {
		err := f.errs[0]
		f.errs = f.errs[1:]
		return rate.Batch{}, err
	}
	return f.batch, nil
}

type harness struct {
	svc    *ingest.Service
	st     *store.Store
	relay  *ingest.Relay
	pub    *fakePublisher
	reg    *prometheus.Registry
	sleeps *[]time.Duration // every wait between attempts, in order
}

func newHarness(t *testing.T, ps ...provider.Provider) harness {
	t.Helper()
	st := store.New(testinfra.OpenDB(t, testinfra.SQLiteURL(t)))
	if err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	pub := &fakePublisher{}
	relay, err := ingest.NewRelay(st, pub, logx.Discard(), reg, func() time.Time { return at })
	if err != nil {
		t.Fatal(err)
	}
	var sleeps []time.Duration
	svc, err := ingest.New(ingest.Config{Providers: ps, Store: st, Logger: logx.Discard(), Registry: reg,
		Now:   func() time.Time { return at },
		Sleep: func(_ context.Context, d time.Duration) error { sleeps = append(sleeps, d); return nil }})
	if err != nil {
		t.Fatal(err)
	}
	return harness{svc: svc, st: st, relay: relay, pub: pub, reg: reg, sleeps: &sleeps}
}

func TestRunCommitsEventsToTheOutboxAndTheRelayPublishesThemInOrder(t *testing.T) {
	h := newHarness(t, &provider.Simulated{Now: func() time.Time { return at }})
	ctx := context.Background()
	run, err := h.svc.Run(ctx, "test")
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	// The simulator quotes the yuan as CNH only: CNY is stored beside it.
	fetched := len(provider.SimulatedQuotes(at))
	n := fetched + 1
	if run.Status != ingest.StatusSuccess || run.Provider != "simulated" || run.Fetched != fetched || run.Changed != n || run.Events != n+3 {
		t.Fatalf("run = %+v, want success from simulated with %d fetched, %d changed (CNY added), %d events", run, fetched, n, n+3)
	}
	pending, _ := h.st.PendingOutbox(ctx, 1000)
	if len(pending) != n+3 {
		t.Fatalf("%d events in the outbox, want %d", len(pending), n+3)
	}

	// Kafka is down: the relay fails and the events wait.
	h.pub.down = true
	if err := h.relay.Drain(ctx); err == nil {
		t.Fatal("Drain succeeded with Kafka down")
	}
	if p, _ := h.st.PendingOutbox(ctx, 1000); len(p) != n+3 {
		t.Fatalf("%d events pending after a failed publish, want all %d", len(p), n+3)
	}
	// Kafka is back: everything goes out, in order, with its headers.
	h.pub.down = false
	if err := h.relay.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if len(h.pub.msgs) != n+3 {
		t.Fatalf("published %d, want %d", len(h.pub.msgs), n+3)
	}
	topics := []string{h.pub.msgs[0].Topic, h.pub.msgs[n+1].Topic, h.pub.msgs[n+2].Topic}
	if topics[0] != event.TopicNewDataReceived || topics[1] != event.TopicCacheInvalidation || topics[2] != event.TopicDataProcessingCompleted {
		t.Errorf("order = %v, want new_data_received ... cache_invalidation, data_processing_completed", topics)
	}
	for _, m := range h.pub.msgs {
		if event.Header(m, event.HeaderCorrelationID) != run.ID || event.Header(m, event.HeaderProducer) != "ingestor" {
			t.Errorf("%s headers = %v", m.Topic, m.Headers)
		}
		if _, err := event.Decode(m.Topic, m.Value); err != nil {
			t.Errorf("%s does not decode: %v", m.Topic, err)
		}
	}
	if p, _ := h.st.PendingOutbox(ctx, 10); len(p) != 0 {
		t.Errorf("%d events still pending after publishing", len(p))
	}

	// Unchanged rates: no exchange_rate_updated, only the three run events.
	run, err = h.svc.Run(ctx, "test")
	if err != nil || run.Changed != 0 || run.Events != 3 {
		t.Fatalf("repeat run = %+v (%v), want 0 changed and 3 events", run, err)
	}
	runs, _ := h.svc.Runs(ctx, 10)
	if len(runs) != 2 || runs[0].Status != ingest.StatusSuccess {
		t.Errorf("runs = %+v, want 2 successes", runs)
	}
}

func TestFailoverRetriesAndValidation(t *testing.T) {
	down := errors.New("connection refused") // unclassified: Temporary
	bad := &provider.Error{Provider: "exchangerate-api", Kind: provider.Permanent, Status: 403, Err: errors.New("invalid key")}
	first := &fixed{name: "exchangerate-api", errs: []error{bad}}
	second := &fixed{name: "koreaexim", errs: []error{down, down}, batch: rate.Batch{Source: "koreaexim", FetchedAt: at, Quotes: []rate.Quote{
		{Code: "USD", Name: "미국 달러", DealBaseRate: d("1398.4"), TTS: ptr("1412.38"), TTB: ptr("1384.42"), RecordedAt: at},
		{Code: "EUR", Name: "유로", DealBaseRate: d("-1"), RecordedAt: at},
		{Code: "JPY", Name: "일본 옌", DealBaseRate: d("9.1"), TTS: ptr("9.0"), RecordedAt: at}, // spread inverted
		{Code: "GBP", Name: "영국 파운드", DealBaseRate: d("99999999"), RecordedAt: at},
	}}}
	h := newHarness(t, first, second)
	run, err := h.svc.Run(context.Background(), "test")
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if first.calls != 1 || second.calls != 3 || run.Provider != "koreaexim" || run.Rejected != 3 || run.Changed != 1 || len(run.Attempts) != 4 {
		t.Fatalf("calls %d/%d, run %+v; want 1 call to the permanently failing provider, 3 to the flaky one, 3 rejected", first.calls, second.calls, run)
	}
	latest, _ := h.st.Latest(context.Background())
	if len(latest) != 1 || latest[0].CurrencyCode != "USD" || !latest[0].TTS.Equal(d("1412.38")) {
		t.Errorf("stored %+v, want only USD with its real spread", latest)
	}

	// An implausible jump against the stored rate is rejected.
	second.batch.Quotes = []rate.Quote{{Code: "USD", Name: "미국 달러", DealBaseRate: d("1900"), RecordedAt: at.Add(time.Minute)}}
	first.errs = []error{bad}
	run, err = h.svc.Run(context.Background(), "test")
	if err == nil || run.Status != ingest.StatusFailed || run.Rejected != 1 || !strings.Contains(run.Error, "no usable rate") {
		t.Fatalf("jump run = %+v (%v), want a failed run with 1 rejected", run, err)
	}
	if latest, _ := h.st.Latest(context.Background()); !latest[0].DealBaseRate.Equal(d("1398.4")) {
		t.Errorf("USD = %s after the rejected jump, want 1398.4", latest[0].DealBaseRate)
	}
}

func TestNoDataAndProviderErrorsChangeNothingAndAreRecorded(t *testing.T) {
	weekend := &provider.Error{Provider: "koreaexim", Kind: provider.NoData, Err: fmt.Errorf("weekend: %w", provider.ErrNoData)}
	exim := &fixed{name: "koreaexim", errs: []error{weekend}}
	h := newHarness(t, exim)
	run, err := h.svc.Run(context.Background(), "schedule")
	if err != nil || run.Status != ingest.StatusNoData || exim.calls != 1 {
		t.Fatalf("no-data run = %+v (%v), want no_data after 1 call", run, err)
	}
	broken := &fixed{name: "frankfurter", errs: []error{errors.New("500"), errors.New("500"), errors.New("500")}}
	h2 := newHarness(t, broken)
	run, err = h2.svc.Run(context.Background(), "schedule")
	if err == nil || run.Status != ingest.StatusFailed || broken.calls != 3 {
		t.Fatalf("failed run = %+v (%v), want failed after 3 attempts", run, err)
	}
	runs, _ := h2.svc.Runs(context.Background(), 5)
	if len(runs) != 1 || runs[0].Status != ingest.StatusFailed || !strings.Contains(runs[0].Error, "3 attempts") || len(runs[0].Attempts) != 3 {
		t.Errorf("recorded runs = %+v, want the failure with its 3 attempts", runs)
	}
	if l, _ := h2.st.Latest(context.Background()); len(l) != 0 {
		t.Errorf("a failed run stored %d rates", len(l))
	}
	if p, _ := h2.st.PendingOutbox(context.Background(), 10); len(p) != 0 {
		t.Errorf("a failed run queued %d events", len(p))
	}
}

func ptr(s string) *decimal.Decimal { v := d(s); return &v }

// TestProviderFailuresFollowTheirClassification drives one provider
// through each kind of failure provider.Classify reports and checks how
// many times it is asked, how long the run waits between attempts and how
// the run ends (README, Ingestion).
func TestProviderFailuresFollowTheirClassification(t *testing.T) {
	ok := rate.Batch{Source: "p", FetchedAt: at, Quotes: []rate.Quote{{Code: "USD", Name: "미국 달러", DealBaseRate: d("1398.4"), RecordedAt: at}}}
	limited := func(after time.Duration) error {
		return &provider.Error{Provider: "p", Kind: provider.RateLimited, Status: 429, RetryAfter: after, Err: errors.New("too many requests")}
	}
	unavailable := &provider.Error{Provider: "p", Kind: provider.Temporary, Status: 503, RetryAfter: 20 * time.Second, Err: errors.New("server error")}
	for _, tc := range []struct {
		name       string
		errs       []error
		empty      bool // the provider answers, without rates
		wantCalls  int
		wantSleeps []time.Duration
		wantStatus string
		wantErr    string // in the run's error
	}{
		{"temporary twice, then rates", []error{errors.New("reset"), errors.New("reset")}, false, 3,
			[]time.Duration{500 * time.Millisecond, time.Second}, ingest.StatusSuccess, ""},
		{"a 503's Retry-After is not waited for", []error{unavailable}, false, 2,
			[]time.Duration{500 * time.Millisecond}, ingest.StatusSuccess, ""},
		{"temporary three times", []error{errors.New("reset"), errors.New("reset"), errors.New("reset")}, false, 3,
			[]time.Duration{500 * time.Millisecond, time.Second}, ingest.StatusFailed, "3 attempts"},
		{"429 with a short Retry-After is honoured", []error{limited(20 * time.Second)}, false, 2,
			[]time.Duration{20 * time.Second}, ingest.StatusSuccess, ""},
		{"429 with a Retry-After under the backoff waits the backoff", []error{limited(100 * time.Millisecond)}, false, 2,
			[]time.Duration{500 * time.Millisecond}, ingest.StatusSuccess, ""},
		{"429 with a long Retry-After moves on", []error{limited(31 * time.Second)}, false, 1, nil,
			ingest.StatusFailed, "rate limited for 31s"},
		{"a quota without a reset time moves on", []error{limited(0)}, false, 1, nil, ingest.StatusFailed, "rate_limited"},
		{"a bad key moves on at once", []error{&provider.Error{Provider: "p", Kind: provider.Permanent, Status: 401, Err: errors.New("invalid key")}},
			false, 1, nil, ingest.StatusFailed, "permanent"},
		{"a cancelled request moves on at once", []error{context.Canceled}, false, 1, nil, ingest.StatusFailed, "canceled"},
		{"no data published", []error{fmt.Errorf("searchdate: %w", provider.ErrNoData)}, false, 1, nil, ingest.StatusNoData, ""},
		{"an answer without rates is no data", nil, true, 1, nil, ingest.StatusNoData, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &fixed{name: "p", errs: tc.errs, batch: ok}
			if tc.empty {
				p.batch = rate.Batch{Source: "p", FetchedAt: at}
			}
			h := newHarness(t, p)
			run, err := h.svc.Run(context.Background(), "test")
			if run.Status != tc.wantStatus || (err != nil) != (tc.wantStatus == ingest.StatusFailed) {
				t.Fatalf("run = %+v (%v), want status %s", run, err, tc.wantStatus)
			}
			if !strings.Contains(run.Error, tc.wantErr) {
				t.Errorf("run error %q, want it to mention %q", run.Error, tc.wantErr)
			}
			if p.calls != tc.wantCalls || len(run.Attempts) != tc.wantCalls {
				t.Errorf("%d calls and %d recorded attempts, want %d", p.calls, len(run.Attempts), tc.wantCalls)
			}
			if fmt.Sprint(*h.sleeps) != fmt.Sprint(tc.wantSleeps) {
				t.Errorf("waited %v, want %v", *h.sleeps, tc.wantSleeps)
			}
			if tc.wantStatus == ingest.StatusNoData && run.Attempts[len(run.Attempts)-1].Outcome != "no_data" {
				t.Errorf("attempts %+v, want the last one no_data", run.Attempts)
			}
		})
	}
}

// TestEventsCarryTheStoredRates: each changed rate is published as it was
// stored, with its cache key.
func TestEventsCarryTheStoredRates(t *testing.T) {
	tts := d("1412.38")
	l := event.Rate{CurrencyCode: "USD", CurrencyName: "미국 달러", DealBaseRate: d("1398.4"), TTS: &tts, Source: "koreaexim",
		RecordedAt: at, RateDate: "2026-11-22", UpdatedAt: at.Add(time.Second), Version: 7}
	evs := ingest.Events(rate.Batch{Source: "koreaexim", FetchedAt: at}, []event.Rate{l}, nil, "run-1", at, at.Add(time.Second))
	if len(evs) != 4 {
		t.Fatalf("%d events, want 4", len(evs))
	}
	up, ok := evs[1].(*event.ExchangeRateUpdated)
	if !ok || up.Rate.CurrencyCode != "USD" || up.Version != 7 || up.RateDate != "2026-11-22" || !up.TTS.Equal(tts) || up.TTB != nil ||
		up.CorrelationID != "run-1" {
		t.Errorf("second event = %#v, want USD v7 of 2026-11-22 as stored, correlated to run-1", evs[1])
	}
	inv, ok := evs[2].(*event.CacheInvalidation)
	if !ok || len(inv.CacheKeys) != 1 || inv.CacheKeys[0] != event.RateCacheKey("USD") {
		t.Errorf("third event = %#v, want cache_invalidation of %s", evs[2], event.RateCacheKey("USD"))
	}
}

// TestYuanTwins runs a provider that quotes the yuan as CNH only, then one
// that quotes both codes: the first stores CNY from CNH, saying so; the
// second stores each code as quoted, with no quoted_as.
func TestYuanTwins(t *testing.T) {
	quote := func(code, mid string) rate.Quote {
		return rate.Quote{Code: code, Name: code, DealBaseRate: d(mid), RecordedAt: at}
	}
	for _, tc := range []struct {
		name   string
		quotes []rate.Quote
		want   map[string][2]string // code -> mid, quoted_as
	}{
		{"CNH only", []rate.Quote{quote("CNH", "192.5")}, map[string][2]string{"CNH": {"192.5", ""}, "CNY": {"192.5", "CNH"}}},
		{"both", []rate.Quote{quote("CNH", "192.5"), quote("CNY", "193.1")}, map[string][2]string{"CNH": {"192.5", ""}, "CNY": {"193.1", ""}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, &fixed{name: "bank", batch: rate.Batch{Source: "bank", FetchedAt: at, Quotes: tc.quotes}})
			if run, err := h.svc.Run(context.Background(), "test"); err != nil || run.Changed != 2 {
				t.Fatalf("run = %+v (%v), want both codes stored", run, err)
			}
			latest, err := h.st.Latest(context.Background())
			if err != nil || len(latest) != 2 {
				t.Fatalf("latest = %+v (%v), want CNH and CNY", latest, err)
			}
			for _, l := range latest {
				w := tc.want[l.CurrencyCode]
				if !l.DealBaseRate.Equal(d(w[0])) || l.QuotedAs != w[1] {
					t.Errorf("%s: expected %s quoted as %q, got %s quoted as %q", l.CurrencyCode, w[0], w[1], l.DealBaseRate, l.QuotedAs)
				}
			}
		})
	}
}

// TestRateLimitedProviderIsLeftOutUntilItsBlockEnds: a 429 whose wait is
// longer than a run waits (ExchangeRate-API's 20 minutes) moves on to the
// next provider and keeps the limited one out of later runs until the
// block has passed; then it is asked again and is first again.
func TestRateLimitedProviderIsLeftOutUntilItsBlockEnds(t *testing.T) {
	now := at
	ok := func(src string) rate.Batch {
		return rate.Batch{Source: src, FetchedAt: at, Quotes: []rate.Quote{{Code: "USD", Name: "미국 달러", DealBaseRate: d("1398.4"), RecordedAt: at}}}
	}
	limited := &fixed{name: "exchangerate-api", batch: ok("exchangerate-api"), errs: []error{
		&provider.Error{Provider: "exchangerate-api", Kind: provider.RateLimited, Status: 429, RetryAfter: provider.ExchangeRateAPIBlock, Err: errors.New("too many requests")},
	}}
	next := &fixed{name: "frankfurter", batch: ok("frankfurter")}
	st := store.New(testinfra.OpenDB(t, testinfra.SQLiteURL(t)))
	if err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	svc, err := ingest.New(ingest.Config{Providers: []provider.Provider{limited, next}, Store: st, Logger: logx.Discard(),
		Registry: prometheus.NewRegistry(), Now: func() time.Time { return now },
		Sleep: func(context.Context, time.Duration) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	for i, step := range []struct {
		after        time.Duration // since the 429
		wantProvider string
		wantCalls    int // calls to the limited provider so far
		wantSkipped  bool
	}{
		{0, "frankfurter", 1, false},
		{5 * time.Minute, "frankfurter", 1, true},
		{19*time.Minute + 59*time.Second, "frankfurter", 1, true},
		{20 * time.Minute, "exchangerate-api", 2, false},
	} {
		now = at.Add(step.after)
		run, err := svc.Run(context.Background(), "schedule")
		if err != nil || run.Provider != step.wantProvider {
			t.Fatalf("run %d (+%s): %+v (%v), want rates from %s", i, step.after, run, err, step.wantProvider)
		}
		if limited.calls != step.wantCalls {
			t.Errorf("run %d (+%s): limited provider called %d times, want %d", i, step.after, limited.calls, step.wantCalls)
		}
		skipped := run.Attempts[0].Outcome == "skipped"
		if skipped != step.wantSkipped || (skipped && run.Attempts[0].Reason != ingest.ReasonRateLimited) {
			t.Errorf("run %d (+%s): first attempt %+v, want skipped %v (rate limited)", i, step.after, run.Attempts[0], step.wantSkipped)
		}
	}
}

// TestRetiredCurrenciesAreRejectedWithAReason runs an old Korea Eximbank
// body, served in the bank's real format, that lists the euro's
// predecessors: only active ISO 4217 codes are stored (XOF, the CFA franc,
// is active), and every other row is rejected with a logged reason.
func TestRetiredCurrenciesAreRejectedWithAReason(t *testing.T) {
	body, err := os.ReadFile(filepath.Join("..", "provider", "testdata", "koreaexim-1999.json"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=UTF-8")
		w.Write(body)
	}))
	defer srv.Close()
	now := time.Date(1999, 1, 4, 14, 0, 0, 0, kst.Zone) // a Monday, after publication
	var logs bytes.Buffer
	st := store.New(testinfra.OpenDB(t, testinfra.SQLiteURL(t)))
	if err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	p := &provider.KoreaExim{Key: "k", BaseURL: srv.URL, Now: func() time.Time { return now }}
	svc, err := ingest.New(ingest.Config{Providers: []provider.Provider{p}, Store: st,
		Logger: slog.New(slog.NewJSONHandler(&logs, nil)), Registry: prometheus.NewRegistry(),
		Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	run, err := svc.Run(context.Background(), "test")
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	retired := []string{"ATS", "BEF", "DEM", "ESP", "FIM", "FRF", "ITL", "NLG"}
	if run.Fetched != 11 || run.Rejected != len(retired) {
		t.Errorf("run fetched %d and rejected %d, want 11 rows besides KRW and %d retired rejected", run.Fetched, run.Rejected, len(retired))
	}
	latest, _ := st.Latest(context.Background())
	var stored []string
	for _, r := range latest {
		stored = append(stored, r.CurrencyCode)
	}
	if fmt.Sprint(stored) != "[JPY USD XOF]" {
		t.Errorf("stored %v, want [JPY USD XOF]", stored)
	}
	for _, code := range retired {
		want := `"currency_code":"` + code + `","reason":"not an active ISO 4217 currency code (retired or unknown)"`
		if !strings.Contains(logs.String(), want) {
			t.Errorf("no rejection logged for %s (want %s)", code, want)
		}
	}
}
