// Package follower keeps a currency replica's in-process view (package
// live) complete and current. The consumer group splits the partitions of
// exchange_rate_updated between replicas, so the group's consumer alone
// would tell each replica about a share of the changes only; the follower
// instead reads every partition itself, with no group and no commits, so
// every replica's view, and every replica's rate stream, carries every
// change (DESIGN.md §8).
//
// It also follows data_processing_completed, the last event of every
// ingest run: on it the view is reconciled with the database (see
// live.View.Refresh), as the consumer group refreshes the rate:{CODE}
// cache on the same event, so what the service derives from a rate
// without a new version (its change after a backfill) reaches the view
// too.
//
// Start-up is ordered so that no change is missed: the view is first
// seeded from the database (so it is complete from the first subscriber);
// then the end offset of each partition is read; then the database is read
// again and what changed meanwhile is applied; then each partition is read
// from the offset found. A change committed after the second read was
// published after it, so at or after those offsets; one committed before
// it is in the read. Duplicates are harmless: the view applies a version
// only when it is newer than the one it holds. Once the partitions are
// followed the view is marked current: the rates service answers reads of
// current rates from it from then on, and from the shared cache before.
package follower

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/ratewire/ratewire/currency/internal/live"
	"github.com/ratewire/ratewire/currency/internal/rates"
	"github.com/ratewire/ratewire/shared/event"
)

// Service is what the follower needs from the rates service: completing
// rates into the JSON GET /{code} answers.
type Service interface {
	CompleteJSON(ctx context.Context, r rates.Rate) ([]byte, error)
	AllLatestJSON(ctx context.Context) ([]rates.Rate, [][]byte, error)
}

// Config configures Run.
type Config struct {
	Brokers []string
	// ClientID names the follower's connections; empty means
	// "currency-live".
	ClientID string
	Logger   *slog.Logger
	// Refresh ticks when the view is reconciled with the database (see
	// live.View.Refresh); nil means every RefreshEvery.
	Refresh <-chan time.Time
}

// RefreshEvery is how often the view is reconciled with the database by
// default, besides after every run: what the service derives from a rate
// (carried_over) moves without any event at KST midnight, and the
// rate:{CODE} cache converges on the same bound (its 10 minute TTL).
const RefreshEvery = 10 * time.Minute

// Timings. fetchMaxWait bounds how long a fetch long-polls an idle
// partition (data is answered at once); the backoffs pace retries after a
// failure of Kafka or the database.
const (
	fetchMaxWait = 250 * time.Millisecond
	firstBackoff = 100 * time.Millisecond
	maxBackoff   = 5 * time.Second
	kafkaTimeout = 10 * time.Second
)

// Run seeds v from the database, marks it ready and keeps it current from
// every partition of the topic until ctx ends; it returns nil then. Kafka
// or database failures are retried with backoff, never returned: the view
// serves what it holds meanwhile.
func Run(ctx context.Context, cfg Config, svc Service, v *live.View) error {
	if cfg.ClientID == "" {
		cfg.ClientID = "currency-live"
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "live_view")
	f := &follower{cfg: cfg, svc: svc, v: v, log: log}

	if !retry(ctx, log, "seed the live view from the database", func() error { return f.load(ctx, v.Seed) }) {
		return nil
	}
	v.MarkReady()
	var offsets map[topicPartition]int64
	if !retry(ctx, log, "read the end offsets", func() (err error) { offsets, err = f.endOffsets(ctx); return err }) {
		return nil
	}
	apply := func(cs []live.Change) {
		for _, c := range cs {
			v.Apply(c)
		}
	}
	if !retry(ctx, log, "reread the database", func() error { return f.load(ctx, apply) }) {
		return nil
	}
	log.Info("live view following every partition", "partitions", len(offsets), "currencies", v.Len())
	var wg sync.WaitGroup
	for tp, off := range offsets {
		wg.Go(func() { f.follow(ctx, tp, off) })
	}
	// The view now holds what the database held after the offsets were
	// read, and every later change is on its way: reads of current rates
	// may be answered from it (until now they read the shared cache).
	v.MarkCurrent()
	refresh := cfg.Refresh
	if refresh == nil {
		t := time.NewTicker(RefreshEvery)
		defer t.Stop()
		refresh = t.C
	}
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			return nil
		case <-refresh:
			if err := f.load(ctx, v.Refresh); err != nil && ctx.Err() == nil {
				log.Warn("live view: refresh from the database failed; next time", "err", err)
			}
		}
	}
}

type follower struct {
	cfg Config
	svc Service
	v   *live.View
	log *slog.Logger
}

// load reads every current rate from the database and hands them to put.
func (f *follower) load(ctx context.Context, put func([]live.Change)) error {
	rs, js, err := f.svc.AllLatestJSON(ctx)
	if err != nil {
		return err
	}
	cs := make([]live.Change, len(rs))
	for i, r := range rs {
		cs[i] = live.Change{Code: r.CurrencyCode, Version: r.Version, JSON: js[i]}
	}
	put(cs)
	return nil
}

// topics are what the follower reads, every partition of each.
var topics = []string{event.TopicExchangeRateUpdated, event.TopicDataProcessingCompleted}

