package testinfra

import (
	"testing"

	"github.com/ratewire/ratewire/shared/embedded"
)

// Kafka starts an embedded three-broker kfake cluster on random ports with
// the contract's topics, for the duration of the test, and returns its
// broker addresses. Tests talk to it over real TCP.
func Kafka(t testing.TB) []string {
	t.Helper()
	k, err := embedded.StartKafka(embedded.KafkaOptions{})
	if err != nil {
		t.Fatalf("start embedded Kafka: %v", err)
	}
	t.Cleanup(k.Close)
	return k.Brokers()
}
