package kafkabus_test

import (
	"context"
	"maps"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/ratewire/ratewire/shared/event"
	"github.com/ratewire/ratewire/shared/kafkabus"
)

// handleBatch is the ledger's BatchHandler: like a real one it checks
// every message first (the poison pill, the fail hook) and applies nothing
// if one is bad, then applies all of them in order. sizes records the
// length of every call.
func (l *ledger) handleBatch(sizes *callSizes) kafkabus.BatchHandler {
	return func(_ context.Context, ms []kafka.Message) error {
		sizes.add(len(ms))
		for _, m := range ms {
			if string(m.Value) == "poison" {
				return errPoisonBatch
			}
		}
		l.mu.Lock()
		fail := l.fail
		l.mu.Unlock()
		if fail != nil {
			for _, m := range ms {
				if err := fail(m); err != nil {
					return err
				}
			}
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		for _, m := range ms {
			l.applied[idOf(m)]++
			l.order[string(m.Key)] = append(l.order[string(m.Key)], string(m.Value))
		}
		return nil
	}
}

var errPoisonBatch = kafkabus.Permanent(event.ErrInvalid)

// callSizes records the lengths of batch handler calls.
type callSizes struct {
	mu    sync.Mutex
	sizes []int
}

func (c *callSizes) add(n int) {
	c.mu.Lock()
	c.sizes = append(c.sizes, n)
	c.mu.Unlock()
}

// total is the number of messages over all calls, and the largest call.
func (c *callSizes) total() (sum, largest int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.sizes {
		sum += n
		largest = max(largest, n)
	}
	return sum, largest
}

// With a BatchHandler, events published before the consumer starts reach
// it in calls of many messages; every event is applied once, in order per
// key, duplicates (a second copy in the same batch, or an event the group
// had already marked) never reach it, every handled event is marked, and
// the group commits to the end.
func TestBatchHandlerAppliesEachEventOnceInOrder(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	topic := event.TopicExchangeRateUpdated
	msgs := events(topic, 600, 12)
	const group = "batched"
	// The first 30 events were handled before (a replay, say): marked.
	for _, m := range msgs[:30] {
		if err := h.dedup.Mark(t.Context(), group, idOf(m)); err != nil {
			t.Fatal(err)
		}
	}
	var published []kafka.Message
	for i, m := range msgs {
		published = append(published, m)
		if i%5 == 0 {
			published = append(published, m) // a producer retry's copy
		}
	}
	publish(t, h.w, published...)

	l := newLedger()
	var sizes callSizes
	stop := runConsumer(t, h.consumer(t, group, []string{topic}, l.handle, func(c *kafkabus.ConsumerConfig) {
		c.BatchHandler = l.handleBatch(&sizes)
	}))
	fresh := msgs[30:]
	eventually(t, "every new event to be applied", func() bool { return l.has(fresh) })
	h.waitCommitted(t, group, topic)
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	l.assertExactlyOnce(t, fresh)
	sum, largest := sizes.total()
	if largest < 2 || sum > len(fresh) {
		t.Errorf("batch calls: expected calls of several messages covering at most %d, got largest %d, total %d", len(fresh), largest, sum)
	}
	dups := len(published) - len(fresh)
	if o, want := h.outcomes(t, group), map[string]int{"ok": len(fresh), "duplicate": dups}; !maps.Equal(o, want) {
		t.Errorf("outcomes: expected %v, got %v", want, o)
	}
	for _, m := range msgs {
		if seen, err := h.dedup.Seen(t.Context(), group, idOf(m)); err != nil || !seen {
			t.Fatalf("event %s: expected marked, got %v, %v", idOf(m), seen, err)
		}
	}
}

// A batch call that fails, panics or hangs past its deadline hands its
// messages to the per-message Handler: a poison message among them goes to
// the dead-letter topic after one attempt, the others are applied once, in
// order, and the failed batch calls count as no attempt.
func TestBatchHandlerFailureFallsBackToOneAtATime(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		batch func(l *ledger, sizes *callSizes, release <-chan struct{}) kafkabus.BatchHandler
	}{
		{"error", func(l *ledger, sizes *callSizes, _ <-chan struct{}) kafkabus.BatchHandler {
			return l.handleBatch(sizes)
		}},
		{"panic", func(_ *ledger, sizes *callSizes, _ <-chan struct{}) kafkabus.BatchHandler {
			return func(_ context.Context, ms []kafka.Message) error {
				sizes.add(len(ms))
				panic("batch boom")
			}
		}},
		{"hang", func(_ *ledger, sizes *callSizes, release <-chan struct{}) kafkabus.BatchHandler {
			return func(_ context.Context, ms []kafka.Message) error {
				sizes.add(len(ms))
				<-release // ignores its context
				for _, m := range ms {
					_ = idOf(m) // still reads its messages after being abandoned
				}
				return nil
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			topic := event.TopicNewDataReceived // one partition: one worker
			before, after := events(topic, 40, 4), events(topic, 40, 4)
			poison := kafka.Message{Topic: topic, Key: []byte("key-0"), Value: []byte("poison"),
				Headers: []kafka.Header{{Key: event.HeaderEventID, Value: []byte("poison-id")}}}
			publish(t, h.w, append(append(append([]kafka.Message{}, before...), poison), after...)...)

			release := make(chan struct{})
			t.Cleanup(func() { close(release) })
			l := newLedger()
			var sizes callSizes
			group := "fallback-" + tc.name
			stop := runConsumer(t, h.consumer(t, group, []string{topic}, l.handle, func(c *kafkabus.ConsumerConfig) {
				c.BatchHandler = tc.batch(l, &sizes, release)
				c.HandlerTimeout = 200 * time.Millisecond
			}))
			valid := append(append([]kafka.Message{}, before...), after...)
			eventually(t, "every valid message to be applied", func() bool { return l.has(valid) })
			h.waitCommitted(t, group, topic)
			if err := stop(); err != nil {
				t.Fatalf("Run: %v", err)
			}
			l.assertExactlyOnce(t, valid)
			recs := h.dlqRecords(t, topic, 1)
			if r := recs[0]; r["value"] != "poison" || r[event.HeaderDLQErrorClass] != event.DLQClassInvalid || r[event.HeaderDLQAttempts] != "1" {
				t.Errorf("dead letter: expected the poison message, class %q, 1 attempt; got %q, %q, %q",
					event.DLQClassInvalid, r["value"], r[event.HeaderDLQErrorClass], r[event.HeaderDLQAttempts])
			}
			if o, want := h.outcomes(t, group), map[string]int{"ok": len(valid), "dlq": 1}; !maps.Equal(o, want) {
				t.Errorf("outcomes: expected %v, got %v", want, o)
			}
			if _, largest := sizes.total(); largest < 2 {
				t.Errorf("batch calls: expected at least one call of several messages, largest was %d", largest)
			}
		})
	}
}

// A transient failure inside a batch call is retried per message after the
// fallback, within the usual attempts: the event fails twice in all (once
// in its batch call, once alone) and is applied on its second attempt
// alone, nothing is dead-lettered.
func TestBatchHandlerTransientFailureRetriesPerMessage(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	topic := event.TopicNewDataReceived
	msgs := events(topic, 50, 5)
	publish(t, h.w, msgs...)
	l := newLedger()
	var calls atomic.Int32
	l.setFail(func(m kafka.Message) error {
		if idOf(m) == idOf(msgs[25]) && calls.Add(1) <= 2 {
			return errDBDown
		}
		return nil
	})
	var sizes callSizes
	const group = "batch-transient"
	stop := runConsumer(t, h.consumer(t, group, []string{topic}, l.handle, func(c *kafkabus.ConsumerConfig) {
		c.BatchHandler = l.handleBatch(&sizes)
	}))
	eventually(t, "every message to be applied", func() bool { return l.has(msgs) })
	h.waitCommitted(t, group, topic)
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	l.assertExactlyOnce(t, msgs)
	h.dlqRecords(t, topic, 0)
	o := h.outcomes(t, group)
	// Whether msgs[25] met its first failure in a batch call or alone
	// depends on how the fetches fell; either way it took 1 or 2 attempts
	// alone, and no more.
	if o["ok"] != len(msgs) || o["dlq"] != 0 || o["retry"] < 1 || o["retry"] > 2 {
		t.Errorf("outcomes: expected ok %d, no dlq, 1 or 2 retries; got %v", len(msgs), o)
	}
}

// A copy of an event published while the event's handler runs is skipped:
// the worker looks its batch up once the batch before is done, when the
// event is marked (in the marker's queue or in the store).
func TestCopyFetchedDuringHandlerIsSkipped(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	topic := event.TopicNewDataReceived // one partition: one worker
	x := events(topic, 1, 1)[0]
	inHandler, copied := make(chan struct{}), make(chan struct{})
	l := newLedger()
	var first sync.Once
	handler := func(ctx context.Context, m kafka.Message) error {
		first.Do(func() {
			close(inHandler)
			select { // until the copy is on the topic
			case <-copied:
			case <-ctx.Done():
			}
		})
		return l.handle(ctx, m)
	}
	const group = "copy-meanwhile"
	publish(t, h.w, x)
	stop := runConsumer(t, h.consumer(t, group, []string{topic}, handler, nil))
	select {
	case <-inHandler:
	case <-time.After(30 * time.Second):
		t.Fatal("the event was not handled")
	}
	publish(t, h.w, x) // the copy, published while x's handler waits
	close(copied)
	h.waitCommitted(t, group, topic)
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	l.assertExactlyOnce(t, []kafka.Message{x})
	if o, want := h.outcomes(t, group), map[string]int{"ok": 1, "duplicate": 1}; !maps.Equal(o, want) {
		t.Errorf("outcomes: expected %v, got %v", want, o)
	}
}
