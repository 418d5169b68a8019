package kafkabus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/ratewire/ratewire/shared/event"
)

// replayBatch is how many messages Replay publishes per write.
const replayBatch = 100

// ReplayConfig selects the dead-lettered messages Replay moves back.
type ReplayConfig struct {
	// Brokers is the bootstrap list, "host:port" each.
	Brokers []string
	// Topic is the original topic; Replay reads "<Topic>.dlq".
	Topic string
	// Since and Until bound the time a message was dead-lettered (its
	// record timestamp in the dead-letter topic): Since inclusive, Until
	// exclusive; zero means unbounded.
	Since, Until time.Time
	// ErrorClass keeps only messages of that class (event.DLQClass*:
	// "transient", "invalid", "permanent"); empty keeps all.
	ErrorClass string
	// ConsumerGroup keeps only messages dead-lettered by that group; empty
	// keeps all. Several groups read one topic, and each dead-letters on
	// its own, so one message can be in the dead-letter topic more than
	// once; the groups' dedupe makes replaying every copy harmless.
	ConsumerGroup string
	// DryRun counts what would be replayed and publishes nothing.
	DryRun bool
	// Writer publishes the messages; nil makes Replay create one.
	Writer *Writer
	// Logger receives one line per replayed message; nil discards.
	Logger *slog.Logger
}

// ReplayResult counts what Replay did.
type ReplayResult struct {
	// Scanned is how many dead-letter messages were read.
	Scanned int
	// Matched is how many passed the filters.
	Matched int
	// Replayed is how many were published to the original topic (0 in a
	// dry run).
	Replayed int
}

// Replay moves dead-lettered messages of one topic back to it: it reads
// "<topic>.dlq" from the start up to its end as of the call, keeps the
// messages that pass the filters, and publishes each to its original topic
// with its original key, value and headers (event_id included, so consumer
// groups that already handled it skip it) and without the dlq.* headers.
// Partitions are replayed one after the other in offset order, so messages
// of one key keep their order.
//
// Kafka cannot delete single records, so the dead-letter topic keeps its
// copies: a second Replay with the same filters publishes them again, which
// is harmless (dedupe) but noisy; narrow it with Since. A message that fails
// again is dead-lettered again, with fresh headers.
func Replay(ctx context.Context, c ReplayConfig) (ReplayResult, error) {
	var res ReplayResult
	if len(c.Brokers) == 0 || c.Topic == "" {
		return res, errors.New("kafkabus: replay: brokers and topic are required")
	}
	if _, isDLQ := event.OriginalTopic(c.Topic); isDLQ {
		return res, fmt.Errorf("kafkabus: replay: name the original topic, not the dead-letter topic %q", c.Topic)
	}
	log := orDiscard(c.Logger)
	w := c.Writer
	if w == nil && !c.DryRun {
		w = NewWriter(WriterConfig{Brokers: c.Brokers, ClientID: "ratewire-replay", Logger: c.Logger})
		defer w.Close()
	}
	dlq := event.DLQTopic(c.Topic)

	cl := &kafka.Client{Addr: kafka.TCP(c.Brokers...), Timeout: 10 * time.Second, Transport: &kafka.Transport{ClientID: "ratewire-replay"}}
	defer cl.Transport.(*kafka.Transport).CloseIdleConnections()
	meta, err := cl.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{dlq}})
	if err != nil {
		return res, fmt.Errorf("kafkabus: replay: metadata of %s: %w", dlq, err)
	}
	if len(meta.Topics) != 1 || meta.Topics[0].Error != nil {
		return res, fmt.Errorf("kafkabus: replay: topic %s: %v", dlq, meta.Topics)
	}
	req := &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{}}
	for _, p := range meta.Topics[0].Partitions {
		req.Topics[dlq] = append(req.Topics[dlq], kafka.FirstOffsetOf(p.ID), kafka.LastOffsetOf(p.ID))
	}
	offs, err := cl.ListOffsets(ctx, req)
	if err != nil {
		return res, fmt.Errorf("kafkabus: replay: list offsets of %s: %w", dlq, err)
	}

	for _, p := range offs.Topics[dlq] {
		if p.Error != nil {
			return res, fmt.Errorf("kafkabus: replay: offsets of %s/%d: %w", dlq, p.Partition, p.Error)
		}
		if err := replayPartition(ctx, c, w, log, dlq, p, &res); err != nil {
			return res, err
		}
	}
	return res, nil
}

// replayPartition replays one partition of the dead-letter topic from its
// first offset up to (excluding) its end offset as listed.
func replayPartition(ctx context.Context, c ReplayConfig, w *Writer, log *slog.Logger, dlq string, p kafka.PartitionOffsets, res *ReplayResult) error {
	if p.LastOffset <= p.FirstOffset {
		return nil
	}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: c.Brokers, Topic: dlq, Partition: p.Partition, MaxWait: fetchMaxWait})
	defer r.Close()
	if err := r.SetOffset(p.FirstOffset); err != nil {
		return fmt.Errorf("kafkabus: replay: %s/%d: %w", dlq, p.Partition, err)
	}
	var batch []kafka.Message
	flush := func() error {
		if len(batch) == 0 || c.DryRun {
			batch = batch[:0]
			return nil
		}
		if err := w.Publish(ctx, batch...); err != nil {
			return fmt.Errorf("kafkabus: replay: publish to %s: %w", c.Topic, err)
		}
		res.Replayed += len(batch)
		batch = batch[:0]
		return nil
	}
	for {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			return fmt.Errorf("kafkabus: replay: read %s/%d: %w", dlq, p.Partition, err)
		}
		res.Scanned++
		if matches(c, m) {
			res.Matched++
			out := kafka.Message{Topic: c.Topic, Key: m.Key, Value: m.Value}
			for _, h := range m.Headers {
				if !strings.HasPrefix(h.Key, event.HeaderDLQPrefix) {
					out.Headers = append(out.Headers, h)
				}
			}
			log.Info("replaying dead-lettered message", "dlq_topic", dlq, "partition", m.Partition, "offset", m.Offset,
				"event_id", eventIDOf(m), "error_class", event.Header(m, event.HeaderDLQErrorClass), "dry_run", c.DryRun)
			batch = append(batch, out)
			if len(batch) == replayBatch {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		if m.Offset >= p.LastOffset-1 {
			return flush()
		}
	}
}

// matches applies c's filters to a dead-letter message.
func matches(c ReplayConfig, m kafka.Message) bool {
	if orig := event.Header(m, event.HeaderDLQOriginalTopic); orig != "" && orig != c.Topic {
		return false
	}
	if c.ErrorClass != "" && event.Header(m, event.HeaderDLQErrorClass) != c.ErrorClass {
		return false
	}
	if c.ConsumerGroup != "" && event.Header(m, event.HeaderDLQConsumerGroup) != c.ConsumerGroup {
		return false
	}
	if !c.Since.IsZero() && m.Time.Before(c.Since) {
		return false
	}
	if !c.Until.IsZero() && !m.Time.Before(c.Until) {
		return false
	}
	return true
}
