package kafkabus_test

import (
	"os"
	"testing"

	"github.com/ratewire/ratewire/shared/testinfra"
)

// TestMain lets the benchmarks start this binary as their Kafka process.
func TestMain(m *testing.M) {
	testinfra.ServeKafkaChild()
	os.Exit(m.Run())
}
