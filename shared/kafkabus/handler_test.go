package kafkabus_test

import (
	"context"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/ratewire/ratewire/shared/event"
	"github.com/ratewire/ratewire/shared/kafkabus"
)

// A handler that panics and one that ignores its deadline each cost only
// their own message, which is dead-lettered with the reason; the messages
// after them are still handled, in order, once each (so the goroutine that
// runs handler calls is replaced after one is abandoned).
func TestConsumerSurvivesPanickingAndStuckHandlers(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	topic := event.TopicCacheInvalidation
	msgs := events(topic, 5, 1)
	for i, v := range []string{"a", "panic", "b", "hang", "c"} {
		msgs[i].Value = []byte(v)
	}
	publish(t, h.w, msgs...)

	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	l := newLedger()
	handler := func(ctx context.Context, m kafka.Message) error {
		switch string(m.Value) {
		case "panic":
			panic("boom")
		case "hang":
			<-release // ignores ctx
			return nil
		}
		return l.handle(ctx, m)
	}
	const group = "unruly"
	stop := runConsumer(t, h.consumer(t, group, []string{topic}, handler, func(c *kafkabus.ConsumerConfig) {
		c.HandlerTimeout = 50 * time.Millisecond
		c.MaxAttempts = 1
	}))
	handled := []kafka.Message{msgs[0], msgs[2], msgs[4]}
	eventually(t, "the well-behaved messages to be applied", func() bool { return l.has(handled) })
	h.waitCommitted(t, group, topic)
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	l.assertExactlyOnce(t, handled)
	if o, want := h.outcomes(t, group), map[string]int{"ok": 3, "dlq": 2}; !maps.Equal(o, want) {
		t.Errorf("outcomes: expected %v, got %v", want, o)
	}
	recs := h.dlqRecords(t, topic, 2)
	for i, want := range []struct{ value, err string }{{"panic", "handler panic: boom"}, {"hang", "did not return within 50ms"}} {
		if i >= len(recs) {
			break
		}
		r := recs[i]
		if r["value"] != want.value || !strings.Contains(r[event.HeaderDLQErrorMessage], want.err) ||
			r[event.HeaderDLQErrorClass] != event.DLQClassTransient {
			t.Errorf("dead letter %d: expected value %q, class %q, error containing %q; got %q, %q, %q", i,
				want.value, event.DLQClassTransient, want.err, r["value"], r[event.HeaderDLQErrorClass], r[event.HeaderDLQErrorMessage])
		}
	}
}
