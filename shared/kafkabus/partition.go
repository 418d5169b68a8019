package kafkabus

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/segmentio/kafka-go"

	"github.com/ratewire/ratewire/shared/event"
)

// maxErrorHeader caps the error message copied into a dead-letter header.
const maxErrorHeader = 1024

// In-hand batching. A worker takes every message already fetched, up to
// maxInHand, as one batch and looks all their event ids up in one Dedupe
// call; the fetching goroutine keeps up to fetchBuffer more ready
// meanwhile (on top of the kafka-go reader's own queue of 100).
const (
	maxInHand   = 4096
	fetchBuffer = 4096
)

// partitionWorker consumes one partition for one generation.
type partitionWorker struct {
	c         *Consumer
	dlq       *Writer
	cm        *committer
	topic     string
	partition int
	log       *slog.Logger
	metrics   *topicMetrics
	mk        *marker
	runner    *handlerRunner // nil until the first call

	// Used by the worker's own goroutine only, reused from batch to batch.
	ask     []string
	askAt   []int
	handled map[string]struct{} // event ids handled in the current batch
	take    []bool              // which messages of the batch go to a BatchHandler
	todo    []kafka.Message     // those messages
	done    []markEntry         // the batch's messages, for the marker
}

// inHand is a batch: the messages, their event ids ("" without a Dedupe
// store) and which of them the store or the marker's queue knew as handled
// when consume looked them up.
type inHand struct {
	msgs []kafka.Message
	ids  []string
	dup  []bool
}

func newPartitionWorker(c *Consumer, dlq *Writer, cm *committer, topic string, partition int) *partitionWorker {
	w := &partitionWorker{
		c: c, dlq: dlq, cm: cm, topic: topic, partition: partition,
		log:     c.log.With("topic", topic, "partition", partition),
		metrics: c.metrics.forTopic(topic),
		handled: map[string]struct{}{},
	}
	w.mk = newMarker(w)
	return w
}

// run fetches from offset and processes messages in order until ctx ends.
// One goroutine fetches, so that every message that arrived while the
// worker was busy waits in a buffer; the worker's own goroutine takes what
// is buffered as a batch, looks its event ids up in the Dedupe store and
// handles it; one goroutine writes dedupe marks (see marker). When ctx
// ends the worker writes the marks still queued, once, so that the
// generation's final commit covers every event handled.
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
	fetchCtx, stopFetch := context.WithCancel(ctx)
	in := make(chan kafka.Message, fetchBuffer)
	var bg sync.WaitGroup
	bg.Go(func() { w.fetch(fetchCtx, r, in) })
	bg.Go(func() { w.mk.loop(ctx) })
	// Handler calls get a context of this worker's own, so that creating
	// and cancelling them does not contend with the other workers' on the
	// generation's context.
	wctx, cancel := context.WithCancel(ctx)
	w.consume(wctx, in)
	cancel()
	w.stopRunner()
	stopFetch()
	bg.Wait()
	w.mk.flush()
}

// fetch reads the partition into in until ctx ends.
func (w *partitionWorker) fetch(ctx context.Context, r *kafka.Reader, in chan<- kafka.Message) {
	delay := fetchErrorBackoff
	for {
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
		select {
		case in <- m: // the common case, without a full select
		default:
			select {
			case in <- m:
			case <-ctx.Done():
				return
			}
		}
	}
}

// consume takes the fetched messages in batches of whatever is ready, up
// to maxInHand, looks their event ids up in the Dedupe store and processes
// each batch, until ctx ends. Every batch before the one looked up is done,
// so its handled events are in the marker's queue or in the store, and
// lookup reads both. A message taken but not done when ctx ends stays
// uncommitted and the group redelivers it.
func (w *partitionWorker) consume(ctx context.Context, in <-chan kafka.Message) {
	var h inHand
	for {
		clear(h.msgs)
		h.msgs, h.ids, h.dup = h.msgs[:0], h.ids[:0], h.dup[:0]
		select {
		case m := <-in:
			h.msgs = append(h.msgs, m)
		case <-ctx.Done():
			return
		}
	fill:
		for len(h.msgs) < maxInHand {
			select {
			case m := <-in:
				h.msgs = append(h.msgs, m)
			default:
				break fill
			}
		}
		dedupe := w.c.cfg.Dedupe
		for _, m := range h.msgs {
			id := ""
			if dedupe != nil {
				id = eventIDOf(m)
			}
			h.ids = append(h.ids, id)
			h.dup = append(h.dup, false)
		}
		if dedupe != nil && !w.lookup(ctx, &h) {
			return
		}
		if !w.processBatch(ctx, &h) {
			return
		}
	}
}

