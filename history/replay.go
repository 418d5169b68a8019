package history

import (
	"context"
	"io"
	"log/slog"
	"time"

	"github.com/ratewire/ratewire/history/internal/consumer"
	"github.com/ratewire/ratewire/shared/kafkabus"
)

// ReplayDLQ is `history replay-dlq`: kafkabus.ReplayCommand for the
// history-service group (see there for the flags).
func ReplayDLQ(ctx context.Context, brokers []string, args []string, out io.Writer, log *slog.Logger) error {
	return kafkabus.ReplayCommand(ctx, brokers, consumer.GroupID, args, time.Now(), out, log)
}
