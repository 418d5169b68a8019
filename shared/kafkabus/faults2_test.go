package kafkabus_test

import (
	"context"
	"maps"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/ratewire/ratewire/shared/event"
	"github.com/ratewire/ratewire/shared/kafkabus"
)

// Redis (the dedupe store) goes away mid-stream and comes back on the same
// address: the partition waits instead of dropping or repeating events, and
// nothing is dead-lettered.
func TestFaultRedisUnavailableThenBack(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	topic := event.TopicExchangeRateUpdated
	first, second := events(topic, 9, 3), events(topic, 9, 3)
	publish(t, h.w, first...)
	l := newLedger()
	stop := runConsumer(t, h.consumer(t, "redis-down", []string{topic}, l.handle, nil))
	eventually(t, "the first batch to be applied", func() bool { return l.has(first) })

	h.redis.Mini.Close()
	publish(t, h.w, second...)
	eventually(t, "dedupe lookups to fail", func() bool {
		return h.metric(t, "ratewire_consumer_step_errors_total", map[string]string{"step": "dedupe lookup"}) >= 3
	})
	for _, m := range second {
		if n := l.count(idOf(m)); n != 0 {
			t.Fatalf("event %s applied %d times while Redis was down, expected 0 (its lookup cannot succeed)", idOf(m), n)
		}
	}
	if err := h.redis.Mini.Restart(); err != nil {
		t.Fatalf("restart miniredis: %v", err)
	}
	all := append(first, second...)
	eventually(t, "the second batch to be applied", func() bool { return l.has(all) })
	h.waitCommitted(t, "redis-down", topic)
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	l.assertExactlyOnce(t, all)
	h.dlqRecords(t, topic, 0)
	if o, want := h.outcomes(t, "redis-down"), map[string]int{"ok": 18}; !maps.Equal(o, want) {
		t.Errorf("outcomes: expected %v, got %v", want, o)
	}
}

// Lag is the end offset minus the committed offset, per partition: all of
// a topic before the group has read it, nothing once it has.
func TestLagOf(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	topic := event.TopicExchangeRateUpdated
	msgs := events(topic, 12, 6)
	publish(t, h.w, msgs...)
	ctx := context.Background()
	lag, err := kafkabus.LagOf(ctx, h.k.Brokers(), "lag", []string{topic})
	if err != nil {
		t.Fatalf("LagOf: %v", err)
	}
	ends := endOffsets(t, h.adm, topic)
	for p, end := range ends {
		if got := lag[topic][int(p.partition)]; got != end {
			t.Errorf("lag of %s/%d before consuming: expected %d, got %d", topic, p.partition, end, got)
		}
	}
	l := newLedger()
	stop := runConsumer(t, h.consumer(t, "lag", []string{topic}, l.handle, func(c *kafkabus.ConsumerConfig) {
		c.LagInterval = 20 * 1e6 // 20ms, so the gauge follows the commits
	}))
	h.waitCommitted(t, "lag", topic)
	eventually(t, "the lag gauge to reach 0", func() bool {
		return h.metric(t, "ratewire_consumer_lag_messages", map[string]string{"group": "lag"}) == 0 &&
			h.metric(t, "ratewire_consumer_last_message_timestamp_seconds", map[string]string{"group": "lag"}) > 0
	})
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	lag, err = kafkabus.LagOf(ctx, h.k.Brokers(), "lag", []string{topic})
	if err != nil {
		t.Fatalf("LagOf: %v", err)
	}
	if want := map[string]map[int]int64{topic: {0: 0, 1: 0, 2: 0}}; !maps.EqualFunc(lag, want, maps.Equal) {
		t.Errorf("lag after consuming: expected %v, got %v", want, lag)
	}
	l.assertExactlyOnce(t, msgs)
	if n := h.metric(t, "ratewire_consumer_handler_duration_seconds", map[string]string{"group": "lag"}); n != 12 {
		t.Errorf("handler duration observations: expected 12, got %v", n)
	}
}

// A broker is removed and partition leaders move while the group consumes:
// every event is applied exactly once, in order per key.
func TestFaultBrokerRemovedAndLeadersMoved(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	topic := event.TopicExchangeRateUpdated
	first, second, third := events(topic, 30, 6), events(topic, 30, 6), events(topic, 30, 6)
	publish(t, h.w, first...)
	l := newLedger()
	stop := runConsumer(t, h.consumer(t, "failover", []string{topic}, l.handle, nil))
	eventually(t, "the first batch to be applied", func() bool { return l.has(first) })

	// Move every partition's leadership to another broker, then take a
	// broker that leads nothing away.
	cl := h.k.Cluster()
	for p := range int32(3) {
		leader := cl.LeaderFor(topic, p)
		if err := cl.MoveTopicPartition(topic, p, (leader+1)%3); err != nil {
			t.Fatalf("MoveTopicPartition: %v", err)
		}
	}
	publishRetrying(t, h.w, second...)
	eventually(t, "the second batch to be applied", func() bool { return l.has(second) })
	if err := cl.RemoveNode(cl.LeaderFor(topic, 0)); err != nil {
		t.Fatalf("RemoveNode: %v", err)
	}
	publishRetrying(t, h.w, third...)
	all := append(append(first, second...), third...)
	eventually(t, "every batch to be applied", func() bool { return l.has(all) })
	h.waitCommitted(t, "failover", topic)
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	l.assertExactlyOnce(t, all)
	h.dlqRecords(t, topic, 0)
}

