// Package currency is ratewire's current-rate service: the public REST API
// of DESIGN.md §8 (currency) served through the rate:{CODE} Redis cache, which the
// service keeps fresh by consuming the ingestor's events, and the rate
// stream (GET /stream), fed by an in-process view of the latest rates that
// every instance keeps complete by following every partition itself. Run
// wires it together; cmd/currency and devstack call it.
package currency

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ratewire/ratewire/currency/internal/cache"
	"github.com/ratewire/ratewire/currency/internal/consumer"
	"github.com/ratewire/ratewire/currency/internal/follower"
	"github.com/ratewire/ratewire/currency/internal/httpapi"
	"github.com/ratewire/ratewire/currency/internal/live"
	"github.com/ratewire/ratewire/currency/internal/rates"
	"github.com/ratewire/ratewire/currency/internal/store"
	"github.com/ratewire/ratewire/shared/cachex"
	"github.com/ratewire/ratewire/shared/config"
	"github.com/ratewire/ratewire/shared/dedupe"
	"github.com/ratewire/ratewire/shared/event"
	"github.com/ratewire/ratewire/shared/httpx"
	"github.com/ratewire/ratewire/shared/kafkabus"
	"github.com/ratewire/ratewire/shared/logx"
	"github.com/ratewire/ratewire/shared/metrics"
	"github.com/ratewire/ratewire/shared/sqldb"
)

// ServiceName labels the currency service's logs and metrics.
const ServiceName = "currency"

// Options carries what the process, not the environment, decides.
type Options struct {
	// Logger is the service's logger; nil discards.
	Logger *slog.Logger
	// Listener, when set, is served instead of listening on cfg.HTTPAddr.
	Listener net.Listener
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// KeyPrefix goes before every Redis key: empty in production, a
	// namespace of its own for each test sharing a Redis server.
	KeyPrefix string
	// StreamMaxSubscribers bounds the rate stream's subscribers on this
	// instance; 0 means live.DefaultMaxSubscribers.
	StreamMaxSubscribers int
	// StreamHeartbeat is the rate stream's keep-alive interval; 0 means
	// 15 s.
	StreamHeartbeat time.Duration
}

// Run starts the currency service and blocks until ctx ends; it then stops
// the HTTP server, lets the consumer commit what it handled, and closes
// Redis and the database.
func Run(ctx context.Context, cfg config.Config, opts Options) error {
	log := opts.Logger
	if log == nil {
		log = logx.Discard()
	}
	if err := errors.Join(cfg.RequireDatabase(), cfg.RequireRedis(), cfg.RequireKafka()); err != nil {
		return err
	}
	db, err := sqldb.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	rdb, err := cachex.Open(cfg.RedisURL)
	if err != nil {
		return err
	}
	defer rdb.Close()

	st := store.New(db)
	svc := rates.New(st, cache.New(rdb, opts.KeyPrefix), log, opts.Now)

	reg := metrics.NewRegistry(ServiceName)
	// At-least-once consumption (DESIGN.md §6): handled event ids are
	// remembered per group in the same Redis as the cache, invalid events and
	// exhausted retries go to "<topic>.dlq", and ratewire_consumer_* metrics
	// land on this service's registry.
	cons, err := kafkabus.NewConsumer(kafkabus.ConsumerConfig{
		Brokers: cfg.KafkaBrokers, GroupID: consumer.GroupID, Topics: event.TopicNames(),
		Handler: consumer.Handler(svc, log), BatchHandler: consumer.BatchHandler(svc, log), Logger: log,
		Dedupe:     dedupe.NewRedis(rdb, dedupe.Options{KeyPrefix: opts.KeyPrefix, Now: opts.Now}),
		Registerer: reg, Now: opts.Now,
	})
	if err != nil {
		return err
	}
	engine := httpx.NewEngine(httpx.Options{Service: ServiceName, Logger: log, Registry: reg, Now: opts.Now, TrustedProxies: cfg.TrustedProxies,
		Ready: func(ctx context.Context) error {
			if err := st.Ping(ctx); err != nil {
				return fmt.Errorf("database: %w", err)
			}
			if err := rdb.Ping(ctx).Err(); err != nil {
				return fmt.Errorf("redis: %w", err)
			}
			return nil
		}})
	// The in-process view of the latest rates, which every replica keeps
	// complete from every partition (package follower), and the rate
	// stream it feeds.
	view := live.New(live.Options{MaxSubscribers: opts.StreamMaxSubscribers})
	// Reads of current rates are answered from the view once it is
	// current; the rate:{CODE} cache serves them until then.
	svc.UseView(view)
	for _, c := range []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ratewire_currency_stream_subscribers",
			Help: "Subscribers connected to the rate stream of this instance."}, func() float64 { return float64(view.Subscribers()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ratewire_currency_live_rates",
			Help: "Currencies held by this instance's in-process view of the latest rates."}, func() float64 { return float64(view.Len()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ratewire_currency_live_current",
			Help: "1 once this instance answers reads of current rates from its in-process view, 0 while they read the shared cache."},
			func() float64 {
				if view.Current() {
					return 1
				}
				return 0
			}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "ratewire_currency_live_changes_total",
			Help: "Rate changes this instance's in-process view applied from the event stream."}, func() float64 { return float64(view.Applied()) }),
	} {
		if err := reg.Register(c); err != nil {
			log.Error("register live view metrics", "err", err)
		}
	}
	httpapi.Register(engine, svc, cfg.AdminToken)
	httpapi.RegisterStream(engine, view, httpapi.StreamOptions{Heartbeat: opts.StreamHeartbeat})
	httpapi.RegisterOpenAPI(engine)

	// Streams never end on their own: close them when ctx ends, so the
	// HTTP server's shutdown does not wait for them.
	stopStreams := context.AfterFunc(ctx, view.Close)
	defer stopStreams()
	defer view.Close()
	follow := func(ctx context.Context) error {
		return follower.Run(ctx, follower.Config{Brokers: cfg.KafkaBrokers, Logger: log}, svc, view)
	}
	// The consumer stops once HTTP has stopped (ctx ended or it failed to
	// start), after the message in hand is committed.
	return httpx.Serve(ctx, opts.Listener, cfg.HTTPAddr, engine, log,
		httpx.Worker{Name: "consumer", Run: cons.Run}, httpx.Worker{Name: "live view", Run: follow})
}
