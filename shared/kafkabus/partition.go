package kafkabus

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/segmentio/kafka-go"

	"github.com/ratewire/ratewire/shared/event"
)

// maxErrorHeader caps the error message copied into a dead-letter header.
const maxErrorHeader = 1024

// partitionWorker consumes one partition for one generation.
type partitionWorker struct {
	c         *Consumer
	dlq       *Writer
	cm        *committer
	topic     string
	partition int
	log       *slog.Logger
}

// run fetches from offset and processes messages in order until ctx ends.
func (w *partitionWorker) run(ctx context.Context, offset int64) {
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:          w.c.cfg.Brokers,
		Topic:            w.topic,
		Partition:        w.partition,
		Dialer:           w.c.dialer,
		MaxWait:          fetchMaxWait,
		ReadBatchTimeout: readBatchTimeout,
		ReadLagInterval:  -1,
		Logger:           w.c.kLog,
		ErrorLogger:      w.c.kErrLog,
	})
	defer func() {
		if err := r.Close(); err != nil {
			w.log.Debug("close partition reader", "err", err)
		}
	}()
	if err := r.SetOffset(offset); err != nil {
		w.log.Error("set start offset", "offset", offset, "err", err)
		<-ctx.Done()
		return
	}
	delay := fetchErrorBackoff
	for ctx.Err() == nil {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			// io.EOF and broker errors: the reader reconnects on its own.
			w.log.Warn("fetch failed, retrying", "err", err, "backoff", delay)
			if !sleep(ctx, delay) {
				return
			}
			delay = min(2*delay, maxFetchErrorBackoff)
			continue
		}
		delay = fetchErrorBackoff
		if !w.process(ctx, m) {
			// ctx ended before the message was done: it stays
			// uncommitted and the group redelivers it.
			return
		}
		w.cm.done(w.topic, w.partition, m.Offset+1)
	}
}

// process takes m to done: skipped as a duplicate, handled, or written to
// its dead-letter topic. It reports false if ctx ended first.
func (w *partitionWorker) process(ctx context.Context, m kafka.Message) bool {
	c := w.c
	id := eventIDOf(m)
	if id != "" && c.cfg.Dedupe != nil {
		var seen bool
		if !w.retryForever(ctx, "dedupe lookup", m, func(ctx context.Context) (err error) {
			seen, err = c.cfg.Dedupe.Seen(ctx, c.cfg.GroupID, id)
			return err
		}) {
			return false
		}
		if seen {
			c.metrics.outcome(m.Topic, outcomeDuplicate)
			w.log.Debug("duplicate event skipped", "offset", m.Offset, "event_id", id)
			return true
		}
	}

	var firstFailure time.Time
	delay := c.cfg.RetryBackoff
	for attempt := 1; ; attempt++ {
		start := time.Now()
		err := w.call(ctx, m)
		c.metrics.handled(m.Topic, time.Since(start))
		if err == nil {
			if id != "" && c.cfg.Dedupe != nil {
				// The effects are durable; only the record of them is
				// missing, so retry the record, never the handler.
				if !w.retryForever(ctx, "dedupe mark", m, func(ctx context.Context) error {
					return c.cfg.Dedupe.Mark(ctx, c.cfg.GroupID, id)
				}) {
					return false
				}
			}
			c.metrics.outcome(m.Topic, outcomeOK)
			return true
		}
		if ctx.Err() != nil {
			w.log.Info("handler interrupted by shutdown or rebalance; message left uncommitted",
				"offset", m.Offset, "attempt", attempt, "err", err)
			return false
		}
		if firstFailure.IsZero() {
			firstFailure = c.cfg.Now()
		}
		class, retriable := classify(err)
		if !retriable || attempt >= c.cfg.MaxAttempts {
			return w.deadLetter(ctx, m, err, class, attempt, firstFailure)
		}
		c.metrics.outcome(m.Topic, outcomeRetry)
		w.log.Warn("handler failed, retrying", "offset", m.Offset, "event_id", id,
			"attempt", attempt, "backoff", delay, "err", err)
		if !sleep(ctx, delay) {
			return false
		}
		delay = min(2*delay, maxRetryBackoff)
	}
}

