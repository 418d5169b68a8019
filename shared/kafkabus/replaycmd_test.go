package kafkabus_test

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/ratewire/ratewire/shared/kafkabus"
)

// TestReplayCommandRejectsBadArguments checks what the replay command of
// every service refuses before it reaches Kafka.
func TestReplayCommandRejectsBadArguments(t *testing.T) {
	now := time.Date(2026, 11, 25, 1, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		brokers []string
		args    []string
		want    string
	}{
		{[]string{"127.0.0.1:1"}, nil, "--topic is required"},
		{nil, []string{"--topic", "exchange_rate_updated"}, "RATEWIRE_KAFKA_BROKERS is not set"},
		{[]string{"127.0.0.1:1"}, []string{"--topic", "x", "--since", "yesterday"}, "--since"},
		{[]string{"127.0.0.1:1"}, []string{"--topic", "x", "--until", "2026-13-01T00:00:00Z"}, "--until"},
		{[]string{"127.0.0.1:1"}, []string{"--topic", "x", "--bogus"}, "flag provided but not defined"},
	} {
		err := kafkabus.ReplayCommand(t.Context(), tc.brokers, "history-service", tc.args, now, io.Discard, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("replay-dlq %v: expected an error containing %q, got %v", tc.args, tc.want, err)
		}
	}
}
