package kafkabus

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/ratewire/ratewire/shared/event"
)

// outcome is a label value of ratewire_consumer_messages_total.
type outcome int

// Outcomes of ratewire_consumer_messages_total.
const (
	outcomeOK        outcome = iota // the handler succeeded
	outcomeRetry                    // the handler failed and will run again
	outcomeDLQ                      // the message went to its dead-letter topic
	outcomeDuplicate                // Dedupe had seen the event; skipped
	numOutcomes
)

// outcomeNames are the label values of the outcomes.
var outcomeNames = [numOutcomes]string{"ok", "retry", "dlq", "duplicate"}

// consumerMetrics are the ratewire_consumer_* metrics of one Consumer. A nil
// *consumerMetrics (no Registerer) records nothing.
type consumerMetrics struct {
	group       string
	messages    *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	commitErrs  *prometheus.CounterVec
	stepErrs    *prometheus.CounterVec
	lag         *prometheus.GaugeVec
	dlq         *prometheus.GaugeVec
	lastHandled *prometheus.GaugeVec
}

// newConsumerMetrics registers the metrics on reg. Two consumers of one
// registry share the collectors (an AlreadyRegisteredError hands back the
// existing one); their series differ by the group label.
func newConsumerMetrics(reg prometheus.Registerer, group string) (*consumerMetrics, error) {
	if reg == nil {
		return nil, nil
	}
	m := &consumerMetrics{group: group}
	var err error
	if m.messages, err = register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ratewire_consumer_messages_total",
		Help: "Consumed messages by outcome: ok (handled), retry (a failed attempt that will be retried), dlq (written to the dead-letter topic), duplicate (event already handled by the group, skipped).",
	}, []string{"topic", "group", "outcome"})); err != nil {
		return nil, err
	}
	if m.duration, err = register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "ratewire_consumer_handler_duration_seconds",
		Help:    "Duration of one handler call, failed calls included.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"topic", "group"})); err != nil {
		return nil, err
	}
	if m.commitErrs, err = register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ratewire_consumer_commit_errors_total",
		Help: "Offset commits that failed (retried; their messages may be redelivered).",
	}, []string{"group"})); err != nil {
		return nil, err
	}
	if m.stepErrs, err = register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ratewire_consumer_step_errors_total",
		Help: "Failed dedupe lookups, dedupe marks and dead-letter writes; each holds its partition until a retry succeeds.",
	}, []string{"topic", "group", "step"})); err != nil {
		return nil, err
	}
	if m.lag, err = register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "ratewire_consumer_lag_messages",
		Help: "Messages between the group's committed offset and the end of the partition, measured in-app from ListOffsets and OffsetFetch.",
	}, []string{"topic", "partition", "group"})); err != nil {
		return nil, err
	}
	if m.dlq, err = register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "ratewire_dlq_messages",
		Help: "Messages in the dead-letter topic (end minus start offset over its partitions), measured in-app with the lag; every group consuming the original topic reports it.",
	}, []string{"topic"})); err != nil {
		return nil, err
	}
	if m.lastHandled, err = register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "ratewire_consumer_last_message_timestamp_seconds",
		Help: "Unix time at which a handler call of the topic last returned.",
	}, []string{"topic", "group"})); err != nil {
		return nil, err
	}
	return m, nil
}

// register registers c on reg, or returns the collector already there.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing, nil
			}
		}
		return c, fmt.Errorf("register metrics: %w", err)
	}
	return c, nil
}

// topicMetrics are the per-message series of one topic. A partition worker
// owns one and binds each series on first use, so the per-message path does
// not hash label values; a series still appears only once it has a value.
// Only its worker goroutine uses it. A nil *topicMetrics records nothing.
type topicMetrics struct {
	m           *consumerMetrics
	topic       string
	counters    [numOutcomes]prometheus.Counter
	duration    prometheus.Observer
	lastHandled prometheus.Gauge
}

// forTopic returns the series of topic, nil when m is nil.
func (m *consumerMetrics) forTopic(topic string) *topicMetrics {
	if m == nil {
		return nil
	}
	return &topicMetrics{m: m, topic: topic}
}

func (t *topicMetrics) outcome(o outcome) { t.outcomes(o, 1) }

// outcomes counts n messages of outcome o.
func (t *topicMetrics) outcomes(o outcome, n int) {
	if t == nil || n == 0 {
		return
	}
	c := t.counters[o]
	if c == nil {
		c = t.m.messages.WithLabelValues(t.topic, t.m.group, outcomeNames[o])
		t.counters[o] = c
	}
	c.Add(float64(n))
}

// handled records one handler call of duration d that ended at end.
func (t *topicMetrics) handled(end time.Time, d time.Duration) {
	if t == nil {
		return
	}
	if t.duration == nil {
		t.duration = t.m.duration.WithLabelValues(t.topic, t.m.group)
		t.lastHandled = t.m.lastHandled.WithLabelValues(t.topic, t.m.group)
	}
	t.duration.Observe(d.Seconds())
	t.lastHandled.Set(float64(end.UnixNano()) / 1e9)
}

func (t *topicMetrics) stepError(step string) {
	if t != nil {
		t.m.stepErrs.WithLabelValues(t.topic, t.m.group, step).Inc()
	}
}

func (m *consumerMetrics) commitError() {
	if m != nil {
		m.commitErrs.WithLabelValues(m.group).Inc()
	}
}

