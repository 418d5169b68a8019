package currency_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"github.com/shopspring/decimal"

	"github.com/ratewire/ratewire/currency/internal/cache"
	"github.com/ratewire/ratewire/currency/internal/consumer"
	"github.com/ratewire/ratewire/currency/internal/rates"
	"github.com/ratewire/ratewire/currency/internal/store"
	"github.com/ratewire/ratewire/ingestor"
	"github.com/ratewire/ratewire/shared/dedupe"
	"github.com/ratewire/ratewire/shared/event"
	"github.com/ratewire/ratewire/shared/kafkabus"
	"github.com/ratewire/ratewire/shared/logx"
	"github.com/ratewire/ratewire/shared/testinfra"
)

// benchCodes are the currencies the benchmark's events update in turn.
var benchCodes = []string{"USD", "JPY", "EUR", "CNY", "GBP", "AUD", "CAD", "CHF", "HKD", "SGD", "THB", "VND"}

// BenchmarkConsumeExchangeRateUpdated drains N exchange_rate_updated
// events from kfake twice in one run: once with a bare kafka-go group
// Reader that only fetches (no handler, no commits: the ceiling), and once
// through the full runtime (kafkabus.Consumer with Redis dedupe, metrics,
// commits) into the currency handlers as currency.Run wires them (rates
// service, rate:{CODE} cache, SQLite store). Both rates count from the
// first message to the last, so group joins are left out of both. It
// reports events/s of each and runtime/bare ("ratio"), and the same
// runtime around no-op handlers ("noop_handler_events/s", "noop_ratio"),
// each the median of three interleaved rounds: the difference between the two runtime figures is the handlers' own cost
// (decoding, one version-guarded cache script per batch), the difference
// between noop and bare the runtime's (a dedupe lookup and one SADD of
// marks per batch, metrics, commits).
//
// Kafka runs in a process of its own (testinfra.KafkaProcess), so the
// consumers' garbage collector does not mark the broker's copy of every
// event, as it would not in production. It runs once on miniredis (in this process, so it shares the CPU with
// the consumer and runs Lua in Go) and once on the Redis server of
// RATEWIRE_TEST_REDIS_URL, as in production.
func BenchmarkConsumeExchangeRateUpdated(b *testing.B) {
	b.Run("miniredis", func(b *testing.B) { benchConsume(b, testinfra.MiniRedis(b)) })
	b.Run("redis", func(b *testing.B) { benchConsume(b, testinfra.RealRedis(b)) })
}

