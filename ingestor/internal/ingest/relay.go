package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/ratewire/ratewire/ingestor/internal/store"
)

// RelayStore is the outbox side of the store.
type RelayStore interface {
	PendingOutbox(ctx context.Context, limit int) ([]store.OutboxMessage, error)
	MarkSent(ctx context.Context, ids []int64, at time.Time) error
	OutboxBacklog(ctx context.Context) (int, time.Time, error)
	WithRelayLock(ctx context.Context, fn func() error) (bool, error)
}

// Publisher sends Kafka messages synchronously: nil means the brokers
// acknowledged every one (acks=all).
type Publisher interface {
	Publish(ctx context.Context, msgs ...kafka.Message) error
}

// Relay publishes the outbox in order and marks what the brokers
// acknowledged. While Kafka is down events wait in the outbox; a crash
// between publishing and marking republishes them (consumers deduplicate
// by event id), so none is lost.
type Relay struct {
	store RelayStore
	pub   Publisher
	log   *slog.Logger
	now   func() time.Time
	wake  chan struct{}
	batch int

	published prometheus.Counter
	failures  prometheus.Counter

	// failLog rate-limits the failure log of Run: with Kafka down the
	// relay fails every few seconds, and one line per failureLogEvery
	// (with how many were suppressed) says as much.
	failLog struct {
		last       time.Time // of the last failure line; zero when none since the last success
		suppressed int       // failures not logged since then
	}
}

const (
	// failureLogEvery is the least time between two failure lines of Run.
	failureLogEvery = 30 * time.Second
	// maxErrBytes bounds the error text of a failure line and of Drain's
	// error.
	maxErrBytes = 512
	// backlogTimeout bounds the outbox query of a scrape, so a database
	// that hangs does not hang /metrics.
	backlogTimeout = 2 * time.Second
)

// NewRelay builds a relay. reg may be nil.
func NewRelay(st RelayStore, pub Publisher, log *slog.Logger, reg prometheus.Registerer, now func() time.Time) (*Relay, error) {
	if now == nil {
		now = time.Now
	}
	r := &Relay{
		store: st, pub: pub, log: log, now: now, wake: make(chan struct{}, 1), batch: 500,
		published: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ratewire_outbox_published_total", Help: "Outbox events acknowledged by Kafka.",
		}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ratewire_outbox_publish_failures_total", Help: "Failed attempts to publish outbox events.",
		}),
	}
	if reg != nil {
		backlog := &backlogCollector{store: st, now: now, log: log}
		for _, c := range []prometheus.Collector{backlog, r.published, r.failures} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("relay: register metrics: %w", err)
			}
		}
	}
	return r, nil
}

// Wake asks the relay to publish now instead of at its next tick.
func (r *Relay) Wake() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Run publishes until ctx ends, then makes one last attempt (bounded by a
// few seconds) so a graceful stop leaves nothing behind that Kafka could
// take.
func (r *Relay) Run(ctx context.Context) error {
	// idle is how often an idle relay looks at the outbox: the ingestor's
	// own runs wake it at once, but a backfill (a command, or devstack's
	// start-up backfill) commits from another connection, and its events
	// should reach the caches within a fraction of a second.
	const idle, maxBackoff = 250 * time.Millisecond, 10 * time.Second
	wait := idle
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			if err := r.Drain(fctx); err != nil {
				r.log.Warn("outbox not empty at shutdown; it is published on the next start", "err", err)
			}
			cancel()
			return nil
		case <-r.wake:
		case <-t.C:
		}
		if err := r.Drain(ctx); err != nil && ctx.Err() == nil {
			r.failures.Inc()
			wait = min(wait*2, maxBackoff)
			r.logFailure(err, wait)
		} else {
			if err == nil {
				r.logRecovery()
			}
			wait = idle
		}
		if !t.Stop() {
			select {
			case <-t.C:
			default:
			}
		}
		t.Reset(wait)
	}
}

// Drain publishes every pending message, oldest first, and marks them
// sent. It returns the first error; what it published before is marked. A
// failed publish is a *PublishError, whose message stays short however
// many messages the brokers refused.
func (r *Relay) Drain(ctx context.Context) error {
	_, err := r.store.WithRelayLock(ctx, func() error {
		for {
			msgs, err := r.store.PendingOutbox(ctx, r.batch)
			if err != nil || len(msgs) == 0 {
				return err
			}
			kms := make([]kafka.Message, len(msgs))
			ids := make([]int64, len(msgs))
			for i, m := range msgs {
				if kms[i], err = Message(m); err != nil {
					return err
				}
				ids[i] = m.ID
			}
			if err := r.pub.Publish(ctx, kms...); err != nil {
				return newPublishError(len(kms), err)
			}
			// Acknowledged: from here a failure to mark only republishes.
			if err := r.store.MarkSent(context.WithoutCancel(ctx), ids, r.now()); err != nil {
				return fmt.Errorf("mark %d outbox events sent: %w", len(ids), err)
			}
			r.published.Add(float64(len(ids)))
			if len(msgs) < r.batch {
				return nil
			}
		}
	})
	return err
}

