package kafkabus_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/ratewire/ratewire/shared/dedupe"
	"github.com/ratewire/ratewire/shared/embedded"
	"github.com/ratewire/ratewire/shared/event"
	"github.com/ratewire/ratewire/shared/kafkabus"
	"github.com/ratewire/ratewire/shared/kst"
	"github.com/ratewire/ratewire/shared/testinfra"
)

// harness is one fault test's world: a Kafka cluster, a writer, an admin
// client, a Redis dedupe store and a metrics registry.
type harness struct {
	k     *embedded.Kafka
	w     *kafkabus.Writer
	adm   *kadm.Client
	redis testinfra.Redis
	dedup *dedupe.Redis
	reg   *prometheus.Registry
}

// harnessNow is the clock of the harness's consumers and dedupe store, so
// dead-letter timestamps and the dedupe day are the same at any hour: 23:59:59
// KST on 31 December, still the 31st in UTC.
var harnessNow = time.Date(2026, 12, 31, 23, 59, 59, 0, kst.Zone)

func fixedNow() time.Time { return harnessNow }

func newHarness(t *testing.T) *harness {
	t.Helper()
	k := startKafka(t)
	r := testinfra.MiniRedis(t)
	return &harness{
		k: k, w: newWriter(t, k), adm: newAdmin(t, k), redis: r,
		dedup: dedupe.NewRedis(r.Client, dedupe.Options{Now: fixedNow}),
		reg:   prometheus.NewRegistry(),
	}
}

