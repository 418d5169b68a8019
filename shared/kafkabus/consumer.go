package kafkabus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/ratewire/ratewire/shared/event"
)

// Consumer defaults, in one place; they suit both production Kafka and
// kfake.
const (
	// defaultHandlerTimeout bounds one handler call. kafka-go has no
	// max.poll.interval, so nothing else stops a stuck handler from holding
	// its partition forever.
	defaultHandlerTimeout = 30 * time.Second
	// handlerGrace is how long a handler that ignores its context may run
	// past its deadline before the Consumer stops waiting for it.
	handlerGrace = time.Second
	// defaultRetryBackoff is the first wait after a handler failure; it
	// doubles up to maxRetryBackoff.
	defaultRetryBackoff = 200 * time.Millisecond
	maxRetryBackoff     = 5 * time.Second
	// defaultHandlerAttempts is how often a transiently failing handler runs
	// before its message is dead-lettered (DESIGN.md §6: 3 attempts).
	defaultHandlerAttempts = 3

	// fetchErrorBackoff is the first wait after a fetch, a dedupe-store call
	// or a dead-letter write fails; it doubles up to maxFetchErrorBackoff.
	fetchErrorBackoff    = 100 * time.Millisecond
	maxFetchErrorBackoff = 2 * time.Second

	// commitTimeout bounds a synchronous offset commit. The final commit of
	// a generation runs on a context detached from Run's, so a shutdown
	// does not abandon the commit of the message that was just handled.
	commitTimeout = 10 * time.Second

	// Group timings. kafka-go's defaults (3s heartbeat, 30s session, 5s
	// join backoff) make a join or a failover take tens of seconds. The
	// session timeout stays within the brokers' default
	// group.min.session.timeout.ms of 6s (kfake enforces the same bound).
	groupHeartbeatInterval = time.Second
	defaultSessionTimeout  = 10 * time.Second
	groupRebalanceTimeout  = 10 * time.Second
	groupJoinBackoff       = time.Second

	// Fetch timings: how long a fetch long-polls an idle partition, and how
	// long reading one message of a fetched batch may take. Short values
	// let a closing reader and a freshly assigned partition react quickly.
	fetchMaxWait     = 250 * time.Millisecond
	readBatchTimeout = 2 * time.Second

	// defaultLagInterval is how often consumer lag is measured.
	defaultLagInterval = 15 * time.Second
)

// Handler processes one message. It returns nil once the message's effects
// are durable. An error wrapping event.ErrInvalid, or one marked with
// Permanent, sends the message to its dead-letter topic at once; any other
// error is retried with backoff and, after ConsumerConfig.MaxAttempts calls,
// dead-lettered too. Handlers should be idempotent: delivery is at least
// once, and although a Dedupe store skips events already handled, a crash
// between a handler's success and its record in the store repeats it. ctx
// ends after ConsumerConfig.HandlerTimeout or when the Consumer stops.
type Handler func(ctx context.Context, m kafka.Message) error

// BatchHandler processes several messages of one partition, in offset
// order, as one call: what a worker has in hand after duplicates are
// skipped. It returns nil once every message's effects are durable. Any
// error, or a panic or a timeout, makes the Consumer handle the same
// messages again one at a time with the Handler, so retries, dead letters
// and metrics stay per message: a BatchHandler may stop at the first
// problem (an undecodable message, a failed write) and leave it to the
// Handler to pin down. The failed batch call is not counted as an attempt
// of its messages. A BatchHandler must therefore have the same effects as
// calling the Handler on each message in turn, and be idempotent like it;
// it may coalesce work (write only the newest of several updates of one
// key), which is where its speed comes from.
type BatchHandler func(ctx context.Context, ms []kafka.Message) error

// Dedupe remembers which events a consumer group has handled, so a
// redelivered event (after a rebalance, a restart, a retried produce or a
// replay) is skipped. package dedupe implements it on Redis. Errors are
// treated as transient: the Consumer retries the call, holding the
// partition, until it succeeds or the Consumer stops, so an outage of the
// store neither drops nor repeats an event.
type Dedupe interface {
	// Seen reports whether group has handled the event.
	Seen(ctx context.Context, group, eventID string) (bool, error)
	// Mark records that group has handled the event. The Consumer calls it
	// only after the handler succeeded, never for a failed or dead-lettered
	// message.
	Mark(ctx context.Context, group, eventID string) error
}