// logFailure logs a failed Drain: at most one line per failureLogEvery
// on the relay's clock, saying how many failures it suppressed before.
func (r *Relay) logFailure(err error, retry time.Duration) {
	now := r.now()
	if !r.failLog.last.IsZero() && now.Sub(r.failLog.last) < failureLogEvery {
		r.failLog.suppressed++
		return
	}
	args := []any{"err", truncate(err.Error()), "retry_in", retry.String(), "suppressed", r.failLog.suppressed}
	var pe *PublishError
	if errors.As(err, &pe) {
		args = append(args, "failed_messages", pe.Failed, "batch", pe.Messages)
	}
	r.log.Warn("outbox publish failed; events wait in the outbox", args...)
	r.failLog.last, r.failLog.suppressed = now, 0
}

// logRecovery says once that publishing works again after failures.
func (r *Relay) logRecovery() {
	if r.failLog.last.IsZero() {
		return
	}
	r.log.Info("outbox publishing again", "suppressed", r.failLog.suppressed)
	r.failLog.last, r.failLog.suppressed = time.Time{}, 0
}

// PublishError is a batch the brokers did not acknowledge. Its message
// names the count of failed messages and only the first error, truncated:
// kafka-go reports one error per message, and joined they run to tens of
// kilobytes per batch.
type PublishError struct {
	Messages int   // in the batch
	Failed   int   // of them, refused (all when the error is not per message)
	First    error // the first message's error, or the whole error
	Err      error // as the publisher returned it
}

func newPublishError(n int, err error) *PublishError {
	e := &PublishError{Messages: n, Failed: n, First: err, Err: err}
	var we kafka.WriteErrors
	if errors.As(err, &we) {
		e.Failed = we.Count()
		for _, m := range we {
			if m != nil {
				e.First = m
				break
			}
		}
	}
	return e
}

func (e *PublishError) Error() string {
	return fmt.Sprintf("publish %d outbox events: %d failed, first: %s", e.Messages, e.Failed, truncate(e.First.Error()))
}

func (e *PublishError) Unwrap() error { return e.Err }

// truncate cuts s to maxErrBytes, on a rune boundary.
func truncate(s string) string {
	if len(s) <= maxErrBytes {
		return s
	}
	cut := maxErrBytes
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "... (truncated)"
}

// backlogCollector reports the outbox backlog as the outbox table holds it
// when Prometheus scrapes, not as the last finished publish saw it: with
// Kafka hung inside a publish, no attempt ends, yet the count and the age
// must keep moving. The age is measured on the relay's clock. When the
// database does not answer within backlogTimeout the two gauges are left
// out of the scrape (unknown, rather than a stale or zero value).
type backlogCollector struct {
	store RelayStore
	now   func() time.Time
	log   *slog.Logger
}

var (
	pendingDesc = prometheus.NewDesc("ratewire_outbox_pending_messages",
		"Events written to the outbox and not yet acknowledged by Kafka, read from the outbox at scrape time.", nil, nil)
	oldestAgeDesc = prometheus.NewDesc("ratewire_outbox_oldest_pending_age_seconds",
		"Age of the oldest unpublished outbox event at scrape time (0 when none wait).", nil, nil)
)

// Describe implements prometheus.Collector.
func (b *backlogCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- pendingDesc
	ch <- oldestAgeDesc
}

// Collect implements prometheus.Collector.
func (b *backlogCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), backlogTimeout)
	defer cancel()
	n, oldest, err := b.store.OutboxBacklog(ctx)
	if err != nil {
		b.log.Debug("outbox backlog unknown at scrape", "err", err)
		return
	}
	age := 0.0
	if n > 0 {
		age = max(b.now().Sub(oldest).Seconds(), 0)
	}
	ch <- prometheus.MustNewConstMetric(pendingDesc, prometheus.GaugeValue, float64(n))
	ch <- prometheus.MustNewConstMetric(oldestAgeDesc, prometheus.GaugeValue, age)
}
