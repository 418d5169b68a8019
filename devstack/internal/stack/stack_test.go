package stack_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ratewire/ratewire/devstack/internal/stack"
	"github.com/ratewire/ratewire/shared/event"
	"github.com/ratewire/ratewire/shared/kst"
)

// syncBuffer is a bytes.Buffer safe for the stack's concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestDevstackEndToEnd starts the whole platform in-process on embedded
// infrastructure and drives it over HTTP and Kafka: rates served from the
// cache within seconds, the topics at their partition counts, an admin run
// whose events reach the currency service, and a clean stop with the
// currency consumer's offsets committed.
func TestDevstackEndToEnd(t *testing.T) {
	c := stack.Config{
		DataDir: t.TempDir(), Host: "127.0.0.1",
		Getenv: func(k string) string {
			if k == "RATEWIRE_ADMIN_TOKEN" {
				return "e2e-token"
			}
			return ""
		},
		Out: &syncBuffer{}, Log: &syncBuffer{},
		// A fixed instant between two of the simulator's five-minute steps:
		// nothing here depends on the hour the test runs.
		Clock: clockwork.NewFakeClockAt(time.Date(2026, 11, 25, 10, 2, 30, 0, kst.Zone)),
	}
	ready := make(chan stack.Addrs, 1)
	c.Ready = func(a stack.Addrs) { ready <- a }
	backfilled := make(chan error, 1)
	c.BackfillDays = 30
	c.BackfillDone = func(err error) { backfilled <- err }
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- stack.Run(ctx, c) }()

	var a stack.Addrs
	select {
	case a = <-ready:
	case err := <-done:
		t.Fatalf("stack stopped before it was ready: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("stack not ready after 30 s")
	}
	banner := c.Out.(*syncBuffer).String()
	for _, want := range []string{a.Gateway, a.Currency, "e2e-token", "kcat -b " + a.Kafka[0] + " -L", a.DatabaseURL} {
		if !strings.Contains(banner, want) {
			t.Errorf("banner lacks %q:\n%s", want, banner)
		}
	}

	// Rates are served within seconds of start, and from the cache.
	var usd struct {
		Version int64  `json:"version"`
		Source  string `json:"source"`
	}
	waitFor(t, 15*time.Second, "USD served", func() bool {
		status, data := get(t, a.Currency+"/api/v1/currencies/USD")
		return status == 200 && json.Unmarshal(data, &usd) == nil && usd.Version >= 1
	})
	if usd.Source != "simulated" {
		t.Errorf("USD source = %q, want simulated", usd.Source)
	}
	// The gateway serves the same rate under its one base URL, and its own
	// liveness.
	var viaGateway struct {
		Version int64 `json:"version"`
	}
	if status, data := get(t, a.Gateway+"/api/v1/currencies/USD"); status != 200 || json.Unmarshal(data, &viaGateway) != nil || viaGateway.Version < 1 {
		t.Errorf("GET gateway /api/v1/currencies/USD = %d %s, want 200 with a version", status, data)
	}
	if status, _ := get(t, a.Gateway+"/healthz"); status != 200 {
		t.Errorf("GET gateway /healthz = %d, want 200", status)
	}
	for _, u := range []string{a.History + "/readyz", a.Ranking + "/readyz", a.Ingestor + "/readyz", a.Currency + "/readyz"} {
		if status, _ := get(t, u); status != 200 {
			t.Errorf("GET %s = %d, want 200", u, status)
		}
	}

	// The contract's topics exist on three brokers with 1/3/1/1 partitions.
	cl, err := kgo.NewClient(kgo.SeedBrokers(a.Kafka...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	md, err := adm.Metadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(md.Brokers) != 3 {
		t.Errorf("%d brokers, want 3", len(md.Brokers))
	}
	for _, tp := range event.Topics {
		if got := len(md.Topics[tp.Name].Partitions); got != int(tp.Partitions) {
			t.Errorf("topic %s has %d partitions, want %d", tp.Name, got, tp.Partitions)
		}
	}

	// The start-up backfill gives history a month of depth: forecasts
	// need weeks of daily closes. Waited for before the admin run: on
	// SQLite the backfill's transaction holds the write lock, and a run
	// that waits past busy_timeout for it fails with 503.
	select {
	case err := <-backfilled:
		if err != nil {
			t.Fatalf("backfill: %v", err)
		}
	case <-time.After(3 * time.Minute):
		// A timeout, not a speed claim: under -race on two cores the
		// backfill takes about 70 s from start-up.
		t.Fatal("backfill did not finish within 3 minutes")
	}
	// An admin run through the gateway is accepted, and the currency consumer
	// catches up with everything published: its committed offsets reach the
	// end offsets.
	req, _ := http.NewRequest(http.MethodPost, a.Gateway+"/api/v1/ingest/run", nil)
	req.Header.Set("Authorization", "Bearer e2e-token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("admin run = %d, want 200", resp.StatusCode)
	}
	waitFor(t, 15*time.Second, "currency-service offsets at the end of every partition", func() bool {
		return caughtUp(ctx, adm, "currency-service")
	})

	status, data := get(t, a.History+"/api/v1/history/stats?target=USD&period=1m")
	var stats struct {
		DataPoints int `json:"data_points"`
	}
	if status != 200 || json.Unmarshal(data, &stats) != nil || stats.DataPoints < 25 {
		t.Errorf("history stats after backfill = %d %s, want a month of daily points", status, data)
	}
	if status, data := get(t, a.History+"/api/v1/history/forecast/USD?days=3"); status != 200 {
		t.Errorf("forecast after backfill = %d %s, want 200", status, data)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("stack stopped with %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("stack did not stop within 20 s")
	}
	if logs := c.Log.(*syncBuffer).String(); !strings.Contains(logs, "consumer stopped") {
		t.Errorf("no clean consumer stop in the logs:\n%s", logs)
	}
}

func get(t *testing.T, url string) (int, json.RawMessage) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var env struct {
		Data json.RawMessage `json:"data"`
	}
	_ = json.Unmarshal(body, &env)
	return resp.StatusCode, env.Data
}

// caughtUp reports whether group has committed every partition of the
// contract's topics up to its end offset.
func caughtUp(ctx context.Context, adm *kadm.Client, group string) bool {
	ends, err := adm.ListEndOffsets(ctx, event.TopicNames()...)
	if err != nil {
		return false
	}
	committed, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		return false
	}
	ok := true
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset == 0 {
			return
		}
		c, found := committed.Lookup(o.Topic, o.Partition)
		if !found || c.At != o.Offset {
			ok = false
		}
	})
	return ok
}

func waitFor(t *testing.T, within time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if ok() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s", within, what)
}