// call runs the handler once under HandlerTimeout, turning a panic into an
// error so one bad message cannot take down every service of the process.
// A handler that ignores its context is abandoned handlerGrace after its
// deadline, so a stuck dependency cannot hold the partition (and with it
// the group's rebalances) forever; its goroutine is left to finish alone.
func (w *partitionWorker) call(ctx context.Context, m kafka.Message) error {
	hctx, cancel := context.WithTimeout(ctx, w.c.cfg.HandlerTimeout)
	defer cancel()
	res := make(chan error, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				res <- fmt.Errorf("handler panic: %v", p)
			}
		}()
		res <- w.c.cfg.Handler(hctx, m)
	}()
	select {
	case err := <-res:
		return err
	case <-hctx.Done():
	}
	grace := time.NewTimer(handlerGrace)
	defer grace.Stop()
	select {
	case err := <-res:
		return err
	case <-grace.C:
		w.log.Error("handler ignored its deadline; abandoned", "offset", m.Offset, "timeout", w.c.cfg.HandlerTimeout)
		return fmt.Errorf("handler did not return within %s: %w", w.c.cfg.HandlerTimeout, context.DeadlineExceeded)
	}
}

// deadLetter writes m to its dead-letter topic, retrying until the write
// succeeds (reporting true) or ctx ends (false): the partition never moves
// past a message that is neither handled nor dead-lettered.
func (w *partitionWorker) deadLetter(ctx context.Context, m kafka.Message, cause error, class string, attempts int, firstFailure time.Time) bool {
	c := w.c
	msg := kafka.Message{
		Topic:   event.DLQTopic(m.Topic),
		Key:     m.Key,
		Value:   m.Value,
		Headers: make([]kafka.Header, 0, len(m.Headers)+9),
	}
	for _, h := range m.Headers {
		// A message that was dead-lettered before, replayed and failed
		// again carries the old dlq.* headers only if a replay kept them;
		// drop them so the new ones are unambiguous.
		if strings.HasPrefix(h.Key, event.HeaderDLQPrefix) {
			continue
		}
		msg.Headers = append(msg.Headers, h)
	}
	add := func(k, v string) { msg.Headers = append(msg.Headers, kafka.Header{Key: k, Value: []byte(v)}) }
	add(event.HeaderDLQOriginalTopic, m.Topic)
	add(event.HeaderDLQOriginalPartition, strconv.Itoa(m.Partition))
	add(event.HeaderDLQOriginalOffset, strconv.FormatInt(m.Offset, 10))
	add(event.HeaderDLQConsumerGroup, c.cfg.GroupID)
	add(event.HeaderDLQErrorClass, class)
	add(event.HeaderDLQErrorMessage, truncate(cause.Error(), maxErrorHeader))
	add(event.HeaderDLQAttempts, strconv.Itoa(attempts))
	add(event.HeaderDLQFirstFailureAt, firstFailure.UTC().Format(time.RFC3339Nano))
	add(event.HeaderDLQDeadLetteredAt, c.cfg.Now().UTC().Format(time.RFC3339Nano))

	w.log.Error("message dead-lettered", "offset", m.Offset, "event_id", eventIDOf(m),
		"dlq_topic", msg.Topic, "error_class", class, "attempts", attempts, "err", cause)
	if !w.retryForever(ctx, "dead-letter write", m, func(ctx context.Context) error {
		return w.dlq.Publish(ctx, msg)
	}) {
		return false
	}
	c.metrics.outcome(m.Topic, outcomeDLQ)
	return true
}

// retryForever calls fn until it succeeds (true) or ctx ends (false),
// backing off between failures. It serves the steps that must not be
// skipped and cannot be dead-lettered: dedupe-store calls and dead-letter
// writes.
func (w *partitionWorker) retryForever(ctx context.Context, what string, m kafka.Message, fn func(context.Context) error) bool {
	delay := fetchErrorBackoff
	for {
		cctx, cancel := context.WithTimeout(ctx, w.c.cfg.HandlerTimeout)
		err := fn(cctx)
		cancel()
		if err == nil {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		w.c.metrics.stepError(m.Topic, what)
		w.log.Warn(what+" failed; partition waits and retries", "offset", m.Offset, "backoff", delay, "err", err)
		if !sleep(ctx, delay) {
			return false
		}
		delay = min(2*delay, maxFetchErrorBackoff)
	}
}

// truncate cuts s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}