// processBatch takes every message of h to done, in order, and reports
// false if ctx ended first. Duplicates are known before any handler runs:
// an event is one if lookup found it handled (in the store or queued for
// marking) or if it was handled earlier in this batch (a producer's retry
// can write one event twice in a row).
func (w *partitionWorker) processBatch(ctx context.Context, h *inHand) bool {
	clear(w.handled)
	if w.c.cfg.BatchHandler != nil {
		if ok, done := w.processAsOne(ctx, h); done {
			return ok
		}
	}
	clear(w.handled)
	for i, m := range h.msgs {
		id := h.ids[i]
		if _, again := w.handled[id]; h.dup[i] || (id != "" && again) {
			w.metrics.outcome(outcomeDuplicate)
			w.log.Debug("duplicate event skipped", "offset", m.Offset, "event_id", id)
			w.mk.add(m.Offset+1, "")
			continue
		}
		if !w.process(ctx, m, id) {
			return false
		}
	}
	return true
}

// processAsOne hands the batch's messages that are no duplicates (by
// h.dup, or by an event id seen earlier in the batch) to one BatchHandler
// call. done reports whether it took the batch to done (ok true) or ctx
// ended first (ok false); when fewer than two messages need handling, or
// the call failed, done is false and processBatch handles them one by one.
func (w *partitionWorker) processAsOne(ctx context.Context, h *inHand) (ok, done bool) {
	w.take, w.todo = w.take[:0], w.todo[:0]
	for i, m := range h.msgs {
		id := h.ids[i]
		_, again := w.handled[id]
		take := !h.dup[i] && (id == "" || !again)
		if take {
			if id != "" {
				w.handled[id] = struct{}{}
			}
			w.todo = append(w.todo, m)
		}
		w.take = append(w.take, take)
	}
	todo := w.todo
	if len(todo) < 2 {
		clear(todo)
		return false, false
	}
	start := time.Now()
	err := w.call(ctx, handlerJob{batch: todo})
	end := time.Now()
	if w.runner == nil {
		// call abandoned a handler that ignored its deadline and may still
		// read todo: leave the array to it.
		w.todo = nil
	} else {
		clear(todo) // the array outlives the batch: drop its messages
	}
	w.metrics.handled(end, end.Sub(start))
	if err != nil {
		if ctx.Err() != nil {
			w.log.Info("batch handler interrupted by shutdown or rebalance; messages left uncommitted",
				"offset", todo[0].Offset, "messages", len(todo), "err", err)
			return false, true
		}
		w.log.Warn("batch handler failed; handling its messages one at a time",
			"offset", todo[0].Offset, "messages", len(todo), "err", err)
		return false, false
	}
	w.done = w.done[:0]
	for i, m := range h.msgs {
		id := ""
		if w.take[i] {
			id = h.ids[i]
		} else {
			w.log.Debug("duplicate event skipped", "offset", m.Offset, "event_id", h.ids[i])
		}
		w.done = append(w.done, markEntry{next: m.Offset + 1, id: id})
	}
	w.metrics.outcomes(outcomeOK, len(todo))
	w.metrics.outcomes(outcomeDuplicate, len(h.msgs)-len(todo))
	w.mk.addAll(w.done)
	clear(w.done)
	return true, true
}

// lookup sets h.dup for the ids of h.ids that are queued for marking or
// that the store has seen. The queue is read before the store is asked: an
// id that leaves the queue in between has been written, so the store
// answers for it.
func (w *partitionWorker) lookup(ctx context.Context, h *inHand) bool {
	w.mk.queuedOf(h.ids, h.dup)
	w.ask, w.askAt = w.ask[:0], w.askAt[:0]
	for i, id := range h.ids {
		if id != "" && !h.dup[i] {
			w.ask = append(w.ask, id)
			w.askAt = append(w.askAt, i)
		}
	}
	if len(w.ask) == 0 {
		return true
	}
	var seen []bool
	if !w.retryForever(ctx, "dedupe lookup", h.msgs[0].Offset, func(ctx context.Context) (err error) {
		seen, err = seenMany(ctx, w.c.cfg.Dedupe, w.c.cfg.GroupID, w.ask)
		return err
	}) {
		return false
	}
	for j, s := range seen {
		if s {
			h.dup[w.askAt[j]] = true
		}
	}
	return true
}

