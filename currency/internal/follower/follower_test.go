package follower_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/shopspring/decimal"

	"github.com/ratewire/ratewire/currency/internal/follower"
	"github.com/ratewire/ratewire/currency/internal/live"
	"github.com/ratewire/ratewire/currency/internal/rates"
	"github.com/ratewire/ratewire/shared/event"
	"github.com/ratewire/ratewire/shared/kafkabus"
	"github.com/ratewire/ratewire/shared/testinfra"
)

// fakeService stands in for the rates service: a database of versions,
// rates completed into a small JSON object, and failures on demand.
type fakeService struct {
	mu        sync.Mutex
	db        map[string]int64
	note      map[string]string // extra field of a code's JSON, to see a refresh
	loads     int
	failLoads int            // the first loads fail
	failCode  map[string]int // completions of a code that fail first
	afterLoad func(n int)    // called after the n-th successful load
}

func (f *fakeService) json(code string, v int64) []byte {
	return fmt.Appendf(nil, `{"currency_code":%q,"version":%d,"note":%q}`, code, v, f.note[code])
}

func (f *fakeService) CompleteJSON(_ context.Context, r rates.Rate) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failCode[r.CurrencyCode] > 0 {
		f.failCode[r.CurrencyCode]--
		return nil, errors.New("database unavailable")
	}
	return f.json(r.CurrencyCode, r.Version), nil
}

func (f *fakeService) AllLatestJSON(context.Context) ([]rates.Rate, [][]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.loads++
	if f.loads <= f.failLoads {
		return nil, nil, errors.New("database unavailable")
	}
	var rs []rates.Rate
	var js [][]byte
	for code, v := range f.db {
		rs = append(rs, rates.Rate{Rate: event.Rate{CurrencyCode: code, Version: v}})
		js = append(js, f.json(code, v))
	}
	if f.afterLoad != nil {
		f.afterLoad(f.loads - f.failLoads)
	}
	return rs, js, nil
}

func update(t *testing.T, code string, version int64) kafka.Message {
	t.Helper()
	ev := &event.ExchangeRateUpdated{Rate: event.Rate{CurrencyCode: code, CurrencyName: code, DealBaseRate: decimal.NewFromInt(1000 + version),
		Source: "simulated", RecordedAt: time.Date(2026, 11, 22, 2, 0, 0, 0, time.UTC), UpdatedAt: time.Date(2026, 11, 22, 2, 0, 0, 0, time.UTC), Version: version}}
	event.Stamp(ev, "test")
	m, err := event.Encode(ev, "test")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !ok(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func version(v *live.View, code string) int64 {
	c, _ := v.Get(code)
	return c.Version
}

func TestFollower(t *testing.T) {
	brokers := testinfra.Kafka(t)
	w := kafkabus.NewWriter(kafkabus.WriterConfig{Brokers: brokers, ClientID: "test"})
	defer w.Close()
	ctx := context.Background()
	// Published before the follower starts: the seed stands for it, and the
	// follower starts at the end of each partition.
	if err := w.Publish(ctx, update(t, "CHF", 9)); err != nil {
		t.Fatal(err)
	}

	svc := &fakeService{db: map[string]int64{"USD": 3, "JPY": 1}, note: map[string]string{}, failLoads: 2, failCode: map[string]int{"GBP": 2}}
	// Between the seed and the reread, USD moves to version 4 in the
	// database: the reread applies it as a change.
	svc.afterLoad = func(n int) {
		if n == 1 {
			svc.db["USD"] = 4
		}
	}
	v := live.New(live.Options{})
	refresh := make(chan time.Time)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- follower.Run(runCtx, follower.Config{Brokers: brokers, Refresh: refresh}, svc, v)
	}()
	select {
	case <-v.Ready():
	case <-time.After(20 * time.Second):
		t.Fatal("view not ready: the seed was not retried")
	}
	// Reads may come from the view once it is current: by then it holds
	// what the reread found.
	waitFor(t, "the view current", v.Current)
	if got := version(v, "USD"); got != 4 {
		t.Errorf("view current with USD at %d, want 4 (the reread's)", got)
	}
	if v.Applied() != 1 {
		t.Errorf("Applied() = %d after the reread, want 1 (USD:4)", v.Applied())
	}

	// An undecodable message is skipped; duplicates and older versions
	// change nothing; a failing completion is retried.
	kw := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: event.TopicExchangeRateUpdated, Balancer: &kafka.Murmur2Balancer{}, RequiredAcks: kafka.RequireAll}
	defer kw.Close()
	if err := kw.WriteMessages(ctx, kafka.Message{Key: []byte("USD"), Value: []byte("{not json")}); err != nil {
		t.Fatal(err)
	}
	if err := w.Publish(ctx, update(t, "USD", 5), update(t, "USD", 2), update(t, "JPY", 1), update(t, "EUR", 1), update(t, "GBP", 1), update(t, "USD", 5)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "USD:5, EUR:1 and GBP:1 from the topic", func() bool {
		return version(v, "USD") == 5 && version(v, "EUR") == 1 && version(v, "GBP") == 1
	})
	if got := v.Applied(); got != 4 {
		t.Errorf("Applied() = %d, want 4 (USD:4, USD:5, EUR:1, GBP:1)", got)
	}
	if version(v, "CHF") != 0 {
		t.Error("CHF:9, published before the start, was applied")
	}
	if version(v, "JPY") != 1 {
		t.Errorf("JPY at %d, want 1", version(v, "JPY"))
	}

	// A refresh replaces what moved at the same version, without a change.
	svc.mu.Lock()
	svc.note["JPY"] = "recomputed"
	svc.mu.Unlock()
	refresh <- time.Time{}
	waitFor(t, "JPY refreshed", func() bool {
		c, _ := v.Get("JPY")
		return c.Version == 1 && string(c.JSON) == `{"currency_code":"JPY","version":1,"note":"recomputed"}`
	})
	if got := v.Applied(); got != 4 {
		t.Errorf("Applied() = %d after a refresh, want still 4", got)
	}

	// The last event of a run reconciles the view the same way.
	svc.mu.Lock()
	svc.db["USD"] = 5
	svc.note["USD"] = "after the run"
	svc.mu.Unlock()
	done2 := &event.DataProcessingCompleted{Source: "simulated", TotalProcessed: 1, CompletedAt: time.Date(2026, 11, 22, 2, 0, 0, 0, time.UTC)}
	event.Stamp(done2, "test")
	m, err := event.Encode(done2, "test")
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Publish(ctx, m); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "USD reconciled after data_processing_completed", func() bool {
		c, _ := v.Get("USD")
		return c.Version == 5 && string(c.JSON) == `{"currency_code":"USD","version":5,"note":"after the run"}`
	})
	if got := v.Applied(); got != 4 {
		t.Errorf("Applied() = %d after a run's reconciliation, want still 4", got)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}
