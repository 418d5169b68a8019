// Package kafkabus is ratewire's Kafka plumbing on top of segmentio/kafka-go,
// configured so the library's unsafe defaults cannot leak into a service
// (STYLE.md "Library defaults that bite"): the Writer waits for all in-sync
// replicas and hashes keys like the Java client, and the Consumer commits
// only after its handler succeeded. It knows nothing about event payloads;
// package event defines those.
package kafkabus