func benchConsume(b *testing.B, r testinfra.Redis) {
	brokers := testinfra.KafkaProcess(b)
	dbURL := testinfra.SQLiteURL(b)
	db := testinfra.OpenDB(b, dbURL)
	ctx := context.Background()
	if err := ingestor.Migrate(ctx, db); err != nil {
		b.Fatal(err)
	}

	n := testinfra.BenchSize(b, 200_000)
	// Publish n valid events, versions rising per currency.
	w := kafkabus.NewWriter(kafkabus.WriterConfig{Brokers: brokers, ClientID: "bench"})
	defer w.Close()
	at := time.Date(2026, 11, 22, 2, 0, 0, 0, time.UTC)
	batch := make([]kafka.Message, 0, 1000)
	for i := range n {
		code := benchCodes[i%len(benchCodes)]
		v := int64(i/len(benchCodes) + 1)
		ev := &event.ExchangeRateUpdated{Rate: event.Rate{CurrencyCode: code, CurrencyName: code, DealBaseRate: decimal.New(1000+int64(i%500), 0),
			Source: "simulated", RecordedAt: at.Add(time.Duration(v) * time.Second), UpdatedAt: at, Version: v}}
		event.Stamp(ev, "bench")
		m, err := event.Encode(ev, "bench")
		if err != nil {
			b.Fatal(err)
		}
		batch = append(batch, m)
		if len(batch) == cap(batch) || i == n-1 {
			if err := w.Publish(ctx, batch...); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	topic := []string{event.TopicExchangeRateUpdated}

	// The ceiling: a bare group reader that fetches and does nothing else.
	bare := func(round int) float64 {
		rd := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, GroupID: fmt.Sprintf("bench-bare-%d-%d", n, round), GroupTopics: topic,
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
		return rate(n-1, time.Since(first))
	}

	// The runtime: the currency service's consumer as currency.Run wires it,
	// or, with noop, the same runtime (dedupe, metrics, commits) around a
	// handler that does nothing, which isolates the runtime's own cost.
	runtime := func(round int, name string, noop bool) float64 {
		log := logx.Discard()
		// A cache of its own per round, so that no round finds the
		// rates of the one before and skips their writes.
		prefix := fmt.Sprintf("%sround%d:", r.Prefix, round)
		svc := rates.New(store.New(db), cache.New(r.Client, prefix), log, nil)
		handle, handleBatch := consumer.Handler(svc, log), consumer.BatchHandler(svc, log)
		if noop {
			handle = func(context.Context, kafka.Message) error { return nil }
			handleBatch = func(context.Context, []kafka.Message) error { return nil }
		}
		var (
			handled atomic.Int64
			once    sync.Once
			first   time.Time
			last    time.Time
			done    = make(chan struct{})
		)
		count := func(k int) {
			if handled.Add(int64(k)) == int64(n) {
				last = time.Now()
				close(done)
			}
		}
		c, err := kafkabus.NewConsumer(kafkabus.ConsumerConfig{
			Brokers: brokers, GroupID: fmt.Sprintf("bench-%s-%d-%d", name, n, round), Topics: topic, Logger: log,
			Dedupe: dedupe.NewRedis(r.Client, dedupe.Options{KeyPrefix: r.Prefix}), Registerer: prometheus.NewRegistry(),
			Handler: func(ctx context.Context, m kafka.Message) error {
				once.Do(func() { first = time.Now() })
				if err := handle(ctx, m); err != nil {
					return err
				}
				count(1)
				return nil
			},
			BatchHandler: func(ctx context.Context, ms []kafka.Message) error {
				once.Do(func() { first = time.Now() })
				if err := handleBatch(ctx, ms); err != nil {
					return err
				}
				count(len(ms))
				return nil
			},
		})
		if err != nil {
			b.Fatal(err)
		}
		runCtx, cancel := context.WithCancel(ctx)
		stopped := make(chan struct{})
		go func() { defer close(stopped); _ = c.Run(runCtx) }()
		select {
		case <-done:
		case <-time.After(10 * time.Minute):
			b.Fatalf("runtime handled %d of %d events", handled.Load(), n)
		}
		cancel()
		<-stopped
		return rate(n-1, last.Sub(first))
	}

	// Rounds of the three, interleaved, so that a spell of load on the
	// machine does not fall on one side only; the figures are medians,
	// the ratios the medians of each round's own.
	const rounds = 3
	var bares, runtimes, noops, ratios, noopRatios []float64
	b.ResetTimer()
	for round := range rounds {
		bareRate := bare(round)
		runtimeRate := runtime(round, "currency", false)
		noopRate := runtime(round, "noop", true)
		bares, runtimes, noops = append(bares, bareRate), append(runtimes, runtimeRate), append(noops, noopRate)
		ratios, noopRatios = append(ratios, runtimeRate/bareRate), append(noopRatios, noopRate/bareRate)
	}
	b.StopTimer()
	b.ReportMetric(median(runtimes), "events/s")
	b.ReportMetric(median(bares), "bare_events/s")
	b.ReportMetric(median(ratios), "ratio")
	b.ReportMetric(median(noops), "noop_handler_events/s")
	b.ReportMetric(median(noopRatios), "noop_ratio")
}

// median is the middle value of xs (the mean of the two middle ones for an
// even count).
func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if n := len(s); n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return s[len(s)/2]
}

// rate is n events over d, per second.
func rate(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}
