package embedded

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/ratewire/ratewire/shared/event"
)

// kafkaBrokers is the broker count of the embedded cluster; it matches the
// three brokers of production (DESIGN.md §2) so partition leadership is spread
// over several connections exactly as clients will see it there.
const kafkaBrokers = 3

// dlqSuffix is appended to a topic name to form its dead-letter topic.
const dlqSuffix = ".dlq"

// KafkaOptions configures StartKafka.
type KafkaOptions struct {
	// Ports are the listening ports of the three brokers, all on 127.0.0.1.
	// Nil or empty picks three random free ports, which is what tests want
	// so they can run in parallel; devstack passes 9092-9094.
	Ports []int
	// Logger receives the cluster's own logs; nil discards them. kfake's
	// per-request info logs are demoted to Debug.
	Logger *slog.Logger
}

// Kafka is a running embedded Kafka cluster. It speaks the real Kafka
// protocol over TCP, so any client (kafka-go, franz-go, kcat) can use it.
type Kafka struct {
	cluster *kfake.Cluster
	brokers []string
}

// StartKafka starts a three-broker kfake cluster on 127.0.0.1 with every
// topic of event.Topics and its "<name>.dlq" twin created at the topic's
// partition count. Topics are seeded rather than auto-created so that a
// producer typo fails loudly, as it would against production Kafka with
// auto-creation disabled. Close releases the ports.
func StartKafka(o KafkaOptions) (*Kafka, error) {
	if len(o.Ports) != 0 && len(o.Ports) != kafkaBrokers {
		return nil, fmt.Errorf("embedded: start kafka: want %d ports or none, got %d", kafkaBrokers, len(o.Ports))
	}
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}

	opts := []kfake.Opt{
		kfake.NumBrokers(kafkaBrokers),
		kfake.WithLogger(kfakeLogger{logger}),
	}
	if len(o.Ports) != 0 {
		opts = append(opts, kfake.Ports(o.Ports...))
	}
	// SeedTopics takes one partition count per option, so group the topics
	// (and their DLQ twins) by partition count.
	byPartitions := map[int32][]string{}
	for _, t := range event.Topics {
		byPartitions[t.Partitions] = append(byPartitions[t.Partitions], t.Name, t.Name+dlqSuffix)
	}
	for _, p := range slices.Sorted(maps.Keys(byPartitions)) {
		opts = append(opts, kfake.SeedTopics(p, byPartitions[p]...))
	}

	cluster, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("embedded: start kafka: %w", err)
	}
	return &Kafka{cluster: cluster, brokers: cluster.ListenAddrs()}, nil
}

// Brokers returns the "127.0.0.1:port" address of every broker, suitable as
// a bootstrap list.
func (k *Kafka) Brokers() []string {
	return slices.Clone(k.brokers)
}

// Cluster returns the underlying kfake cluster, for tests that need to
// inject faults or move partitions.
func (k *Kafka) Cluster() *kfake.Cluster {
	return k.cluster
}

// Close shuts the cluster down and frees its ports. It is safe to call more
// than once.
func (k *Kafka) Close() {
	k.cluster.Close()
}

// kfakeLogger adapts slog to kfake.Logger. kfake logs every request at Info,
// which is debugging detail for us, so Info and Debug both map to Debug.
type kfakeLogger struct{ l *slog.Logger }

// Logf implements kfake.Logger.
func (k kfakeLogger) Logf(level kfake.LogLevel, format string, args ...any) {
	var lvl slog.Level
	switch level {
	case kfake.LogLevelError:
		lvl = slog.LevelError
	case kfake.LogLevelWarn:
		lvl = slog.LevelWarn
	default:
		lvl = slog.LevelDebug
	}
	if !k.l.Enabled(context.Background(), lvl) {
		return
	}
	k.l.Log(context.Background(), lvl, fmt.Sprintf(format, args...), "component", "kfake")
}