// Produce requests time out after the broker wrote them, so the writer's
// retry duplicates their records (same event ids, new offsets), and offset
// commits fail now and then. Every event is applied once; each duplicated
// record is counted as a duplicate; each refused commit as a commit error.
func TestFaultProduceTimeoutsAndCommitFailures(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	topic := event.TopicExchangeRateUpdated
	cl := h.k.Cluster()

	// Injector: the first 3 produce requests to topic are written by a
	// side client and then answered with a dropped connection, which
	// kafka-go sees as a timeout and retries.
	// The side client speaks Kafka 3.0's versions, so its produce requests
	// name topics as kafka-go's do (newer ones use topic ids).
	side, err := kgo.NewClient(kgo.SeedBrokers(h.k.Brokers()...), kgo.MaxVersions(kversion.V3_0_0()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(side.Close)
	const timeouts = 3
	var (
		mu       sync.Mutex
		injected int
		dupes    int // records written twice
		resends  sync.WaitGroup
	)
	cl.ControlKey(kmsg.Produce.Int16(), func(req kmsg.Request) (kmsg.Response, error, bool) {
		cl.KeepControl()
		pr := req.(*kmsg.ProduceRequest)
		// kafka-go speaks produce v8 at most; v9 and up is the side client.
		if pr.Version > 8 || len(pr.Topics) == 0 || pr.Topics[0].Topic != topic {
			return nil, nil, false
		}
		mu.Lock()
		defer mu.Unlock()
		if injected == timeouts {
			return nil, nil, false
		}
		injected++
		for _, t := range pr.Topics {
			for _, p := range t.Partitions {
				var b kmsg.RecordBatch
				if err := b.ReadFrom(p.Records); err == nil {
					dupes += int(b.NumRecords)
				}
			}
		}
		// Write a copy of the request through the side client, to the
		// same node, and drop kafka-go's connection without an answer.
		node := cl.CurrentNode()
		resends.Add(1)
		go func() {
			defer resends.Done()
			if _, err := side.Broker(int(node)).Request(context.Background(), pr); err != nil {
				t.Errorf("side client resend: %v", err)
			}
		}()
		return nil, errTimeout, true
	})

	// Refuse the first 2 offset commits.
	const commitFailures = 2
	var refusedCommits atomic.Int32
	cl.ControlKey(kmsg.OffsetCommit.Int16(), func(req kmsg.Request) (kmsg.Response, error, bool) {
		if refusedCommits.Load() >= commitFailures {
			return nil, nil, false
		}
		cl.KeepControl()
		refusedCommits.Add(1)
		r := req.(*kmsg.OffsetCommitRequest)
		resp := r.ResponseKind().(*kmsg.OffsetCommitResponse)
		for _, rt := range r.Topics {
			st := kmsg.NewOffsetCommitResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewOffsetCommitResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = kerr.RequestTimedOut.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})

	l := newLedger()
	stop := runConsumer(t, h.consumer(t, "flaky-io", []string{topic}, l.handle, nil))
	var all []kafka.Message
	for range 6 {
		batch := events(topic, 10, 5)
		publish(t, h.w, batch...)
		all = append(all, batch...)
	}
	resends.Wait()
	eventually(t, "every event to be applied", func() bool { return l.has(all) })
	h.waitCommitted(t, "flaky-io", topic)
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	l.assertExactlyOnce(t, all)
	mu.Lock()
	wantDupes := dupes
	mu.Unlock()
	if got := sumOffsets(endOffsets(t, h.adm, topic)); got != int64(len(all)+wantDupes) {
		t.Errorf("records in %s: expected %d events + %d duplicates, got %d", topic, len(all), wantDupes, got)
	}
	if wantDupes == 0 {
		t.Error("the injector duplicated no record")
	}
	if o, want := h.outcomes(t, "flaky-io"), map[string]int{"ok": len(all), "duplicate": wantDupes}; !maps.Equal(o, want) {
		t.Errorf("outcomes: expected %v, got %v", want, o)
	}
	if got := h.metric(t, "ratewire_consumer_commit_errors_total", map[string]string{"group": "flaky-io"}); got != commitFailures {
		t.Errorf("commit errors: expected %d, got %v", commitFailures, got)
	}
}
