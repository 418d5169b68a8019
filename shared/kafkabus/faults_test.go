package kafkabus_test

import (
	"context"
	"maps"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ratewire/ratewire/shared/event"
	"github.com/ratewire/ratewire/shared/kafkabus"
)

// A poison message in the middle of a partition goes to the dead-letter
// topic at once, with its key, value, headers and the dlq.* headers; the
// messages after it are applied, and the partition is committed to its end.
func TestFaultPoisonMessageMidPartition(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	topic := event.TopicExchangeRateUpdated
	before, after := events(topic, 5, 1), events(topic, 5, 1)
	poison := kafka.Message{Topic: topic, Key: []byte("key-0"), Value: []byte("poison"),
		Headers: []kafka.Header{{Key: event.HeaderEventID, Value: []byte("poison-id")}, {Key: "producer", Value: []byte("kcat")}}}
	publish(t, h.w, before...)
	publish(t, h.w, poison)
	publish(t, h.w, after...)

	l := newLedger()
	stop := runConsumer(t, h.consumer(t, "poison", []string{topic}, l.handle, func(c *kafkabus.ConsumerConfig) {
		c.LagInterval = 20 * time.Millisecond // so the gauges follow
	}))
	valid := append(before, after...)
	eventually(t, "every valid message to be applied", func() bool { return l.has(valid) })
	h.waitCommitted(t, "poison", topic)
	// The dead-letter topic's count is measured beside the lag.
	eventually(t, "the dead-letter gauge to count the poison message", func() bool {
		return h.metric(t, "ratewire_dlq_messages", map[string]string{"topic": event.DLQTopic(topic)}) == 1
	})
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}

	l.assertExactlyOnce(t, valid)
	recs := h.dlqRecords(t, topic, 1)
	want := map[string]string{
		"key": "key-0", "value": "poison", event.HeaderEventID: "poison-id", "producer": "kcat",
		event.HeaderDLQOriginalTopic: topic, event.HeaderDLQOriginalOffset: "5",
		event.HeaderDLQConsumerGroup: "poison", event.HeaderDLQErrorClass: event.DLQClassInvalid,
		event.HeaderDLQErrorMessage: "invalid event: poison pill", event.HeaderDLQAttempts: "1",
	}
	got := recs[0]
	for k, v := range want {
		if got[k] != v {
			t.Errorf("dead-letter header %s: expected %q, got %q", k, v, got[k])
		}
	}
	if _, err := strconv.Atoi(got[event.HeaderDLQOriginalPartition]); err != nil {
		t.Errorf("dead-letter header %s: expected a partition number, got %q", event.HeaderDLQOriginalPartition, got[event.HeaderDLQOriginalPartition])
	}
	// Both instants come from the consumer's clock, in UTC.
	for _, k := range []string{event.HeaderDLQFirstFailureAt, event.HeaderDLQDeadLetteredAt} {
		if want := "2026-12-31T14:59:59Z"; got[k] != want {
			t.Errorf("dead-letter header %s: expected the consumer clock in UTC, %q; got %q", k, want, got[k])
		}
	}
	if o, want := h.outcomes(t, "poison"), map[string]int{"ok": 10, "dlq": 1}; !maps.Equal(o, want) {
		t.Errorf("outcomes: expected %v, got %v", want, o)
	}
	// The poison message was not remembered as handled: a replay retries it.
	if seen, _ := h.dedup.Seen(context.Background(), "poison", "poison-id"); seen {
		t.Error("dedupe: the dead-lettered event is marked as handled")
	}
}

