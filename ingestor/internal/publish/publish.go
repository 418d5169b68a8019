// Package publish adapts the shared Kafka writer to the ingest service's
// Publisher port: it encodes events with the §6 headers and writes them
// synchronously with acks=all.
package publish

import (
	"context"
	"fmt"

	"github.com/segmentio/kafka-go"

	"github.com/ratewire/ratewire/shared/event"
	"github.com/ratewire/ratewire/shared/kafkabus"
)

// Producer is the value of the producer header on the ingestor's events.
const Producer = "ingestor"

// Kafka publishes events through a kafkabus.Writer.
type Kafka struct {
	W *kafkabus.Writer
}

// Publish encodes every event and writes them in one call, in order.
func (k Kafka) Publish(ctx context.Context, events ...event.Event) error {
	msgs := make([]kafka.Message, 0, len(events))
	for _, e := range events {
		m, err := event.Encode(e, Producer)
		if err != nil {
			return fmt.Errorf("publish: %w", err)
		}
		msgs = append(msgs, m)
	}
	return k.W.Publish(ctx, msgs...)
}