// consumer returns a Consumer of group on topics with the harness's dedupe
// store and registry, fast retries, and whatever mutate changes.
func (h *harness) consumer(t *testing.T, group string, topics []string, handler kafkabus.Handler, mutate func(*kafkabus.ConsumerConfig)) *kafkabus.Consumer {
	t.Helper()
	cfg := kafkabus.ConsumerConfig{
		Brokers: h.k.Brokers(), GroupID: group, Topics: topics, Handler: handler, Logger: testLogger(),
		Dedupe: h.dedup, Registerer: h.reg, RetryBackoff: time.Millisecond, LagInterval: -1,
		SessionTimeout: 6 * time.Second, Now: fixedNow,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	c, err := kafkabus.NewConsumer(cfg)
	if err != nil {
		t.Fatalf("NewConsumer: %v", err)
	}
	return c
}

// events returns n messages on topic with keys key-0..key-(k-1) in turn and
// a fresh event_id header each.
func events(topic string, n, keys int) []kafka.Message {
	out := make([]kafka.Message, n)
	for i := range n {
		out[i] = kafka.Message{
			Topic: topic, Key: fmt.Appendf(nil, "key-%d", i%keys), Value: fmt.Appendf(nil, "v%d", i),
			Headers: []kafka.Header{{Key: event.HeaderEventID, Value: []byte(uuid.NewString())}},
		}
	}
	return out
}

func idOf(m kafka.Message) string { return event.Header(m, event.HeaderEventID) }

// ledger is the "database" that handlers apply events to: how many times
// each event id was applied, and in which order per key.
type ledger struct {
	mu      sync.Mutex
	applied map[string]int
	order   map[string][]string // key -> values in application order
	// fail, when set, runs before an event is applied; an error leaves the
	// ledger unchanged and is returned to the consumer.
	fail func(m kafka.Message) error
}

func newLedger() *ledger { return &ledger{applied: map[string]int{}, order: map[string][]string{}} }

func (l *ledger) handle(_ context.Context, m kafka.Message) error {
	if string(m.Value) == "poison" {
		return fmt.Errorf("%w: poison pill", event.ErrInvalid)
	}
	l.mu.Lock()
	fail := l.fail
	l.mu.Unlock()
	if fail != nil {
		if err := fail(m); err != nil {
			return err
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.applied[idOf(m)]++
	l.order[string(m.Key)] = append(l.order[string(m.Key)], string(m.Value))
	return nil
}

func (l *ledger) setFail(f func(kafka.Message) error) {
	l.mu.Lock()
	l.fail = f
	l.mu.Unlock()
}

func (l *ledger) count(id string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.applied[id]
}

// has reports whether every message of msgs was applied at least once.
func (l *ledger) has(msgs []kafka.Message) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, m := range msgs {
		if l.applied[idOf(m)] == 0 {
			return false
		}
	}
	return true
}

// assertExactlyOnce fails unless the ledger holds exactly msgs, each applied
// once, and each key's values in publication order.
func (l *ledger) assertExactlyOnce(t *testing.T, msgs []kafka.Message) {
	t.Helper()
	l.assertOnce(t, msgs, true)
}

// assertOnce is assertExactlyOnce, checking the order only if order is set.
func (l *ledger) assertOnce(t *testing.T, msgs []kafka.Message, checkOrder bool) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	want := map[string]int{}
	order := map[string][]string{}
	for _, m := range msgs {
		want[idOf(m)] = 1
		order[string(m.Key)] = append(order[string(m.Key)], string(m.Value))
	}
	if !maps.Equal(l.applied, want) {
		var wrong []string
		for id, n := range l.applied {
			if n != 1 {
				wrong = append(wrong, fmt.Sprintf("%s x%d", id, n))
			}
		}
		t.Errorf("applied events: expected %d events once each, got %d events, not once: %v", len(want), len(l.applied), wrong)
	}
	for k, vs := range order {
		if !checkOrder {
			break
		}
		if got := l.order[k]; !equalStrings(got, vs) {
			t.Errorf("key %s applied in order %v, expected %v", k, got, vs)
		}
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// eventually polls cond until it holds or waitLimit passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", waitLimit, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitCommitted waits until group has committed every partition of topics
// up to its end offset.
func (h *harness) waitCommitted(t *testing.T, group string, topics ...string) {
	t.Helper()
	eventually(t, "the group to commit every partition to its end", func() bool {
		want := endOffsets(t, h.adm, topics...)
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		resp, err := h.adm.FetchOffsets(ctx, group)
		if err != nil {
			return false // the group may not exist yet
		}
		for p, end := range want {
			o, ok := resp.Lookup(p.topic, p.partition)
			if end > 0 && (!ok || o.Err != nil || o.At != end) {
				return false
			}
		}
		return true
	})
}

// metric returns the value of the counter or gauge name whose labels
// include want, summed over matching series; 0 when none matches.
func (h *harness) metric(t *testing.T, name string, want map[string]string) float64 {
	t.Helper()
	mfs, err := h.reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if labels[k] != v {
					continue series
				}
			}
			switch {
			case m.GetCounter() != nil:
				sum += m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				sum += m.GetGauge().GetValue()
			case m.GetHistogram() != nil:
				sum += float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return sum
}

// outcomes returns ratewire_consumer_messages_total of group by outcome.
func (h *harness) outcomes(t *testing.T, group string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, o := range []string{"ok", "retry", "dlq", "duplicate"} {
		if n := h.metric(t, "ratewire_consumer_messages_total", map[string]string{"group": group, "outcome": o}); n != 0 {
			out[o] = int(n)
		}
	}
	return out
}

// dlqRecords reads exactly n records of topic's dead-letter topic and
// returns them as kafka-go messages, headers by name.
func (h *harness) dlqRecords(t *testing.T, topic string, n int) []map[string]string {
	t.Helper()
	var out []map[string]string
	if n == 0 {
		if got := endOffsets(t, h.adm, event.DLQTopic(topic)); sumOffsets(got) != 0 {
			t.Errorf("dead-letter topic %s: expected no records, got end offsets %v", event.DLQTopic(topic), got)
		}
		return nil
	}
	for _, r := range consumeAll(t, h.k, event.DLQTopic(topic), n) {
		hs := map[string]string{"key": string(r.Key), "value": string(r.Value)}
		for _, hd := range r.Headers {
			hs[hd.Key] = string(hd.Value)
		}
		out = append(out, hs)
	}
	if got := sumOffsets(endOffsets(t, h.adm, event.DLQTopic(topic))); got != int64(n) {
		t.Errorf("dead-letter topic %s: expected %d records, got %d", event.DLQTopic(topic), n, got)
	}
	return out
}

func sumOffsets(m map[tp]int64) int64 {
	var s int64
	for _, v := range m {
		s += v
	}
	return s
}

// errDBDown is the transient failure of the ledger's "database".
var errDBDown = errors.New("database unavailable")

var _ = strings.HasPrefix

// errTimeout is what an injected produce timeout closes the connection with.
var errTimeout = errors.New("injected produce timeout")

// publishRetrying writes msgs, retrying the ones that failed (a producer
// whose metadata lags behind a leader move does), until all are written.
func publishRetrying(t *testing.T, w *kafkabus.Writer, msgs ...kafka.Message) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for len(msgs) > 0 {
		err := w.Publish(context.Background(), msgs...)
		if err == nil {
			return
		}
		var we kafka.WriteErrors
		if !errors.As(err, &we) || time.Now().After(deadline) {
			t.Fatalf("Publish: %v", err)
		}
		var failed []kafka.Message
		for i, e := range we {
			if e != nil {
				failed = append(failed, msgs[i])
			}
		}
		msgs = failed
		time.Sleep(100 * time.Millisecond)
	}
}