// watchLag measures the group's lag every LagInterval until ctx ends. Every
// member reports the lag of every partition of the group, not only of its
// own, so any one instance's /metrics shows the whole picture.
func (c *Consumer) watchLag(ctx context.Context) {
	cl := &kafka.Client{Addr: kafka.TCP(c.cfg.Brokers...), Timeout: 10 * time.Second,
		Transport: &kafka.Transport{ClientID: c.cfg.GroupID + "-lag"}}
	defer cl.Transport.(*kafka.Transport).CloseIdleConnections()
	t := time.NewTicker(c.cfg.LagInterval)
	defer t.Stop()
	for {
		if err := c.measureLag(ctx, cl); err != nil && ctx.Err() == nil {
			c.log.Debug("measure consumer lag", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// LagOf returns the group's lag per topic and partition: the end offset
// minus the committed offset, or minus the first offset where the group has
// committed nothing. It is what ratewire_consumer_lag_messages shows.
func LagOf(ctx context.Context, brokers []string, group string, topics []string) (map[string]map[int]int64, error) {
	cl := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second, Transport: &kafka.Transport{ClientID: group + "-lag"}}
	defer cl.Transport.(*kafka.Transport).CloseIdleConnections()
	return lagOf(ctx, cl, group, topics)
}

// measureLag updates the lag gauges, and the message counts of the
// topics' dead-letter twins, once.
func (c *Consumer) measureLag(ctx context.Context, cl *kafka.Client) error {
	lag, err := lagOf(ctx, cl, c.cfg.GroupID, c.cfg.Topics)
	for topic, parts := range lag {
		for p, n := range parts {
			c.metrics.lag.WithLabelValues(topic, strconv.Itoa(p), c.cfg.GroupID).Set(float64(n))
		}
	}
	dlqs := make([]string, len(c.cfg.Topics))
	for i, t := range c.cfg.Topics {
		dlqs[i] = event.DLQTopic(t)
	}
	counts, dlqErr := deadLettersOf(ctx, cl, dlqs)
	for topic, n := range counts {
		c.metrics.dlq.WithLabelValues(topic).Set(float64(n))
	}
	return errors.Join(err, dlqErr)
}

// deadLettersOf returns the number of messages in each of the topics (end
// offset minus first offset, summed over partitions): for dead-letter
// topics, what is waiting to be looked at or replayed. A topic that does
// not exist is left out; the ratewire_dlq_messages gauge shows it.
func deadLettersOf(ctx context.Context, cl *kafka.Client, topics []string) (map[string]int64, error) {
	meta, err := cl.Metadata(ctx, &kafka.MetadataRequest{Topics: topics})
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	req := &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{}}
	for _, t := range meta.Topics {
		if t.Error != nil {
			continue // not created (yet): nothing to count
		}
		for _, p := range t.Partitions {
			req.Topics[t.Name] = append(req.Topics[t.Name], kafka.FirstOffsetOf(p.ID), kafka.LastOffsetOf(p.ID))
		}
	}
	if len(req.Topics) == 0 {
		return map[string]int64{}, nil
	}
	res, err := cl.ListOffsets(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("list offsets: %w", err)
	}
	out := map[string]int64{}
	var errs []error
	for topic, parts := range res.Topics {
		var n int64
		ok := true
		for _, p := range parts {
			if p.Error != nil {
				errs = append(errs, fmt.Errorf("list offsets of %s/%d: %w", topic, p.Partition, p.Error))
				ok = false
				continue
			}
			n += max(p.LastOffset-p.FirstOffset, 0)
		}
		if ok {
			out[topic] = n
		}
	}
	return out, errors.Join(errs...)
}

func lagOf(ctx context.Context, cl *kafka.Client, group string, topics []string) (map[string]map[int]int64, error) {
	meta, err := cl.Metadata(ctx, &kafka.MetadataRequest{Topics: topics})
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	listReq := &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{}}
	fetchReq := &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{}}
	for _, t := range meta.Topics {
		if t.Error != nil {
			return nil, fmt.Errorf("metadata of %s: %w", t.Name, t.Error)
		}
		for _, p := range t.Partitions {
			listReq.Topics[t.Name] = append(listReq.Topics[t.Name], kafka.FirstOffsetOf(p.ID), kafka.LastOffsetOf(p.ID))
			fetchReq.Topics[t.Name] = append(fetchReq.Topics[t.Name], p.ID)
		}
	}
	ends, err := cl.ListOffsets(ctx, listReq)
	if err != nil {
		return nil, fmt.Errorf("list offsets: %w", err)
	}
	commits, err := cl.OffsetFetch(ctx, fetchReq)
	if err != nil {
		return nil, fmt.Errorf("offset fetch: %w", err)
	}
	if commits.Error != nil && !errors.Is(commits.Error, kafka.GroupIdNotFound) {
		// A group that never committed does not exist yet: its lag is
		// the whole partition.
		return nil, fmt.Errorf("offset fetch: %w", commits.Error)
	}
	committed := map[string]map[int]int64{}
	for topic, parts := range commits.Topics {
		committed[topic] = map[int]int64{}
		for _, p := range parts {
			if p.Error == nil {
				committed[topic][p.Partition] = p.CommittedOffset
			}
		}
	}
	out := map[string]map[int]int64{}
	var errs []error
	for topic, parts := range ends.Topics {
		out[topic] = map[int]int64{}
		for _, p := range parts {
			if p.Error != nil {
				errs = append(errs, fmt.Errorf("list offsets of %s/%d: %w", topic, p.Partition, p.Error))
				continue
			}
			from := p.FirstOffset
			if at, ok := committed[topic][p.Partition]; ok && at >= 0 {
				from = at
			}
			out[topic][p.Partition] = max(p.LastOffset-from, 0)
		}
	}
	return out, errors.Join(errs...)
}
