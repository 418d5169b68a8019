package ingest_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/shopspring/decimal"

	"github.com/ratewire/ratewire/ingestor/internal/ingest"
	"github.com/ratewire/ratewire/ingestor/internal/provider"
	"github.com/ratewire/ratewire/ingestor/internal/rate"
	"github.com/ratewire/ratewire/ingestor/internal/store"
	"github.com/ratewire/ratewire/shared/event"
	"github.com/ratewire/ratewire/shared/logx"
	"github.com/ratewire/ratewire/shared/testinfra"
)

type recorder struct {
	mu     sync.Mutex
	events []event.Event
	fail   error
}

func (r *recorder) Publish(_ context.Context, evs ...event.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	r.events = append(r.events, evs...)
	return nil
}

type fixed struct {
	name  string
	batch rate.Batch
	err   error
	calls int
}

func (f *fixed) Name() string { return f.name }
func (f *fixed) Fetch(context.Context) (rate.Batch, error) {
	f.calls++
	return f.batch, f.err
}

func newService(t *testing.T, pub ingest.Publisher, now func() time.Time, ps ...provider.Provider) (*ingest.Service, *store.Store, *prometheus.Registry) {
	t.Helper()
	st := store.New(testinfra.OpenDB(t, testinfra.SQLiteURL(t)))
	if err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	svc, err := ingest.New(ingest.Config{Providers: ps, Store: st, Publisher: pub, Logger: logx.Discard(), Registry: reg, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return svc, st, reg
}

func TestRunPublishesTheFourTopicsInOrder(t *testing.T) {
	at := time.Date(2026, 11, 22, 2, 0, 0, 0, time.UTC)
	clock := at
	now := func() time.Time { return clock }
	pub := &recorder{}
	svc, _, reg := newService(t, pub, now, &provider.Simulated{Now: now})

	sum, err := svc.Run(context.Background(), "test")
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	n := len(provider.SimulatedQuotes(at))
	if sum.Status != ingest.StatusSuccess || sum.Source != "simulated" || sum.Fetched != n || sum.Changed != n || sum.Published != n+3 {
		t.Fatalf("summary = %+v, want success from simulated with %d fetched and changed, %d published", sum, n, n+3)
	}
	if len(pub.events) != n+3 {
		t.Fatalf("published %d events, want %d", len(pub.events), n+3)
	}
	first, last := pub.events[0], pub.events[len(pub.events)-1]
	if first.Topic() != event.TopicNewDataReceived || last.Topic() != event.TopicDataProcessingCompleted ||
		pub.events[len(pub.events)-2].Topic() != event.TopicCacheInvalidation {
		t.Errorf("order: first %s, last two %s %s", first.Topic(), pub.events[len(pub.events)-2].Topic(), last.Topic())
	}
	for _, e := range pub.events {
		m := event.MetaOf(e)
		if m.CorrelationID != sum.RunID || m.EventID == "" {
			t.Errorf("%s: correlation %q event %q, want the run id %q and an event id", e.Topic(), m.CorrelationID, m.EventID, sum.RunID)
		}
		if u, ok := e.(*event.ExchangeRateUpdated); ok && (u.Version != 1 || u.Source != "simulated") {
			t.Errorf("%s update: version %d source %s", u.CurrencyCode, u.Version, u.Source)
		}
	}
	inv := pub.events[len(pub.events)-2].(*event.CacheInvalidation)
	if len(inv.CacheKeys) != n || !strings.HasPrefix(inv.CacheKeys[0], "exchange_rate:") {
		t.Errorf("invalidation keys = %v, want %d exchange_rate:* keys", inv.CacheKeys, n)
	}

	// The same instant again: nothing changed, so no exchange_rate_updated.
	pub.events = nil
	sum, err = svc.Run(context.Background(), "test")
	if err != nil || sum.Changed != 0 || len(pub.events) != 3 {
		t.Fatalf("repeat run: %+v, %d events (%v); want 0 changed and 3 events", sum, len(pub.events), err)
	}
	if got := successRuns(t, reg); got != 2 {
		t.Errorf("ratewire_ingest_runs_total{outcome=success} = %v, want 2", got)
	}
}

// successRuns reads ratewire_ingest_runs_total{outcome="success"}.
func successRuns(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "ratewire_ingest_runs_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if m.GetLabel()[0].GetValue() == ingest.StatusSuccess {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func TestFailoverAndValidation(t *testing.T) {
	at := time.Date(2026, 11, 22, 2, 0, 0, 0, time.UTC)
	now := func() time.Time { return at }
	down := &fixed{name: "koreaexim", err: errors.New("connection refused")}
	good := &fixed{name: "frankfurter", batch: rate.Batch{Source: "frankfurter", FetchedAt: at, Quotes: []rate.Quote{
		{Code: "USD", Name: "미국 달러", DealBaseRate: decimal.RequireFromString("1398.4"), RecordedAt: at},
		{Code: "EUR", Name: "유로", DealBaseRate: decimal.RequireFromString("-1"), RecordedAt: at},
	}}}
	pub := &recorder{}
	svc, st, _ := newService(t, pub, now, down, good)
	sum, err := svc.Run(context.Background(), "test")
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if down.calls != 1 || sum.Source != "frankfurter" || sum.Rejected != 1 || sum.Changed != 1 {
		t.Fatalf("summary %+v after failover, want frankfurter with 1 rejected and 1 changed", sum)
	}
	latest, _ := st.Latest(context.Background())
	if len(latest) != 1 || latest[0].Code != "USD" || latest[0].TTS != nil {
		t.Errorf("stored %+v, want only USD with no invented spread", latest)
	}
}

func TestNoUsableDataStoresAndPublishesNothing(t *testing.T) {
	at := time.Date(2026, 11, 22, 2, 0, 0, 0, time.UTC)
	now := func() time.Time { return at }
	pub := &recorder{}
	empty := &fixed{name: "koreaexim", batch: rate.Batch{Source: "koreaexim"}}
	bad := &fixed{name: "frankfurter", batch: rate.Batch{Source: "frankfurter", Quotes: []rate.Quote{
		{Code: "USD", DealBaseRate: decimal.Zero, RecordedAt: at}}}}
	svc, st, _ := newService(t, pub, now, empty, bad)
	sum, err := svc.Run(context.Background(), "test")
	if err == nil || sum.Status != ingest.StatusFailed || sum.Error == "" {
		t.Fatalf("Run = %+v, %v; want a failed run with its reason", sum, err)
	}
	latest, _ := st.Latest(context.Background())
	if len(latest) != 0 || len(pub.events) != 0 {
		t.Errorf("stored %d rates and published %d events, want none", len(latest), len(pub.events))
	}
}