// The database a handler writes to fails transiently. If it recovers within
// the retries nothing is dead-lettered; if not, the message is
// dead-lettered with class "transient", later messages go on, and a replay
// after recovery applies it once.
func TestFaultDatabaseDownThenBack(t *testing.T) {
	t.Parallel()
	t.Run("recovers within the retries", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		topic := event.TopicNewDataReceived
		msgs := events(topic, 6, 2)
		publish(t, h.w, msgs...)
		l := newLedger()
		var failures atomic.Int32
		l.setFail(func(m kafka.Message) error {
			// The third message meets a database that is down for two
			// calls: attempts 1 and 2 fail, 3 succeeds.
			if idOf(m) == idOf(msgs[2]) && failures.Add(1) <= 2 {
				return errDBDown
			}
			return nil
		})
		stop := runConsumer(t, h.consumer(t, "db-blip", []string{topic}, l.handle, nil))
		eventually(t, "every message to be applied", func() bool { return l.has(msgs) })
		h.waitCommitted(t, "db-blip", topic)
		if err := stop(); err != nil {
			t.Fatalf("Run: %v", err)
		}
		l.assertExactlyOnce(t, msgs)
		h.dlqRecords(t, topic, 0)
		if o, want := h.outcomes(t, "db-blip"), map[string]int{"ok": 6, "retry": 2}; !maps.Equal(o, want) {
			t.Errorf("outcomes: expected %v, got %v", want, o)
		}
	})
	t.Run("outlasts the retries, then replay", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		topic := event.TopicNewDataReceived
		msgs := events(topic, 6, 2)
		publish(t, h.w, msgs...)
		l := newLedger()
		down := atomic.Bool{}
		down.Store(true)
		l.setFail(func(m kafka.Message) error {
			if idOf(m) == idOf(msgs[2]) && down.Load() {
				return errDBDown
			}
			return nil
		})
		stop := runConsumer(t, h.consumer(t, "db-down", []string{topic}, l.handle, nil))
		others := append(append([]kafka.Message{}, msgs[:2]...), msgs[3:]...)
		eventually(t, "every other message to be applied", func() bool { return l.has(others) })
		h.waitCommitted(t, "db-down", topic)
		recs := h.dlqRecords(t, topic, 1)
		if got := recs[0]; got[event.HeaderDLQErrorClass] != event.DLQClassTransient || got[event.HeaderDLQAttempts] != "3" ||
			got[event.HeaderDLQErrorMessage] != errDBDown.Error() || got[event.HeaderEventID] != idOf(msgs[2]) {
			t.Errorf("dead-letter headers: expected class transient, 3 attempts, %q, event %s; got %v", errDBDown, idOf(msgs[2]), got)
		}
		if n := l.count(idOf(msgs[2])); n != 0 {
			t.Fatalf("failed event applied %d times before replay, expected 0", n)
		}

		// The database is back; an operator replays the transient failures
		// (the invalid ones would only fail again).
		down.Store(false)
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		res, err := kafkabus.Replay(ctx, kafkabus.ReplayConfig{Brokers: h.k.Brokers(), Topic: topic, ErrorClass: event.DLQClassTransient, Writer: h.w})
		if err != nil {
			t.Fatalf("Replay: %v", err)
		}
		if want := (kafkabus.ReplayResult{Scanned: 1, Matched: 1, Replayed: 1}); res != want {
			t.Errorf("Replay: expected %+v, got %+v", want, res)
		}
		eventually(t, "the replayed message to be applied", func() bool { return l.has(msgs) })
		h.waitCommitted(t, "db-down", topic)
		if err := stop(); err != nil {
			t.Fatalf("Run: %v", err)
		}
		l.assertOnce(t, msgs, false)
		if o, want := h.outcomes(t, "db-down"), map[string]int{"ok": 6, "retry": 2, "dlq": 1}; !maps.Equal(o, want) {
			t.Errorf("outcomes: expected %v, got %v", want, o)
		}
		// Dead-lettering gives up the key's order for that one message: the
		// replayed message comes after those that overtook it.
		l.mu.Lock()
		got := l.order["key-0"]
		l.mu.Unlock()
		if want := []string{"v0", "v4", "v2"}; !equalStrings(got, want) {
			t.Errorf("key-0 applied in order %v, expected %v", got, want)
		}
	})
}

// While the dead-letter topic refuses writes, the partition holds at the
// poison message: nothing after it is applied or committed. Once the
// writes succeed, the message is dead-lettered exactly once and the rest is
// applied.
func TestFaultDeadLetterWriteFailureHoldsPartition(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	topic := event.TopicCacheInvalidation
	before, after := events(topic, 3, 1), events(topic, 3, 1)
	publish(t, h.w, before...)
	publish(t, h.w, kafka.Message{Topic: topic, Value: []byte("poison")})
	publish(t, h.w, after...)

	// Refuse the first 7 produce requests to the dead-letter topic: more
	// than the Writer's own 5 attempts, so at least one write fails for the
	// consumer. While refusing, record whether anything past the poison
	// message was applied.
	const refusals = 7
	var refused atomic.Int32
	var leaked atomic.Bool
	l := newLedger()
	h.k.Cluster().ControlKey(kmsg.Produce.Int16(), func(req kmsg.Request) (kmsg.Response, error, bool) {
		pr := req.(*kmsg.ProduceRequest)
		if len(pr.Topics) == 0 || pr.Topics[0].Topic != event.DLQTopic(topic) || refused.Load() >= refusals {
			h.k.Cluster().KeepControl()
			return nil, nil, false
		}
		refused.Add(1)
		for _, m := range after {
			if l.count(idOf(m)) != 0 {
				leaked.Store(true)
			}
		}
		h.k.Cluster().KeepControl()
		resp := pr.ResponseKind().(*kmsg.ProduceResponse)
		for _, rt := range pr.Topics {
			st := kmsg.NewProduceResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewProduceResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = kerr.NotEnoughReplicas.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})

	stop := runConsumer(t, h.consumer(t, "dlq-down", []string{topic}, l.handle, nil))
	eventually(t, "the dead-letter writes to be refused", func() bool { return refused.Load() >= refusals })
	if leaked.Load() {
		t.Error("a message after the poison one was applied while its dead-letter write was failing")
	}
	eventually(t, "every message to be applied", func() bool { return l.has(append(before, after...)) })
	h.waitCommitted(t, "dlq-down", topic)
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	l.assertExactlyOnce(t, append(before, after...))
	h.dlqRecords(t, topic, 1)
	if n := h.metric(t, "ratewire_consumer_step_errors_total", map[string]string{"step": "dead-letter write"}); n < 1 {
		t.Errorf("step errors for dead-letter writes: expected at least 1, got %v", n)
	}
}
