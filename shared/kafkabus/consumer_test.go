package kafkabus_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"testing"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ratewire/ratewire/shared/event"
	"github.com/ratewire/ratewire/shared/kafkabus"
)

func TestNewConsumerValidates(t *testing.T) {
	t.Parallel()
	ok := func(context.Context, kafka.Message) error { return nil }
	valid := kafkabus.ConsumerConfig{Brokers: []string{"127.0.0.1:1"}, GroupID: "g", Topics: []string{"t"}, Handler: ok}
	tests := []struct {
		name    string
		mutate  func(*kafkabus.ConsumerConfig)
		wantErr bool
	}{
		{"valid", func(*kafkabus.ConsumerConfig) {}, false},
		{"last offset", func(c *kafkabus.ConsumerConfig) { c.StartOffset = kafka.LastOffset }, false},
		{"no brokers", func(c *kafkabus.ConsumerConfig) { c.Brokers = nil }, true},
		{"no group", func(c *kafkabus.ConsumerConfig) { c.GroupID = "" }, true},
		{"no topics", func(c *kafkabus.ConsumerConfig) { c.Topics = nil }, true},
		{"empty topic", func(c *kafkabus.ConsumerConfig) { c.Topics = []string{""} }, true},
		{"no handler", func(c *kafkabus.ConsumerConfig) { c.Handler = nil }, true},
		{"bad start offset", func(c *kafkabus.ConsumerConfig) { c.StartOffset = 42 }, true},
		{"negative timeout", func(c *kafkabus.ConsumerConfig) { c.HandlerTimeout = -1 }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid
			tt.mutate(&c)
			_, err := kafkabus.NewConsumer(c)
			if gotErr := err != nil; gotErr != tt.wantErr {
				t.Errorf("NewConsumer: expected error %v, got %v", tt.wantErr, err)
			}
		})
	}
}

// recorder is a Handler that counts calls per message and closes done once
// want distinct messages have been handled successfully.
type recorder struct {
	mu     sync.Mutex
	calls  map[string]int // "topic/partition/offset" -> handler calls
	ok     map[string]bool
	want   int
	done   chan struct{}
	failOn func(m kafka.Message, call int) error
}

func newRecorder(want int) *recorder {
	return &recorder{calls: map[string]int{}, ok: map[string]bool{}, want: want, done: make(chan struct{})}
}

func msgID(m kafka.Message) string { return fmt.Sprintf("%s/%d/%d", m.Topic, m.Partition, m.Offset) }

func (r *recorder) handle(_ context.Context, m kafka.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	id := msgID(m)
	r.calls[id]++
	if r.failOn != nil {
		if err := r.failOn(m, r.calls[id]); err != nil {
			return err
		}
	}
	r.ok[id] = true
	if len(r.ok) == r.want {
		close(r.done)
	}
	return nil
}

func (r *recorder) snapshot() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.calls)
}

func TestConsumerHandlesEveryTopicOnceAndCommits(t *testing.T) {
	t.Parallel()
	k := startKafka(t)
	w := newWriter(t, k)
	adm := newAdmin(t, k)
	topics := event.TopicNames()

	var msgs []kafka.Message
	for _, topic := range topics {
		for i := range 6 {
			msgs = append(msgs, kafka.Message{Topic: topic, Key: fmt.Appendf(nil, "key-%d", i), Value: []byte("v")})
		}
	}
	publish(t, w, msgs...)

	const group = "happy"
	rec := newRecorder(len(msgs))
	c, err := kafkabus.NewConsumer(kafkabus.ConsumerConfig{
		Brokers: k.Brokers(), GroupID: group, Topics: topics, Handler: rec.handle, Logger: testLogger(),
	})
	if err != nil {
		t.Fatalf("NewConsumer: %v", err)
	}
	stop := runConsumer(t, c)
	waitFor(t, rec.done, "every message to be handled")
	if err := stop(); err != nil {
		t.Fatalf("Run: expected nil after cancellation, got %v", err)
	}

	calls := rec.snapshot()
	if len(calls) != len(msgs) {
		t.Errorf("distinct messages handled: expected %d, got %d", len(msgs), len(calls))
	}
	for id, n := range calls {
		if n != 1 {
			t.Errorf("message %s: expected 1 handler call, got %d", id, n)
		}
	}

	// Every partition is committed up to its end, so a new member of the
	// group would start after the last message and receive nothing more.
	want := endOffsets(t, adm, topics...)
	got := committed(t, adm, group)
	if !maps.Equal(got, want) {
		t.Errorf("committed offsets: expected %v (end offsets), got %v", want, got)
	}
}

