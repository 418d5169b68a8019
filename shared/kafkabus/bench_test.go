package kafkabus_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/ratewire/ratewire/shared/dedupe"
	"github.com/ratewire/ratewire/shared/event"
	"github.com/ratewire/ratewire/shared/kafkabus"
	"github.com/ratewire/ratewire/shared/testinfra"
)

// BenchmarkConsumerOverhead measures the runtime's own cost per message,
// with Kafka in a process of its own (testinfra.KafkaProcess):
// 200,000 (or -benchtime N x) events of exchange_rate_updated (3 partitions) drained by a bare
// kafka-go group reader that only fetches, then by a Consumer with the Redis
// dedupe store (miniredis), metrics and commits around handlers (a batch
// handler and a per-message one) that do nothing. It reports both rates
// from the first message to the last, and their ratio; currency's
// BenchmarkConsumeExchangeRateUpdated adds the currency handlers on top.
func BenchmarkConsumerOverhead(b *testing.B) {
	n := testinfra.BenchSize(b, 200_000)
	brokers := testinfra.KafkaProcess(b)
	w := kafkabus.NewWriter(kafkabus.WriterConfig{Brokers: brokers, ClientID: "bench"})
	defer w.Close()
	r := testinfra.MiniRedis(b)
	topic := event.TopicExchangeRateUpdated
	for sent := 0; sent < n; {
		chunk := min(1000, n-sent)
		publish(b, w, events(topic, chunk, 12)...)
		sent += chunk
	}
	ctx := context.Background()

	bare := func() float64 {
		rd := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, GroupID: fmt.Sprintf("bare-%d", n), GroupTopics: []string{topic},
			StartOffset: kafka.FirstOffset, MaxWait: 250 * time.Millisecond, HeartbeatInterval: time.Second,
			SessionTimeout: 10 * time.Second, JoinGroupBackoff: time.Second})
		defer rd.Close()
		var first time.Time
		for i := range n {
			if _, err := rd.FetchMessage(ctx); err != nil {
				b.Fatal(err)
			}
			if i == 0 {
				first = time.Now()
			}
		}
		return float64(n-1) / time.Since(first).Seconds()
	}

	runtime := func() float64 {
		var (
			handled     atomic.Int64
			once        sync.Once
			first, last time.Time
			done        = make(chan struct{})
		)
		c, err := kafkabus.NewConsumer(kafkabus.ConsumerConfig{
			Brokers: brokers, GroupID: fmt.Sprintf("noop-%d", n), Topics: []string{topic}, Logger: testLogger(),
			Dedupe: dedupe.NewRedis(r.Client, dedupe.Options{}), Registerer: prometheus.NewRegistry(),
			Handler: func(context.Context, kafka.Message) error {
				once.Do(func() { first = time.Now() })
				if handled.Add(1) == int64(n) {
					last = time.Now()
					close(done)
				}
				return nil
			},
			BatchHandler: func(_ context.Context, ms []kafka.Message) error {
				once.Do(func() { first = time.Now() })
				if handled.Add(int64(len(ms))) == int64(n) {
					last = time.Now()
					close(done)
				}
				return nil
			},
		})
		if err != nil {
			b.Fatal(err)
		}
		stop := runConsumer(b, c)
		waitFor(b, done, "every event to be handled")
		if err := stop(); err != nil {
			b.Fatal(err)
		}
		return float64(n-1) / last.Sub(first).Seconds()
	}

	b.ResetTimer()
	bareRate := bare()
	runtimeRate := runtime()
	b.StopTimer()
	b.ReportMetric(runtimeRate, "events/s")
	b.ReportMetric(bareRate, "bare_events/s")
	b.ReportMetric(runtimeRate/bareRate, "ratio")
}
