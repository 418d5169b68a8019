// Package kafkabus is ratewire's Kafka plumbing on top of segmentio/kafka-go,
// configured so the library's unsafe defaults (acks=none, round-robin keys,
// a 1 s batch delay, commit-before-process reads) cannot leak into a
// service. It knows the event contract only
// as far as headers go (event_id, the dlq.* names); package event defines
// the payloads.
//
// Writer waits for all in-sync replicas and hashes keys like the Java
// client.
//
// Consumer is the at-least-once consumer runtime of DESIGN.md §6:
//
//   - fetch, handle, commit: one worker per assigned partition handles its
//     messages in offset order (per-key order; parallelism only across
//     partitions) and offsets are committed only past messages that are
//     done: handled, skipped as duplicates, or dead-lettered;
//   - idempotency: with a Dedupe store (package dedupe, Redis, 7 days) the
//     event_id of every handled event is remembered per consumer group,
//     after the handler succeeded and before the offset is committed; store
//     errors hold the partition and are retried, never skipped. With a
//     BatchDedupe (the Redis store is one) a worker looks up all the
//     messages it has in hand in one call and writes the marks of a run of
//     handled events in one call, so the store costs two round trips per
//     batch rather than per message;
//   - retries and dead letters: transient handler errors are retried with
//     backoff, 3 attempts by default; errors wrapping event.ErrInvalid or
//     marked with Permanent go to "<topic>.dlq" at once, exhausted retries
//     after the last attempt. The dead-letter message keeps key, value and
//     headers and adds event.HeaderDLQ* headers: dlq.original_topic,
//     dlq.original_partition, dlq.original_offset, dlq.consumer_group,
//     dlq.error_class (invalid, permanent, transient), dlq.error_message,
//     dlq.attempts, dlq.first_failure_at, dlq.dead_lettered_at. A failed
//     dead-letter write holds the partition until it succeeds;
//   - handler calls are bounded by ConsumerConfig.HandlerTimeout; fetch and
//     broker errors, io.EOF included, are retried; stopping commits what was
//     done;
//   - metrics on ConsumerConfig.Registerer: ratewire_consumer_messages_total
//     {topic,group,outcome=ok|retry|dlq|duplicate},
//     ratewire_consumer_handler_duration_seconds, ratewire_consumer_commit_errors_total,
//     ratewire_consumer_step_errors_total, ratewire_consumer_lag_messages
//     {topic,partition,group} (from ListOffsets and OffsetFetch, see LagOf),
//     ratewire_consumer_last_message_timestamp_seconds.
//
// Replay moves dead-lettered messages back to their topic, filtered by time,
// error class and consumer group; the currency binary exposes it as
// `currency replay-dlq`.
package kafkabus