type topicPartition struct {
	topic     string
	partition int
}

// endOffsets returns the end (next) offset of every partition of topics.
func (f *follower) endOffsets(ctx context.Context) (map[topicPartition]int64, error) {
	tr := &kafka.Transport{ClientID: f.cfg.ClientID}
	defer tr.CloseIdleConnections()
	cl := &kafka.Client{Addr: kafka.TCP(f.cfg.Brokers...), Timeout: kafkaTimeout, Transport: tr}
	meta, err := cl.Metadata(ctx, &kafka.MetadataRequest{Topics: topics})
	if err != nil {
		return nil, fmt.Errorf("metadata of %v: %w", topics, err)
	}
	req := &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{}}
	want := 0
	for _, t := range meta.Topics {
		if t.Error != nil || len(t.Partitions) == 0 {
			return nil, fmt.Errorf("topic %s: %v", t.Name, t.Error)
		}
		for _, p := range t.Partitions {
			req.Topics[t.Name] = append(req.Topics[t.Name], kafka.LastOffsetOf(p.ID))
			want++
		}
	}
	if len(req.Topics) != len(topics) {
		return nil, fmt.Errorf("metadata answered %d of the topics %v", len(req.Topics), topics)
	}
	res, err := cl.ListOffsets(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("list offsets of %v: %w", topics, err)
	}
	out := map[topicPartition]int64{}
	for topic, ps := range res.Topics {
		for _, p := range ps {
			if p.Error != nil {
				return nil, fmt.Errorf("offsets of %s/%d: %w", topic, p.Partition, p.Error)
			}
			out[topicPartition{topic, p.Partition}] = p.LastOffset
		}
	}
	if len(out) != want {
		return nil, fmt.Errorf("offsets of %v: %d of %d partitions answered", topics, len(out), want)
	}
	return out, nil
}

// follow reads one partition from offset until ctx ends, applying each
// exchange_rate_updated that is newer than the view's and reconciling the
// view on each data_processing_completed.
func (f *follower) follow(ctx context.Context, tp topicPartition, offset int64) {
	log := f.log.With("topic", tp.topic, "partition", tp.partition)
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers: f.cfg.Brokers, Topic: tp.topic, Partition: tp.partition,
		Dialer:          &kafka.Dialer{ClientID: f.cfg.ClientID, Timeout: kafkaTimeout, DualStack: true},
		MaxWait:         fetchMaxWait,
		ReadLagInterval: -1,
	})
	defer func() {
		if err := r.Close(); err != nil {
			log.Debug("close live view reader", "err", err)
		}
	}()
	if err := r.SetOffset(offset); err != nil {
		log.Error("set live view start offset", "offset", offset, "err", err)
		return
	}
	delay := firstBackoff
	for {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			// io.EOF and broker errors: the reader reconnects on its own.
			log.Warn("live view fetch failed, retrying", "err", err, "backoff", delay)
			if !sleep(ctx, delay) {
				return
			}
			delay = min(delay*2, maxBackoff)
			continue
		}
		delay = firstBackoff
		f.handle(ctx, log, m)
	}
}

// handle applies one message. An undecodable message is skipped here: the
// consumer group dead-letters it. A failure to complete the rate (the
// database is down) is retried until it succeeds or ctx ends, holding the
// partition so its order is kept.
func (f *follower) handle(ctx context.Context, log *slog.Logger, m kafka.Message) {
	ev, err := event.Decode(m.Topic, m.Value)
	if err != nil {
		log.Warn("live view skips an invalid event", "offset", m.Offset, "err", err)
		return
	}
	if _, ok := ev.(*event.DataProcessingCompleted); ok {
		if retry(ctx, log, "reconcile after a run", func() error { return f.load(ctx, f.v.Refresh) }) {
			log.Debug("live view reconciled after a run", "offset", m.Offset, "correlation_id", event.MetaOf(ev).CorrelationID)
		}
		return
	}
	e, ok := ev.(*event.ExchangeRateUpdated)
	if !ok {
		return
	}
	if cur, ok := f.v.Get(e.CurrencyCode); ok && e.Version <= cur.Version {
		return // a duplicate, or what the seed already held
	}
	var b []byte
	if !retry(ctx, log, "complete "+e.CurrencyCode, func() (err error) {
		b, err = f.svc.CompleteJSON(ctx, rates.Rate{Rate: e.Rate})
		return err
	}) {
		return
	}
	if f.v.Apply(live.Change{Code: e.CurrencyCode, Version: e.Version, JSON: b}) {
		log.Debug("live view applied", "currency_code", e.CurrencyCode, "version", e.Version,
			"offset", m.Offset, "event_id", e.EventID, "correlation_id", e.CorrelationID)
	}
}

// retry calls fn until it succeeds (true) or ctx ends (false), with
// backoff, logging each failure.
func retry(ctx context.Context, log *slog.Logger, what string, fn func() error) bool {
	delay := firstBackoff
	for {
		err := fn()
		if err == nil {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		log.Warn("live view: "+what+" failed, retrying", "err", err, "backoff", delay)
		if !sleep(ctx, delay) {
			return false
		}
		delay = min(delay*2, maxBackoff)
	}
}

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
