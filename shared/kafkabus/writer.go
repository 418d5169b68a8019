package kafkabus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/segmentio/kafka-go"
)

// Writer defaults; see NewWriter.
const (
	defaultBatchTimeout    = 2 * time.Millisecond
	defaultWriteTimeout    = 10 * time.Second
	defaultMaxAttempts     = 5
	defaultWriteBackoffMin = 100 * time.Millisecond
	defaultWriteBackoffMax = time.Second
)

// WriterConfig configures NewWriter.
type WriterConfig struct {
	// Brokers is the bootstrap list, "host:port" each.
	Brokers []string
	// ClientID names this producer in broker logs and quotas.
	ClientID string
	// BatchTimeout bounds how long a message waits for others to share its
	// batch; 0 means 2ms. kafka-go's own default of 1s would delay every
	// synchronous Publish by a second.
	BatchTimeout time.Duration
	// WriteTimeout bounds each produce round trip; 0 means 10s.
	WriteTimeout time.Duration
	// Logger receives kafka-go's logs (internal at Debug, errors at Warn);
	// nil discards them.
	Logger *slog.Logger
}

// Writer publishes messages to any topic synchronously with acks=all and
// Java-compatible murmur2 key partitioning, so a key lands on the same
// partition whichever client (Go, Java, kcat) produced it and per-key order
// holds. Create one per process and reuse it: it pools connections and
// caches metadata. It is safe for concurrent use.
type Writer struct {
	w         *kafka.Writer
	transport *kafka.Transport
}

// NewWriter returns a Writer for c. It does not connect until the first
// Publish. The writer has no default topic: every message names its own,
// and topics are never auto-created, so a misspelt topic is an error rather
// than a new, unread topic.
func NewWriter(c WriterConfig) *Writer {
	if c.BatchTimeout <= 0 {
		c.BatchTimeout = defaultBatchTimeout
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = defaultWriteTimeout
	}
	logger, errLogger := kafkaLoggers(orDiscard(c.Logger))
	transport := &kafka.Transport{ClientID: c.ClientID}
	return &Writer{
		transport: transport,
		w: &kafka.Writer{
			Addr:                   kafka.TCP(c.Brokers...),
			Balancer:               &kafka.Murmur2Balancer{},
			RequiredAcks:           kafka.RequireAll,
			BatchTimeout:           c.BatchTimeout,
			WriteTimeout:           c.WriteTimeout,
			ReadTimeout:            c.WriteTimeout,
			MaxAttempts:            defaultMaxAttempts,
			WriteBackoffMin:        defaultWriteBackoffMin,
			WriteBackoffMax:        defaultWriteBackoffMax,
			Async:                  false,
			AllowAutoTopicCreation: false,
			Transport:              transport,
			Logger:                 logger,
			ErrorLogger:            errLogger,
		},
	}
}

// Publish writes msgs and returns once every one is acknowledged by all
// in-sync replicas, or with an error. Each message must set Topic. The
// returned error wraps kafka.WriteErrors (use errors.As) and, through
// errors.Join, the per-message causes annotated with topic and key; messages
// without an error in it were written. Publish never drops a message
// silently: the caller (the ingestor's outbox relay) decides what to retry.
func (w *Writer) Publish(ctx context.Context, msgs ...kafka.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	for i, m := range msgs {
		if m.Topic == "" {
			return fmt.Errorf("kafkabus: publish: message %d (key %q) has no topic", i, m.Key)
		}
	}
	err := w.w.WriteMessages(ctx, msgs...)
	if err == nil {
		return nil
	}
	var we kafka.WriteErrors
	if !errors.As(err, &we) {
		return fmt.Errorf("kafkabus: publish %d messages: %w", len(msgs), err)
	}
	details := make([]error, 0, we.Count())
	for i, e := range we {
		if e != nil && i < len(msgs) {
			details = append(details, fmt.Errorf("message %d (topic %s, key %q): %w", i, msgs[i].Topic, msgs[i].Key, e))
		}
	}
	return fmt.Errorf("kafkabus: publish: %w: %w", we, errors.Join(details...))
}

// Close flushes nothing (Publish is synchronous), waits for in-flight
// Publish calls and releases the writer's connections.
func (w *Writer) Close() error {
	err := w.w.Close()
	w.transport.CloseIdleConnections()
	if err != nil {
		return fmt.Errorf("kafkabus: close writer: %w", err)
	}
	return nil
}