// BatchDedupe is a Dedupe that also looks up and marks many events in one
// call. When ConsumerConfig.Dedupe has these methods, a partition worker
// looks up every message it has in hand at once, and marks the events
// handled while the previous marks were being written at once, so the
// store's round trips are paid per batch, not per message. package dedupe's
// Redis store implements it.
type BatchDedupe interface {
	Dedupe
	// SeenMany reports, for each id in order, whether group handled it.
	SeenMany(ctx context.Context, group string, ids []string) ([]bool, error)
	// MarkMany records that group has handled every one of ids.
	MarkMany(ctx context.Context, group string, ids []string) error
}

// seenMany looks ids up in d, in one call if d is a BatchDedupe.
func seenMany(ctx context.Context, d Dedupe, group string, ids []string) ([]bool, error) {
	if b, ok := d.(BatchDedupe); ok {
		return b.SeenMany(ctx, group, ids)
	}
	seen := make([]bool, len(ids))
	for i, id := range ids {
		var err error
		if seen[i], err = d.Seen(ctx, group, id); err != nil {
			return nil, err
		}
	}
	return seen, nil
}

// markMany marks ids in d, in one call if d is a BatchDedupe.
func markMany(ctx context.Context, d Dedupe, group string, ids []string) error {
	if b, ok := d.(BatchDedupe); ok {
		return b.MarkMany(ctx, group, ids)
	}
	for _, id := range ids {
		if err := d.Mark(ctx, group, id); err != nil {
			return err
		}
	}
	return nil
}

// ConsumerConfig configures NewConsumer. Only the first five fields are
// required; every other zero value means a safe default.
type ConsumerConfig struct {
	// Brokers is the bootstrap list, "host:port" each.
	Brokers []string
	// GroupID is the consumer group; instances of one service share it.
	GroupID string
	// Topics are consumed together by the group.
	Topics []string
	// Handler is called for every message; messages of one partition are
	// handled one at a time in offset order, partitions in parallel.
	Handler Handler
	// BatchHandler, when set, is called instead of Handler whenever a
	// worker has two or more messages to handle at once; Handler remains
	// required, for single messages and for the messages of a failed
	// batch call.
	BatchHandler BatchHandler
	// Logger receives handler failures and kafka-go's logs; nil discards.
	Logger *slog.Logger
	// HandlerTimeout bounds one handler call, a batch call included; 0
	// means 30s.
	HandlerTimeout time.Duration
	// RetryBackoff is the wait after the first handler failure; it doubles
	// after each further failure, capped at 5s. 0 means 200ms.
	RetryBackoff time.Duration
	// MaxAttempts is how many times a transiently failing message is
	// handled before it goes to its dead-letter topic; 0 means 3.
	MaxAttempts int
	// StartOffset is where the group starts on a partition without a
	// committed offset: kafka.FirstOffset (the default, also for 0) or
	// kafka.LastOffset.
	StartOffset int64
	// Dedupe, when set, skips events (by their event_id header) that the
	// group has already handled. Messages without an event_id are always
	// handled.
	Dedupe Dedupe
	// DeadLetter, when set, publishes dead-lettered messages; nil makes
	// the Consumer create its own Writer on Brokers (closed by Run).
	DeadLetter *Writer
	// Registerer receives the ratewire_consumer_* metrics; nil means none.
	Registerer prometheus.Registerer
	// LagInterval is how often consumer lag is measured for the metrics;
	// 0 means 15s, negative disables it. Without a Registerer it is off.
	LagInterval time.Duration
	// SessionTimeout is the group session timeout: how long a crashed
	// member keeps its partitions. 0 means 10s; brokers refuse less
	// than 6s by default.
	SessionTimeout time.Duration
	// Now is the clock for dead-letter timestamps; nil means time.Now.
	Now func() time.Time
}

