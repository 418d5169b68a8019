// Package embedded starts in-process stand-ins for ratewire's infrastructure:
// a three-broker Kafka cluster (franz-go's kfake) seeded with every topic of
// the event contract and its dead-letter twin, and a Redis server
// (miniredis). devstack uses them when no real server is configured, and
// tests use them so the production code paths run over real TCP without
// external services.
package embedded
