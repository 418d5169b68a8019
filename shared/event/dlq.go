package event

import "strings"

// DLQSuffix is appended to a topic's name to form its dead-letter topic.
// Every topic of Topics has a "<name>.dlq" twin with the same partition
// count, so a dead-lettered message keyed like the original lands on the
// matching partition.
const DLQSuffix = ".dlq"

// DLQTopic returns the dead-letter topic of topic, e.g.
// "exchange_rate_updated.dlq".
func DLQTopic(topic string) string { return topic + DLQSuffix }

// OriginalTopic returns the topic whose dead-letter topic is dlq, and
// whether dlq names a dead-letter topic at all.
func OriginalTopic(dlq string) (string, bool) {
	t, ok := strings.CutSuffix(dlq, DLQSuffix)
	return t, ok && t != ""
}

// Headers a consumer adds when it moves a message to its dead-letter topic
// (DESIGN.md §6). The message keeps its own key, value and headers (event_id
// included, so a replayed message is deduplicated like any other); these
// say where it came from and why it failed. Values are UTF-8 text so kcat
// and Kafka UI show them as they are.
const (
	// HeaderDLQPrefix starts every dead-letter header; a replay strips the
	// headers that carry it before republishing.
	HeaderDLQPrefix = "dlq."
	// HeaderDLQOriginalTopic is the topic the message was consumed from.
	HeaderDLQOriginalTopic = "dlq.original_topic"
	// HeaderDLQOriginalPartition is its partition, in decimal.
	HeaderDLQOriginalPartition = "dlq.original_partition"
	// HeaderDLQOriginalOffset is its offset, in decimal.
	HeaderDLQOriginalOffset = "dlq.original_offset"
	// HeaderDLQConsumerGroup is the consumer group that gave up on it.
	HeaderDLQConsumerGroup = "dlq.consumer_group"
	// HeaderDLQErrorClass is one of the DLQClass* values.
	HeaderDLQErrorClass = "dlq.error_class"
	// HeaderDLQErrorMessage is the last error, truncated to 1 KiB.
	HeaderDLQErrorMessage = "dlq.error_message"
	// HeaderDLQAttempts is how many times the handler ran, in decimal.
	HeaderDLQAttempts = "dlq.attempts"
	// HeaderDLQFirstFailureAt is when the first attempt failed (RFC 3339
	// with nanoseconds, UTC).
	HeaderDLQFirstFailureAt = "dlq.first_failure_at"
	// HeaderDLQDeadLetteredAt is when the message was written to the
	// dead-letter topic (RFC 3339 with nanoseconds, UTC).
	HeaderDLQDeadLetteredAt = "dlq.dead_lettered_at"
)

// Error classes in HeaderDLQErrorClass.
const (
	// DLQClassInvalid: the message breaks the contract (an error wrapping
	// ErrInvalid); it went to the dead-letter topic at once.
	DLQClassInvalid = "invalid"
	// DLQClassPermanent: the handler declared the failure permanent; it
	// went to the dead-letter topic at once.
	DLQClassPermanent = "permanent"
	// DLQClassTransient: the handler kept failing with errors that might
	// pass (a database or cache outage) until the retries ran out. These
	// are the messages worth replaying once the cause is fixed.
	DLQClassTransient = "transient"
)
