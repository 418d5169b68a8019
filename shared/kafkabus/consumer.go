package kafkabus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/segmentio/kafka-go"
)

// Consumer defaults. They are variables, not constants, so that they live in
// one place; they suit both production Kafka and kfake.
var (
	// defaultHandlerTimeout bounds one handler call. kafka-go has no
	// max.poll.interval, so nothing else stops a stuck handler from holding
	// its partition forever.
	defaultHandlerTimeout = 30 * time.Second
	// defaultRetryBackoff is the first wait after a handler failure; it
	// doubles up to maxRetryBackoff.
	defaultRetryBackoff = 200 * time.Millisecond
	maxRetryBackoff     = 5 * time.Second

	// fetchErrorBackoff is the first wait after FetchMessage fails (broker
	// down, rebalance, io.EOF); it doubles up to maxFetchErrorBackoff.
	fetchErrorBackoff    = 100 * time.Millisecond
	maxFetchErrorBackoff = 2 * time.Second

	// commitTimeout bounds a synchronous offset commit. The commit runs on
	// a context detached from Run's, so a shutdown does not abandon the
	// commit of the message that was just handled.
	commitTimeout = 10 * time.Second

	// Group timings. kafka-go's defaults (3s heartbeat, 30s session, 5s
	// join backoff) make a join or a failover take tens of seconds. The
	// session timeout stays within the brokers' default
	// group.min.session.timeout.ms of 6s (kfake enforces the same bound).
	groupHeartbeatInterval = time.Second
	groupSessionTimeout    = 10 * time.Second
	groupRebalanceTimeout  = 10 * time.Second
	groupJoinBackoff       = time.Second

	// Fetch timings: how long a fetch long-polls an idle partition, and how
	// long reading one message of a fetched batch may take. Short values
	// let a closing reader and a freshly assigned partition react quickly.
	fetchMaxWait     = 250 * time.Millisecond
	readBatchTimeout = 2 * time.Second
)

// Handler processes one message. It returns nil once the message's effects
// are durable; any error makes the Consumer retry the same message. Handlers
// must be idempotent: delivery is at least once, and duplicates arrive after
// rebalances and restarts. ctx ends after ConsumerConfig.HandlerTimeout or
// when the Consumer stops.
type Handler func(ctx context.Context, m kafka.Message) error

// ConsumerConfig configures NewConsumer.
type ConsumerConfig struct {
	// Brokers is the bootstrap list, "host:port" each.
	Brokers []string
	// GroupID is the consumer group; instances of one service share it.
	GroupID string
	// Topics are consumed together by the group.
	Topics []string
	// Handler is called for every message, one at a time.
	Handler Handler
	// Logger receives handler failures and kafka-go's logs; nil discards.
	Logger *slog.Logger
	// HandlerTimeout bounds one handler call; 0 means 30s.
	HandlerTimeout time.Duration
	// RetryBackoff is the wait after the first handler failure; it doubles
	// after each further failure, capped at 5s. 0 means 200ms.
	RetryBackoff time.Duration
	// StartOffset is where the group starts on a partition without a
	// committed offset: kafka.FirstOffset (the default, also for 0) or
	// kafka.LastOffset.
	StartOffset int64
}

// Consumer reads a set of topics as a member of a consumer group and hands
// each message to its Handler, committing the message's offset only after
// the handler succeeded (fetch, handle, commit). It never uses kafka-go's
// ReadMessage, which commits before processing.
//
// A failing message is retried with backoff until it succeeds or Run's
// context ends, so the partition is never committed past a message that was
// not handled. This blocks the partition (and, since messages are handled
// one at a time, the consumer) behind a poison message: routing such
// messages to the "<topic>.dlq" dead-letter topic after a bounded number of
// attempts (DESIGN §6) is not implemented here yet.
type Consumer struct {
	cfg    ConsumerConfig
	reader kafka.ReaderConfig
	log    *slog.Logger
}

