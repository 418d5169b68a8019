package history_test

import (
	"context"
	"strings"
	"testing"

	"github.com/segmentio/kafka-go"

	"github.com/ratewire/ratewire/history"
	"github.com/ratewire/ratewire/shared/embedded"
	"github.com/ratewire/ratewire/shared/event"
	"github.com/ratewire/ratewire/shared/kafkabus"
)

// TestReplayDLQDefaultsToHistoryGroup checks that `history replay-dlq`
// exists and replays what the history-service group dead-lettered, not
// what the currency service did, unless told --group any.
func TestReplayDLQDefaultsToHistoryGroup(t *testing.T) {
	k, err := embedded.StartKafka(embedded.KafkaOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	w := kafkabus.NewWriter(kafkabus.WriterConfig{Brokers: k.Brokers(), ClientID: "test"})
	defer w.Close()
	topic := event.TopicCacheInvalidation
	dead := func(group string) kafka.Message {
		return kafka.Message{Topic: event.DLQTopic(topic), Key: []byte("exchange_rate"), Value: []byte("{not json"),
			Headers: []kafka.Header{
				{Key: event.HeaderDLQOriginalTopic, Value: []byte(topic)},
				{Key: event.HeaderDLQOriginalPartition, Value: []byte("0")},
				{Key: event.HeaderDLQOriginalOffset, Value: []byte("7")},
				{Key: event.HeaderDLQConsumerGroup, Value: []byte(group)},
				{Key: event.HeaderDLQErrorClass, Value: []byte(event.DLQClassInvalid)},
			}}
	}
	ctx := context.Background()
	if err := w.Publish(ctx, dead("currency-service"), dead("history-service")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--topic", topic, "--dry-run"}, "scanned 2, matched 1, replayed 0 (dry run)"},
		{[]string{"--topic", topic, "--group", "any", "--dry-run"}, "scanned 2, matched 2, replayed 0 (dry run)"},
	} {
		var out strings.Builder
		if err := history.ReplayDLQ(ctx, k.Brokers(), tc.args, &out, nil); err != nil {
			t.Fatalf("replay-dlq %v: %v", tc.args, err)
		}
		if !strings.Contains(out.String(), tc.want) {
			t.Errorf("replay-dlq %v: expected %q, got %q", tc.args, tc.want, out.String())
		}
	}
}