// process takes m, which is no duplicate, to done: handled or written to
// its dead-letter topic; id is its event id when a Dedupe store is set. It
// reports false if ctx ended first. A handled event goes to the marker,
// which records it in the store before its offset may be committed.
func (w *partitionWorker) process(ctx context.Context, m kafka.Message, id string) bool {
	c := w.c
	var firstFailure time.Time
	delay := c.cfg.RetryBackoff
	for attempt := 1; ; attempt++ {
		start := time.Now()
		err := w.call(ctx, handlerJob{m: m})
		end := time.Now()
		w.metrics.handled(end, end.Sub(start))
		if err == nil {
			if id != "" {
				w.handled[id] = struct{}{}
			}
			w.metrics.outcome(outcomeOK)
			w.mk.add(m.Offset+1, id)
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
			if !w.deadLetter(ctx, m, err, class, attempt, firstFailure) {
				return false
			}
			w.mk.add(m.Offset+1, "")
			return true
		}
		w.metrics.outcome(outcomeRetry)
		w.log.Warn("handler failed, retrying", "offset", m.Offset, "event_id", eventIDOf(m),
			"attempt", attempt, "backoff", delay, "err", err)
		if !sleep(ctx, delay) {
			return false
		}
		delay = min(2*delay, maxRetryBackoff)
	}
}

// call runs the handler once, on j.m or, if j.batch is set, the batch
// handler on j.batch, under HandlerTimeout, turning a panic into an
// error so one bad message cannot take down every service of the process.
// A handler that ignores its context is abandoned handlerGrace after its
// deadline, so a stuck dependency cannot hold the partition (and with it
// the group's rebalances) forever; its goroutine is left to finish alone,
// and the next call starts a new one. Calls run on a goroutine of the
// worker's that lives from one call to the next, rather than one per call.
func (w *partitionWorker) call(ctx context.Context, j handlerJob) error {
	hctx, cancel := context.WithTimeout(ctx, w.c.cfg.HandlerTimeout)
	defer cancel()
	if w.runner == nil {
		w.runner = w.startRunner()
	}
	r := w.runner
	j.ctx = hctx
	r.jobs <- j
	select {
	case err := <-r.res:
		return err
	case <-hctx.Done():
	}
	grace := time.NewTimer(handlerGrace)
	defer grace.Stop()
	select {
	case err := <-r.res:
		return err
	case <-grace.C:
		offset := j.m.Offset
		if j.batch != nil {
			offset = j.batch[0].Offset
		}
		w.log.Error("handler ignored its deadline; abandoned", "offset", offset, "timeout", w.c.cfg.HandlerTimeout)
		close(r.jobs) // it exits once the handler returns
		w.runner = nil
		return fmt.Errorf("handler did not return within %s: %w", w.c.cfg.HandlerTimeout, context.DeadlineExceeded)
	}
}

// handlerRunner is the goroutine that runs a worker's handler calls, one
// at a time: each job on jobs gets its result on res.
type handlerRunner struct {
	jobs chan handlerJob
	res  chan error
}

type handlerJob struct {
	ctx   context.Context
	m     kafka.Message
	batch []kafka.Message // set for a BatchHandler call
}

// startRunner starts a handlerRunner; it exits when its jobs are closed.
func (w *partitionWorker) startRunner() *handlerRunner {
	r := &handlerRunner{jobs: make(chan handlerJob), res: make(chan error, 1)}
	go func() {
		for j := range r.jobs {
			r.res <- w.handle(j)
		}
	}()
	return r
}

// stopRunner lets the worker's handler goroutine exit.
func (w *partitionWorker) stopRunner() {
	if w.runner != nil {
		close(w.runner.jobs)
		w.runner = nil
	}
}

// handle calls the handler of j, turning a panic into an error.
func (w *partitionWorker) handle(j handlerJob) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("handler panic: %v", p)
		}
	}()
	if j.batch != nil {
		return w.c.cfg.BatchHandler(j.ctx, j.batch)
	}
	return w.c.cfg.Handler(j.ctx, j.m)
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
	if !w.retryForever(ctx, "dead-letter write", m.Offset, func(ctx context.Context) error {
		return w.dlq.Publish(ctx, msg)
	}) {
		return false
	}
	w.metrics.outcome(outcomeDLQ)
	return true
}

// retryForever calls fn until it succeeds (true) or ctx ends (false),
// backing off between failures. It serves the steps that must not be
// skipped and cannot be dead-lettered: dedupe-store calls and dead-letter
// writes.
// offset names the (first) message concerned in the log.
func (w *partitionWorker) retryForever(ctx context.Context, what string, offset int64, fn func(context.Context) error) bool {
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
		w.metrics.stepError(what)
		w.log.Warn(what+" failed; partition waits and retries", "offset", offset, "backoff", delay, "err", err)
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
