// Package event is the contract between ratewire services: topic names and
// partition counts, the typed payloads carried on them and the headers every
// message has. It holds no business logic; producers and consumers both
// depend on it so that the wire format is defined exactly once.
package event

// Topic names of DESIGN.md §6.
const (
	TopicNewDataReceived         = "new_data_received"
	TopicExchangeRateUpdated     = "exchange_rate_updated"
	TopicDataProcessingCompleted = "data_processing_completed"
	TopicCacheInvalidation       = "cache_invalidation"
)

// TopicSpec names a topic with the partition count it is created with.
type TopicSpec struct {
	Name       string
	Partitions int32
}

// Topics lists every topic of the contract in publication order, with its
// partition count. exchange_rate_updated is keyed by currency code and has
// three partitions so consumers can spread currencies across instances; the
// per-run topics have one partition so their order is total.
var Topics = []TopicSpec{
	{Name: TopicNewDataReceived, Partitions: 1},
	{Name: TopicExchangeRateUpdated, Partitions: 3},
	{Name: TopicDataProcessingCompleted, Partitions: 1},
	{Name: TopicCacheInvalidation, Partitions: 1},
}

// TopicNames returns the names of Topics, in order.
func TopicNames() []string {
	names := make([]string, len(Topics))
	for i, t := range Topics {
		names[i] = t.Name
	}
	return names
}