func TestConsumerRetriesFailingHandlerAndCommitsOnce(t *testing.T) {
	t.Parallel()
	k := startKafka(t)
	w := newWriter(t, k)
	adm := newAdmin(t, k)
	topic := event.TopicNewDataReceived
	publish(t, w,
		kafka.Message{Topic: topic, Key: []byte("a"), Value: []byte("0")},
		kafka.Message{Topic: topic, Key: []byte("flaky"), Value: []byte("1")},
	)

	// Count the offset commits that name the flaky message's successor.
	var mu sync.Mutex
	commitsOfFlaky := 0
	k.Cluster().ControlKey(kmsg.OffsetCommit.Int16(), func(req kmsg.Request) (kmsg.Response, error, bool) {
		for _, rt := range req.(*kmsg.OffsetCommitRequest).Topics {
			for _, p := range rt.Partitions {
				if rt.Topic == topic && p.Offset == 2 {
					mu.Lock()
					commitsOfFlaky++
					mu.Unlock()
				}
			}
		}
		return nil, nil, false // observe only; the cluster handles the commit
	})

	errBoom := errors.New("boom")
	rec := newRecorder(2)
	rec.failOn = func(m kafka.Message, call int) error {
		if string(m.Key) == "flaky" && call <= 2 {
			return errBoom
		}
		return nil
	}
	const group = "retry"
	c, err := kafkabus.NewConsumer(kafkabus.ConsumerConfig{
		Brokers: k.Brokers(), GroupID: group, Topics: []string{topic}, Handler: rec.handle,
		RetryBackoff: 1, Logger: testLogger(),
	})
	if err != nil {
		t.Fatalf("NewConsumer: %v", err)
	}
	stop := runConsumer(t, c)
	waitFor(t, rec.done, "both messages to be handled")
	if err := stop(); err != nil {
		t.Fatalf("Run: expected nil after cancellation, got %v", err)
	}

	calls := rec.snapshot()
	if got := calls[topic+"/0/1"]; got != 3 {
		t.Errorf("flaky message handler calls: expected 3, got %d", got)
	}
	if got := calls[topic+"/0/0"]; got != 1 {
		t.Errorf("first message handler calls: expected 1, got %d", got)
	}
	mu.Lock()
	n := commitsOfFlaky
	mu.Unlock()
	if n != 1 {
		t.Errorf("commits of offset 2: expected 1, got %d", n)
	}
	if got := committed(t, adm, group)[tp{topic, 0}]; got != 2 {
		t.Errorf("committed offset: expected 2, got %d", got)
	}
}

func TestConsumerCancelKeepsHandledCommitsAndReturnsNil(t *testing.T) {
	t.Parallel()
	k := startKafka(t)
	w := newWriter(t, k)
	adm := newAdmin(t, k)
	topic := event.TopicCacheInvalidation
	publish(t, w,
		kafka.Message{Topic: topic, Value: []byte("0")},
		kafka.Message{Topic: topic, Value: []byte("1")},
		kafka.Message{Topic: topic, Value: []byte("2")},
	)

	// Messages 0 and 1 succeed; message 2 blocks until Run's context ends
	// and then fails, so it must stay uncommitted.
	blocked := make(chan struct{})
	var once sync.Once
	var mu sync.Mutex
	var handled []int64
	handler := func(ctx context.Context, m kafka.Message) error {
		if m.Offset < 2 {
			mu.Lock()
			handled = append(handled, m.Offset)
			mu.Unlock()
			return nil
		}
		once.Do(func() { close(blocked) })
		<-ctx.Done()
		return ctx.Err()
	}
	const group = "cancel"
	c, err := kafkabus.NewConsumer(kafkabus.ConsumerConfig{
		Brokers: k.Brokers(), GroupID: group, Topics: []string{topic}, Handler: handler, Logger: testLogger(),
	})
	if err != nil {
		t.Fatalf("NewConsumer: %v", err)
	}
	stop := runConsumer(t, c)
	waitFor(t, blocked, "the third message to reach the handler")
	if err := stop(); err != nil {
		t.Fatalf("Run: expected nil after cancellation, got %v", err)
	}

	mu.Lock()
	got := fmt.Sprint(handled)
	mu.Unlock()
	if want := "[0 1]"; got != want {
		t.Errorf("handled offsets: expected %s, got %s", want, got)
	}
	if got := committed(t, adm, group)[tp{topic, 0}]; got != 2 {
		t.Errorf("committed offset after cancel: expected 2 (messages 0 and 1 handled, 2 not), got %d", got)
	}
}

func TestConsumerResumesFromCommittedOffset(t *testing.T) {
	t.Parallel()
	k := startKafka(t)
	w := newWriter(t, k)
	topic := event.TopicDataProcessingCompleted
	const group = "resume"

	run := func(want int) *recorder {
		t.Helper()
		rec := newRecorder(want)
		c, err := kafkabus.NewConsumer(kafkabus.ConsumerConfig{
			Brokers: k.Brokers(), GroupID: group, Topics: []string{topic}, Handler: rec.handle, Logger: testLogger(),
		})
		if err != nil {
			t.Fatalf("NewConsumer: %v", err)
		}
		stop := runConsumer(t, c)
		waitFor(t, rec.done, fmt.Sprintf("%d messages", want))
		if err := stop(); err != nil {
			t.Fatalf("Run: expected nil, got %v", err)
		}
		return rec
	}

	publish(t, w, kafka.Message{Topic: topic, Value: []byte("first")})
	run(1)
	publish(t, w, kafka.Message{Topic: topic, Value: []byte("second")})
	second := run(1)

	// The second member of the group starts at the committed offset, so it
	// sees only the new message, not the first one again.
	want := map[string]int{topic + "/0/1": 1}
	if got := second.snapshot(); !maps.Equal(got, want) {
		t.Errorf("second consumer handled: expected %v, got %v", want, got)
	}
}
