package kafkabus_test

import (
	"maps"
	"testing"

	"github.com/segmentio/kafka-go"

	"github.com/ratewire/ratewire/shared/event"
	"github.com/ratewire/ratewire/shared/kafkabus"
)

// plainDedupe hides the batched methods of a store, so the Consumer falls
// back to one Seen and one Mark per event.
type plainDedupe struct{ kafkabus.Dedupe }

// Every event is written twice in a row, so a worker has both copies in
// hand in one batch, looked up together before either is handled: the
// second copy is still skipped, with a batched store and with a plain one,
// and the events' order per key holds.
func TestConsumerSkipsDuplicatesWithinABatch(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		store func(h *harness) kafkabus.Dedupe
	}{
		{"batched", func(h *harness) kafkabus.Dedupe { return h.dedup }},
		{"plain", func(h *harness) kafkabus.Dedupe { return plainDedupe{h.dedup} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			topic := event.TopicExchangeRateUpdated
			msgs := events(topic, 30, 3)
			var twice []kafka.Message
			for _, m := range msgs {
				twice = append(twice, m, m)
			}
			publish(t, h.w, twice...)
			l := newLedger()
			const group = "twice"
			stop := runConsumer(t, h.consumer(t, group, []string{topic}, l.handle, func(c *kafkabus.ConsumerConfig) {
				c.Dedupe = tc.store(h)
			}))
			eventually(t, "every event to be applied", func() bool { return l.has(msgs) })
			h.waitCommitted(t, group, topic)
			if err := stop(); err != nil {
				t.Fatalf("Run: %v", err)
			}
			l.assertExactlyOnce(t, msgs)
			if o, want := h.outcomes(t, group), map[string]int{"ok": len(msgs), "duplicate": len(msgs)}; !maps.Equal(o, want) {
				t.Errorf("outcomes: expected %v, got %v", want, o)
			}
			for _, m := range msgs {
				if seen, err := h.dedup.Seen(t.Context(), group, idOf(m)); err != nil || !seen {
					t.Errorf("event %s: expected marked, got %v, %v", idOf(m), seen, err)
				}
			}
		})
	}
}
