package kafkabus_test

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ratewire/ratewire/shared/embedded"
	"github.com/ratewire/ratewire/shared/kafkabus"
)

// waitLimit bounds every wait in these tests so a bug fails the test instead
// of hanging it; it is a deadline, not an expectation about speed.
const waitLimit = 30 * time.Second

// testLogger logs to stderr at Debug when KAFKABUS_TEST_LOG is set, and
// discards otherwise.
func testLogger() *slog.Logger {
	if os.Getenv("KAFKABUS_TEST_LOG") == "" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// startKafka starts an embedded cluster on random ports for one test.
func startKafka(tb testing.TB) *embedded.Kafka {
	tb.Helper()
	k, err := embedded.StartKafka(embedded.KafkaOptions{})
	if err != nil {
		tb.Fatalf("StartKafka: %v", err)
	}
	tb.Cleanup(k.Close)
	return k
}

// newWriter returns a Writer on k that is closed when the test ends.
func newWriter(tb testing.TB, k *embedded.Kafka) *kafkabus.Writer {
	tb.Helper()
	w := kafkabus.NewWriter(kafkabus.WriterConfig{Brokers: k.Brokers(), ClientID: "kafkabus-test", Logger: testLogger()})
	tb.Cleanup(func() {
		if err := w.Close(); err != nil {
			tb.Errorf("Writer.Close: expected nil, got %v", err)
		}
	})
	return w
}

// publish writes msgs or fails the test.
func publish(tb testing.TB, w *kafkabus.Writer, msgs ...kafka.Message) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := w.Publish(ctx, msgs...); err != nil {
		tb.Fatalf("Publish %d messages: expected nil, got %v", len(msgs), err)
	}
}

// newAdmin returns a franz-go admin client on k.
func newAdmin(tb testing.TB, k *embedded.Kafka) *kadm.Client {
	tb.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.Brokers()...))
	if err != nil {
		tb.Fatalf("kgo.NewClient: %v", err)
	}
	tb.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

// tp names a topic partition.
type tp struct {
	topic     string
	partition int32
}

// committed returns the group's committed offset per partition.
func committed(tb testing.TB, adm *kadm.Client, group string) map[tp]int64 {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	resp, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		tb.Fatalf("FetchOffsets(%s): %v", group, err)
	}
	out := map[tp]int64{}
	for _, r := range resp.Sorted() {
		if r.Err != nil {
			tb.Fatalf("FetchOffsets(%s) %s/%d: %v", group, r.Topic, r.Partition, r.Err)
		}
		out[tp{r.Topic, r.Partition}] = r.At
	}
	return out
}

// endOffsets returns the high watermark of every partition of topics.
func endOffsets(tb testing.TB, adm *kadm.Client, topics ...string) map[tp]int64 {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	listed, err := adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		tb.Fatalf("ListEndOffsets: %v", err)
	}
	out := map[tp]int64{}
	listed.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			tb.Fatalf("ListEndOffsets %s/%d: %v", o.Topic, o.Partition, o.Err)
		}
		out[tp{o.Topic, o.Partition}] = o.Offset
	})
	return out
}

// runConsumer starts c.Run in the background and returns a function that
// cancels it and returns Run's result once Run has returned.
func runConsumer(tb testing.TB, c *kafkabus.Consumer) (stop func() error) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	stopped := false
	var result error
	stop = func() error {
		tb.Helper()
		if stopped {
			return result
		}
		stopped = true
		cancel()
		select {
		case result = <-done:
		case <-time.After(waitLimit):
			tb.Fatalf("Run did not return within %s of cancellation", waitLimit)
		}
		return result
	}
	tb.Cleanup(func() { _ = stop() })
	return stop
}

// waitFor blocks until ch is closed or fails the test with what.
func waitFor(tb testing.TB, ch <-chan struct{}, what string) {
	tb.Helper()
	select {
	case <-ch:
	case <-time.After(waitLimit):
		tb.Fatalf("timed out after %s waiting for %s", waitLimit, what)
	}
}
