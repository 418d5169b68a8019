package ingest_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/ratewire/ratewire/ingestor/internal/ingest"
	"github.com/ratewire/ratewire/ingestor/internal/provider"
	"github.com/ratewire/ratewire/ingestor/internal/store"
	"github.com/ratewire/ratewire/shared/logx"
	"github.com/ratewire/ratewire/shared/testinfra"
)

// gatedPublisher reports each Publish on calls and then blocks: until
// release (then it fails with err's error for that many messages) or, with
// a nil release, until stop, as a hung Kafka does.
type gatedPublisher struct {
	calls   chan int
	release chan struct{}
	stop    chan struct{}
	err     func(n int) error
}

func newGated(release bool, err func(n int) error) *gatedPublisher {
	p := &gatedPublisher{calls: make(chan int), stop: make(chan struct{}), err: err}
	if release {
		p.release = make(chan struct{})
	}
	return p
}

func (p *gatedPublisher) Publish(ctx context.Context, msgs ...kafka.Message) error {
	select {
	case p.calls <- len(msgs):
	case <-p.stop:
		return errors.New("stopped")
	}
	select {
	case <-p.release: // never, when release is nil
	case <-p.stop:
		return errors.New("stopped")
	}
	return p.err(len(msgs))
}

// nextCall waits for the relay's next Publish and returns its batch size.
func (p *gatedPublisher) nextCall(t *testing.T) int {
	t.Helper()
	select {
	case n := <-p.calls:
		return n
	case <-time.After(10 * time.Second):
		t.Fatal("the relay did not publish")
		return 0
	}
}

type relayRig struct {
	clk   *clockwork.FakeClock
	st    *store.Store
	svc   *ingest.Service
	relay *ingest.Relay
	reg   *prometheus.Registry
}

// newRelayRig wires a service and a relay on one fake clock, and runs the
// relay until the test ends.
func newRelayRig(t *testing.T, pub *gatedPublisher, log *slog.Logger) relayRig {
	t.Helper()
	clk := clockwork.NewFakeClockAt(at)
	st := store.New(testinfra.OpenDB(t, testinfra.SQLiteURL(t)))
	if err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	relay, err := ingest.NewRelay(st, pub, log, reg, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := ingest.New(ingest.Config{Providers: []provider.Provider{&provider.Simulated{Now: clk.Now}}, Store: st,
		Logger: logx.Discard(), Registry: reg, Now: clk.Now, Published: relay.Wake})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = relay.Run(ctx) }()
	t.Cleanup(func() { close(pub.stop); cancel(); <-done })
	return relayRig{clk: clk, st: st, svc: svc, relay: relay, reg: reg}
}

func (r relayRig) run(t *testing.T) {
	t.Helper()
	if _, err := r.svc.Run(context.Background(), "test"); err != nil {
		t.Fatal(err)
	}
}

func (r relayRig) pending(t *testing.T) int {
	t.Helper()
	p, err := r.st.PendingOutbox(context.Background(), 10000)
	if err != nil {
		t.Fatal(err)
	}
	return len(p)
}

// gauge returns the value of the gauge name in reg, failing when absent.
func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("gauge %s not gathered", name)
	return 0
}

// TestOutboxGaugesWhilePublishHangs: with Kafka hung inside a publish,
// the backlog gauges still tell how many events wait and for how long,
// as the outbox table says at scrape time.
func TestOutboxGaugesWhilePublishHangs(t *testing.T) {
	pub := newGated(false, nil)
	rig := newRelayRig(t, pub, logx.Discard())
	rig.run(t)
	pub.nextCall(t) // the relay is now stuck in Publish for good

	rig.clk.Advance(40 * time.Second)
	rig.run(t) // committed meanwhile
	want := rig.pending(t)
	if want < 6 {
		t.Fatalf("%d events pending after two runs, want at least 6", want)
	}
	if got := gauge(t, rig.reg, "ratewire_outbox_pending_messages"); got != float64(want) {
		t.Errorf("ratewire_outbox_pending_messages = %v while a publish hangs, want %d", got, want)
	}
	if got := gauge(t, rig.reg, "ratewire_outbox_oldest_pending_age_seconds"); got != 40 {
		t.Errorf("ratewire_outbox_oldest_pending_age_seconds = %v, want 40", got)
	}
	rig.clk.Advance(5 * time.Minute)
	if got := gauge(t, rig.reg, "ratewire_outbox_oldest_pending_age_seconds"); got != 340 {
		t.Errorf("ratewire_outbox_oldest_pending_age_seconds = %v five minutes later, want 340", got)
	}
	if got := gauge(t, rig.reg, "ratewire_outbox_pending_messages"); got != float64(want) {
		t.Errorf("ratewire_outbox_pending_messages = %v, want still %d", got, want)
	}
}

// syncBuffer is a bytes.Buffer safe for the relay's goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// lines returns the logged lines that contain substr.
func (s *syncBuffer) lines(substr string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, l := range strings.Split(s.b.String(), "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return out
}

// writeErrors fails every one of n messages with a long error each, as
// kafkabus reports a batch the brokers refused (kafka.WriteErrors and one
// detail per message): joined, tens of kilobytes.
func writeErrors(n int) error {
	we := make(kafka.WriteErrors, n)
	details := make([]error, n)
	for i := range we {
		we[i] = kafka.NotLeaderForPartition
		details[i] = fmt.Errorf("message %d (topic exchange_rate_updated, key \"USD\"): %w: %s", i, we[i], strings.Repeat("broker said no; ", 90))
	}
	return fmt.Errorf("kafkabus: publish: %w: %w", we, errors.Join(details...))
}

// TestRelayFailureLogsAreBounded: a failed batch is one line of bounded
// size saying how many messages failed and the first error; further
// failures within 30 s (on the relay's clock) are counted, not logged.
func TestRelayFailureLogsAreBounded(t *testing.T) {
	var buf syncBuffer
	pub := newGated(true, writeErrors)
	rig := newRelayRig(t, pub, slog.New(slog.NewTextHandler(&buf, nil)))
	rig.run(t)
	n := rig.pending(t)
	if size := len(writeErrors(n).Error()); size < 40000 {
		t.Fatalf("the batch's joined error is %d bytes, want a big one to bound", size)
	}
	const msg = "outbox publish failed"

	// release lets the pending Publish fail and waits for the next one:
	// the relay has then dealt with the failure.
	release := func() {
		t.Helper()
		pub.release <- struct{}{}
		rig.relay.Wake()
		pub.nextCall(t)
	}
	if got := pub.nextCall(t); got != n {
		t.Fatalf("published a batch of %d, want %d", got, n)
	}
	release()
	lines := buf.lines(msg)
	if len(lines) != 1 {
		t.Fatalf("%d failure lines after one failure, want 1: %q", len(lines), lines)
	}
	if l := lines[0]; len(l) > 1024 || !strings.Contains(l, fmt.Sprintf("failed_messages=%d ", n)) ||
		!strings.Contains(l, "Not Leader For Partition") {
		t.Errorf("failure line (%d bytes) = %.1200s; want at most 1024 bytes with failed_messages=%d and the first error", len(l), l, n)
	}

	release()
	release()
	if lines := buf.lines(msg); len(lines) != 1 {
		t.Fatalf("%d failure lines after three failures within 30 s, want 1: %q", len(lines), lines)
	}
	rig.clk.Advance(31 * time.Second)
	release()
	lines = buf.lines(msg)
	if len(lines) != 2 || !strings.Contains(lines[1], "suppressed=2") {
		t.Fatalf("failure lines after 31 s = %q, want a second one with suppressed=2", lines)
	}
}