// Consumer reads a set of topics as a member of a consumer group with
// at-least-once delivery (DESIGN.md §6):
//
//   - each assigned partition has its own worker, which fetches, handles and
//     then marks a message done, strictly in offset order, so per-key order
//     holds and a slow or stuck partition does not hold up the others;
//   - the worker takes every message already fetched (up to 4096) as one
//     batch and asks Dedupe about all of them at once; with a BatchHandler
//     it hands the batch's new events to one call, falling back to one
//     Handler call per message if that call fails;
//   - a message is done once its handler succeeded and its event is marked
//     in Dedupe, it was a duplicate, or it was written to its dead-letter
//     topic "<topic>.dlq"; marks are written by a per-partition marker that,
//     like the committer, batches whatever was handled while its previous
//     write was in flight; offsets are committed only up to the last done
//     message of each partition, by a committer that batches whatever
//     finished while the previous commit was in flight, and once more,
//     synchronously, when a generation ends;
//   - a failed write to the dead-letter topic is retried until it succeeds
//     or the Consumer stops: the partition waits, it never skips.
//
// It uses kafka-go's ConsumerGroup and Generation directly, with one plain
// partition Reader per assignment, instead of a group Reader, whose single
// FetchMessage stream would let one blocked partition stall them all.
type Consumer struct {
	cfg     ConsumerConfig
	group   kafka.ConsumerGroupConfig
	dialer  *kafka.Dialer
	log     *slog.Logger
	kLog    kafka.Logger
	kErrLog kafka.Logger
	metrics *consumerMetrics
}

// NewConsumer validates c and returns a Consumer; nothing connects until
// Run. It registers the consumer's metrics on c.Registerer.
func NewConsumer(c ConsumerConfig) (*Consumer, error) {
	switch {
	case len(c.Brokers) == 0:
		return nil, errors.New("kafkabus: new consumer: no brokers")
	case c.GroupID == "":
		return nil, errors.New("kafkabus: new consumer: no group id")
	case len(c.Topics) == 0:
		return nil, errors.New("kafkabus: new consumer: no topics")
	case c.Handler == nil:
		return nil, errors.New("kafkabus: new consumer: no handler")
	case c.HandlerTimeout < 0 || c.RetryBackoff < 0 || c.MaxAttempts < 0 || c.SessionTimeout < 0:
		return nil, errors.New("kafkabus: new consumer: negative handler timeout, retry backoff, attempts or session timeout")
	}
	for _, t := range c.Topics {
		if t == "" {
			return nil, errors.New("kafkabus: new consumer: empty topic name")
		}
	}
	switch c.StartOffset {
	case 0:
		c.StartOffset = kafka.FirstOffset
	case kafka.FirstOffset, kafka.LastOffset:
	default:
		return nil, fmt.Errorf("kafkabus: new consumer: start offset must be kafka.FirstOffset or kafka.LastOffset, got %d", c.StartOffset)
	}
	if c.HandlerTimeout == 0 {
		c.HandlerTimeout = defaultHandlerTimeout
	}
	if c.RetryBackoff == 0 {
		c.RetryBackoff = defaultRetryBackoff
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = defaultHandlerAttempts
	}
	if c.SessionTimeout == 0 {
		c.SessionTimeout = defaultSessionTimeout
	}
	if c.LagInterval == 0 {
		c.LagInterval = defaultLagInterval
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	log := orDiscard(c.Logger).With("group", c.GroupID)
	kLog, kErrLog := kafkaLoggers(log)
	dialer := &kafka.Dialer{ClientID: c.GroupID, Timeout: 10 * time.Second, DualStack: true}

	gc := kafka.ConsumerGroupConfig{
		ID:                c.GroupID,
		Brokers:           c.Brokers,
		Dialer:            dialer,
		Topics:            c.Topics,
		HeartbeatInterval: groupHeartbeatInterval,
		SessionTimeout:    c.SessionTimeout,
		RebalanceTimeout:  groupRebalanceTimeout,
		JoinGroupBackoff:  groupJoinBackoff,
		StartOffset:       c.StartOffset,
		// RetentionTime stays 0: kafka-go then sends -1, deferring offset
		// retention to the broker (7 days by default).
		Logger:      kLog,
		ErrorLogger: kErrLog,
	}
	if err := gc.Validate(); err != nil {
		return nil, fmt.Errorf("kafkabus: new consumer: %w", err)
	}
	m, err := newConsumerMetrics(c.Registerer, c.GroupID)
	if err != nil {
		return nil, fmt.Errorf("kafkabus: new consumer: %w", err)
	}
	return &Consumer{cfg: c, group: gc, dialer: dialer, log: log, kLog: kLog, kErrLog: kErrLog, metrics: m}, nil
}

// Run consumes until ctx ends, then returns nil. It joins the group and, for
// every generation, runs one worker per assigned partition. Broker errors,
// io.EOF included, are logged and retried: Run does not give up on its own.
// When ctx ends no new handler call starts, a handler in progress sees its
// context end (its message stays uncommitted and is redelivered), every
// partition's last done offset is committed, the group is left, and only
// then does Run return.
func (c *Consumer) Run(ctx context.Context) error {
	dlq := c.cfg.DeadLetter
	if dlq == nil {
		dlq = NewWriter(WriterConfig{Brokers: c.cfg.Brokers, ClientID: c.cfg.GroupID + "-dlq", Logger: c.cfg.Logger})
		defer func() {
			if err := dlq.Close(); err != nil {
				c.log.Warn("close dead-letter writer", "err", err)
			}
		}()
	}

	group, err := kafka.NewConsumerGroup(c.group)
	if err != nil {
		// Only an invalid config fails here, and NewConsumer checked it.
		return fmt.Errorf("kafkabus: consumer group: %w", err)
	}
	var bg sync.WaitGroup
	if c.metrics != nil && c.cfg.LagInterval > 0 {
		bg.Go(func() { c.watchLag(ctx) })
	}
	c.log.Info("consumer started", "topics", c.cfg.Topics)

	// Closing the group ends the current generation: its workers see their
	// context end, commit and return, and then the member leaves.
	stop := context.AfterFunc(ctx, func() { _ = group.Close() })
	defer stop()

	delay := fetchErrorBackoff
	for ctx.Err() == nil {
		gen, err := group.Next(ctx)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, kafka.ErrGroupClosed) {
				break
			}
			c.log.Warn("join group failed, retrying", "err", err)
			if !sleep(ctx, delay) {
				break
			}
			delay = min(2*delay, maxFetchErrorBackoff)
			continue
		}
		delay = fetchErrorBackoff
		c.runGeneration(gen, dlq)
	}
	_ = group.Close()
	bg.Wait()
	c.log.Info("consumer stopped")
	return nil
}