// NewConsumer validates c and returns a Consumer; nothing connects until
// Run.
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
	case c.HandlerTimeout < 0 || c.RetryBackoff < 0:
		return nil, errors.New("kafkabus: new consumer: negative handler timeout or retry backoff")
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
	log := orDiscard(c.Logger).With("group", c.GroupID)
	kLog, kErrLog := kafkaLoggers(log)

	rc := kafka.ReaderConfig{
		Brokers:     c.Brokers,
		GroupID:     c.GroupID,
		GroupTopics: c.Topics,
		Dialer: &kafka.Dialer{
			ClientID:  c.GroupID,
			Timeout:   10 * time.Second,
			DualStack: true,
		},
		StartOffset: c.StartOffset,
		// Commit synchronously inside CommitMessages, so a returned nil
		// means the offset is stored, including the last one at shutdown.
		CommitInterval: 0,
		// RetentionTime stays 0: kafka-go then sends -1, deferring offset
		// retention to the broker (7 days by default).
		HeartbeatInterval: groupHeartbeatInterval,
		SessionTimeout:    groupSessionTimeout,
		RebalanceTimeout:  groupRebalanceTimeout,
		JoinGroupBackoff:  groupJoinBackoff,
		MaxWait:           fetchMaxWait,
		ReadBatchTimeout:  readBatchTimeout,
		ReadLagInterval:   -1,
		Logger:            kLog,
		ErrorLogger:       kErrLog,
	}
	// kafka.NewReader panics on an invalid config; turn that into an error.
	if err := rc.Validate(); err != nil {
		return nil, fmt.Errorf("kafkabus: new consumer: %w", err)
	}
	return &Consumer{cfg: c, reader: rc, log: log}, nil
}

// Run consumes until ctx ends, then returns nil. It joins the group, and for
// each message fetches, calls the Handler (retrying failures) and commits.
// Errors from the broker, including io.EOF, which kafka-go also returns for
// transient connection loss, are logged and retried: Run does not give up on
// its own. When ctx ends Run starts no new handler call, keeps the commit of
// the last handled message (it was made synchronously), closes the reader,
// which leaves the group, and only then returns.
func (c *Consumer) Run(ctx context.Context) error {
	r := kafka.NewReader(c.reader)
	c.log.Info("consumer started", "topics", c.cfg.Topics)

	fetchDelay := fetchErrorBackoff
	for ctx.Err() == nil {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			c.log.Warn("fetch failed, retrying", "err", err, "backoff", fetchDelay)
			if !sleep(ctx, fetchDelay) {
				break
			}
			fetchDelay = min(2*fetchDelay, maxFetchErrorBackoff)
			continue
		}
		fetchDelay = fetchErrorBackoff

		if !c.handle(ctx, m) {
			// ctx ended before the handler succeeded: leave the
			// message uncommitted so the group redelivers it.
			break
		}
		c.commit(ctx, r, m)
	}

	if err := r.Close(); err != nil {
		c.log.Warn("close reader", "err", err)
	}
	c.log.Info("consumer stopped")
	return nil
}

// handle calls the handler until it succeeds, reporting true, or ctx ends,
// reporting false.
func (c *Consumer) handle(ctx context.Context, m kafka.Message) bool {
	delay := c.cfg.RetryBackoff
	for attempt := 1; ; attempt++ {
		err := c.call(ctx, m)
		if err == nil {
			return true
		}
		if ctx.Err() != nil {
			c.log.Info("handler interrupted by shutdown; message left uncommitted",
				"topic", m.Topic, "partition", m.Partition, "offset", m.Offset,
				"attempt", attempt, "err", err)
			return false
		}
		c.log.Error("handler failed, retrying",
			"topic", m.Topic, "partition", m.Partition, "offset", m.Offset,
			"attempt", attempt, "backoff", delay, "err", err)
		if !sleep(ctx, delay) {
			return false
		}
		delay = min(2*delay, maxRetryBackoff)
	}
}

// call runs the handler once under HandlerTimeout, turning a panic into an
// error so one bad message cannot take down every service of the process.
func (c *Consumer) call(ctx context.Context, m kafka.Message) (err error) {
	hctx, cancel := context.WithTimeout(ctx, c.cfg.HandlerTimeout)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("handler panic: %v", p)
		}
	}()
	return c.cfg.Handler(hctx, m)
}

// commit stores m's offset synchronously. It is detached from ctx so that a
// shutdown right after a successful handler still records that success. A
// failure is logged and not retried: the next successful commit on the
// partition covers m too, and otherwise m is redelivered, which handlers
// tolerate.
func (c *Consumer) commit(ctx context.Context, r *kafka.Reader, m kafka.Message) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
	defer cancel()
	if err := r.CommitMessages(cctx, m); err != nil {
		c.log.Error("commit failed; message may be redelivered",
			"topic", m.Topic, "partition", m.Partition, "offset", m.Offset, "err", err)
	}
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
