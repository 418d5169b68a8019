package testinfra_test

import (
	"os"
	"testing"

	"github.com/segmentio/kafka-go"

	"github.com/ratewire/ratewire/shared/event"
	"github.com/ratewire/ratewire/shared/testinfra"
)

func TestMain(m *testing.M) {
	testinfra.ServeKafkaChild()
	os.Exit(m.Run())
}

// KafkaProcess serves the contract's topics from a child process, which
// stops when the test ends.
func TestKafkaProcess(t *testing.T) {
	var brokers []string
	t.Run("serves", func(t *testing.T) {
		brokers = testinfra.KafkaProcess(t)
		conn, err := kafka.Dial("tcp", brokers[0])
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		parts, err := conn.ReadPartitions(event.TopicExchangeRateUpdated)
		if err != nil || len(parts) != 3 {
			t.Fatalf("partitions of %s: expected 3, got %d (%v)", event.TopicExchangeRateUpdated, len(parts), err)
		}
	})
	if len(brokers) == 0 {
		return
	}
	if conn, err := kafka.Dial("tcp", brokers[0]); err == nil {
		conn.Close()
		t.Errorf("broker %s still answers after its test ended", brokers[0])
	}
}
