package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

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

	pending   prometheus.Gauge
	oldestAge prometheus.Gauge
	published prometheus.Counter
	failures  prometheus.Counter
}

// NewRelay builds a relay. reg may be nil.
func NewRelay(st RelayStore, pub Publisher, log *slog.Logger, reg prometheus.Registerer, now func() time.Time) (*Relay, error) {
	if now == nil {
		now = time.Now
	}
	r := &Relay{
		store: st, pub: pub, log: log, now: now, wake: make(chan struct{}, 1), batch: 500,
		pending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ratewire_outbox_pending_messages", Help: "Events written to the outbox and not yet acknowledged by Kafka.",
		}),
		oldestAge: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ratewire_outbox_oldest_pending_age_seconds", Help: "Age of the oldest unpublished outbox event (0 when none wait).",
		}),
		published: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ratewire_outbox_published_total", Help: "Outbox events acknowledged by Kafka.",
		}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ratewire_outbox_publish_failures_total", Help: "Failed attempts to publish outbox events.",
		}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{r.pending, r.oldestAge, r.published, r.failures} {
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
			r.log.Warn("outbox publish failed; events wait in the outbox", "err", err, "retry_in", wait.String())
			wait = min(wait*2, maxBackoff)
		} else {
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
// sent. It returns the first error; what it published before is marked.
func (r *Relay) Drain(ctx context.Context) error {
	defer r.observe(ctx)
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
				return fmt.Errorf("publish %d outbox events: %w", len(kms), err)
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

func (r *Relay) observe(ctx context.Context) {
	n, oldest, err := r.store.OutboxBacklog(context.WithoutCancel(ctx))
	if err != nil {
		if !errors.Is(err, context.Canceled) {
			r.log.Debug("outbox backlog unknown", "err", err)
		}
		return
	}
	r.pending.Set(float64(n))
	if n == 0 {
		r.oldestAge.Set(0)
	} else {
		r.oldestAge.Set(r.now().Sub(oldest).Seconds())
	}
}