// runGeneration starts the partition workers of gen. They run until the
// generation ends (a rebalance or Close); kafka-go waits for them before it
// joins the next generation or leaves.
func (c *Consumer) runGeneration(gen *kafka.Generation, dlq *Writer) {
	var parts []partitionStart
	for topic, assigned := range gen.Assignments {
		for _, a := range assigned {
			parts = append(parts, partitionStart{topic: topic, partition: a.ID, offset: a.Offset})
		}
	}
	c.log.Info("generation started", "generation", gen.ID, "member", gen.MemberID, "partitions", len(parts))
	if len(parts) == 0 {
		return
	}
	gen.Start(func(ctx context.Context) {
		cm := newCommitter(gen, c)
		var wg sync.WaitGroup
		for _, p := range parts {
			w := newPartitionWorker(c, dlq, cm, p.topic, p.partition)
			wg.Go(func() { w.run(ctx, p.offset) })
		}
		commitLoopDone := make(chan struct{})
		go func() { defer close(commitLoopDone); cm.loop(ctx) }()
		wg.Wait()
		<-commitLoopDone
		// Every worker has stopped: commit what they finished.
		cm.flush()
		c.log.Info("generation ended", "generation", gen.ID)
	})
}

// partitionStart is one assignment of a generation.
type partitionStart struct {
	topic     string
	partition int
	offset    int64
}

// sleep waits for d or until ctx ends, reporting whether the full wait
// elapsed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// eventIDOf returns the event_id header of m, or "".
func eventIDOf(m kafka.Message) string { return event.Header(m, event.HeaderEventID) }
