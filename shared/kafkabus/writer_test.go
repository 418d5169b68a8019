package kafkabus_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"testing"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ratewire/ratewire/shared/embedded"
	"github.com/ratewire/ratewire/shared/event"
)

// consumeAll reads n records of topic from the start with franz-go, an
// independent client, so the test does not check kafka-go with itself.
func consumeAll(tb testing.TB, k *embedded.Kafka, topic string, n int) []*kgo.Record {
	tb.Helper()
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(k.Brokers()...),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	)
	if err != nil {
		tb.Fatalf("kgo.NewClient: %v", err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	var recs []*kgo.Record
	for len(recs) < n {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			tb.Fatalf("consume %s: expected %d records, got %d before %v", topic, n, len(recs), err)
		}
		fs.EachError(func(t string, p int32, err error) {
			tb.Errorf("consume %s/%d: %v", t, p, err)
		})
		recs = append(recs, fs.Records()...)
	}
	return recs
}

func TestPublishPartitionsByJavaMurmur2AndKeepsHeaders(t *testing.T) {
	t.Parallel()
	k := startKafka(t)
	w := newWriter(t, k)
	topic := event.TopicExchangeRateUpdated

	// 20 currency-like keys, 3 messages each, so every key's messages must
	// share a partition and arrive in publication order.
	const perKey = 3
	var keys []string
	for i := range 20 {
		keys = append(keys, fmt.Sprintf("C%02d", i))
	}
	var msgs []kafka.Message
	for round := range perKey {
		for _, key := range keys {
			msgs = append(msgs, kafka.Message{
				Topic: topic,
				Key:   []byte(key),
				Value: []byte(strconv.Itoa(round)),
				Headers: []kafka.Header{
					{Key: "event_id", Value: []byte(key + "-" + strconv.Itoa(round))},
					{Key: "content-type", Value: []byte("application/json")},
				},
			})
		}
	}
	publish(t, w, msgs...)

	recs := consumeAll(t, k, topic, len(msgs))
	if len(recs) != len(msgs) {
		t.Fatalf("records: expected %d, got %d", len(msgs), len(recs))
	}

	// franz-go's StickyKeyPartitioner(nil) is documented to partition
	// exactly as the Java client does (murmur2, high bit masked, mod n).
	java := kgo.StickyKeyPartitioner(nil).ForTopic(topic)
	used := map[int32]bool{}
	rounds := map[string][]string{}
	for _, r := range recs {
		key := string(r.Key)
		want := int32(java.Partition(&kgo.Record{Key: r.Key}, 3))
		if r.Partition != want {
			t.Errorf("key %s: expected partition %d (Java murmur2), got %d", key, want, r.Partition)
		}
		used[r.Partition] = true
		rounds[key] = append(rounds[key], string(r.Value))

		wantHeaders := []kgo.RecordHeader{
			{Key: "event_id", Value: []byte(key + "-" + string(r.Value))},
			{Key: "content-type", Value: []byte("application/json")},
		}
		if !slices.EqualFunc(r.Headers, wantHeaders, func(a, b kgo.RecordHeader) bool {
			return a.Key == b.Key && string(a.Value) == string(b.Value)
		}) {
			t.Errorf("key %s headers: expected %v, got %v", key, wantHeaders, r.Headers)
		}
	}
	if len(used) != 3 {
		t.Errorf("partitions used: expected all 3, got %v", used)
	}
	for key, got := range rounds {
		if want := []string{"0", "1", "2"}; !slices.Equal(got, want) {
			t.Errorf("key %s order: expected %v, got %v", key, want, got)
		}
	}
}

func TestPublishRejectsMessageWithoutTopic(t *testing.T) {
	t.Parallel()
	k := startKafka(t)
	w := newWriter(t, k)
	err := w.Publish(context.Background(), kafka.Message{Key: []byte("k"), Value: []byte("v")})
	if err == nil {
		t.Fatal("Publish without topic: expected an error, got nil")
	}
}

func TestPublishUnknownTopicFails(t *testing.T) {
	t.Parallel()
	k := startKafka(t)
	w := newWriter(t, k)
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	err := w.Publish(ctx,
		kafka.Message{Topic: "no_such_topic", Key: []byte("k"), Value: []byte("v")},
	)
	if err == nil {
		t.Fatal("Publish to a topic that does not exist: expected an error (no auto-creation), got nil")
	}
	if !errors.Is(err, kafka.UnknownTopicOrPartition) {
		t.Errorf("Publish to a topic that does not exist: expected %v, got %v", kafka.UnknownTopicOrPartition, err)
	}
}

func TestPublishNothingIsNoop(t *testing.T) {
	t.Parallel()
	k := startKafka(t)
	w := newWriter(t, k)
	if err := w.Publish(context.Background()); err != nil {
		t.Fatalf("Publish(): expected nil, got %v", err)
	}
}
