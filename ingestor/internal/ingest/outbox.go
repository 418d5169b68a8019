package ingest

import (
	"encoding/json"
	"fmt"

	"github.com/segmentio/kafka-go"

	"github.com/ratewire/ratewire/ingestor/internal/store"
	"github.com/ratewire/ratewire/shared/event"
)

// Producer is the value of the producer header on the ingestor's events.
const Producer = "ingestor"

// header is one Kafka header as the outbox stores it, readable in SQL.
type header struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Outbox encodes events (with the headers of DESIGN.md §6) as outbox messages.
func Outbox(evs []event.Event) ([]store.OutboxMessage, error) {
	out := make([]store.OutboxMessage, len(evs))
	for i, e := range evs {
		m, err := event.Encode(e, Producer)
		if err != nil {
			return nil, err
		}
		hs := make([]header, len(m.Headers))
		for j, h := range m.Headers {
			hs[j] = header{Key: h.Key, Value: string(h.Value)}
		}
		hb, err := json.Marshal(hs)
		if err != nil {
			return nil, err
		}
		out[i] = store.OutboxMessage{EventID: event.MetaOf(e).EventID, Topic: m.Topic, Key: string(m.Key),
			Payload: string(m.Value), Headers: string(hb)}
	}
	return out, nil
}

// Message turns a stored outbox message back into the Kafka message it was
// encoded from.
func Message(m store.OutboxMessage) (kafka.Message, error) {
	var hs []header
	if err := json.Unmarshal([]byte(m.Headers), &hs); err != nil {
		return kafka.Message{}, fmt.Errorf("outbox message %d: headers: %w", m.ID, err)
	}
	km := kafka.Message{Topic: m.Topic, Key: []byte(m.Key), Value: []byte(m.Payload)}
	for _, h := range hs {
		km.Headers = append(km.Headers, kafka.Header{Key: h.Key, Value: []byte(h.Value)})
	}
	return km, nil
}
