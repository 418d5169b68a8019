// Package history is the history, statistics and analysis service of
// ratewire: it answers questions about how KRW rates moved over a period
// from the rates the ingestor stores, caching results in Redis. Run wires
// it together; cmd/history and devstack call it.
package history

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ratewire/ratewire/history/internal/cache"
	"github.com/ratewire/ratewire/history/internal/consumer"
	"github.com/ratewire/ratewire/history/internal/httpapi"
	"github.com/ratewire/ratewire/history/internal/series"
	"github.com/ratewire/ratewire/history/internal/store"
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

// ServiceName labels the history service's logs and metrics.
const ServiceName = "history"

// startupPingTimeout bounds the Redis check at start, which only logs.
const startupPingTimeout = time.Second

// Options carries what the process, not the environment, decides.
type Options struct {
	// Logger is the service's logger; nil discards.
	Logger *slog.Logger
	// Listener, when set, is served instead of listening on cfg.HTTPAddr.
	Listener net.Listener
	// Now is the clock that decides where a period ends, and also the
	// day the consumer files processed event ids under, its dead-letter
	// timestamps and the responses' timestamp; nil means time.Now.
	Now func() time.Time
	// KeyPrefix goes before every Redis key: empty in production, a
	// namespace of its own for each test sharing a Redis server.
	KeyPrefix string
}

// Run starts the history service and blocks until ctx ends, then shuts
// down the HTTP server, lets the consumer commit what it handled, and
// closes Redis and the database, in that order. It needs
// RATEWIRE_DATABASE_URL, RATEWIRE_REDIS_URL and RATEWIRE_KAFKA_BROKERS.
// Redis being down at start is not an error: /readyz reports it until it
// comes back, and answers come from the database meanwhile.
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
		return fmt.Errorf("%s: %w", ServiceName, err)
	}
	defer db.Close()
	st := store.New(db)
	if err := st.Migrate(ctx); err != nil {
		return fmt.Errorf("%s: %w", ServiceName, err)
	}

	rdb, err := cachex.Open(cfg.RedisURL)
	if err != nil {
		return fmt.Errorf("%s: %w", ServiceName, err)
	}
	defer rdb.Close()
	pingCtx, cancel := context.WithTimeout(ctx, startupPingTimeout)
	if err := rdb.Ping(pingCtx).Err(); err != nil {
		log.Warn("redis is not reachable yet; starting anyway, /readyz reports it", "err", err)
	}
	cancel()

	svc := series.New(st, cache.New(rdb, opts.KeyPrefix), log, opts.Now)
	reg := metrics.NewRegistry(ServiceName)
	cons, err := kafkabus.NewConsumer(kafkabus.ConsumerConfig{
		Brokers: cfg.KafkaBrokers, GroupID: consumer.GroupID, Topics: event.TopicNames(),
		Handler: consumer.Handler(svc, log), Logger: log,
		// Processed event ids are remembered per group for 7 days, and the
		// consumer's metrics (outcomes, lag, handler time) join /metrics.
		Dedupe:     dedupe.NewRedis(rdb, dedupe.Options{KeyPrefix: opts.KeyPrefix, Now: opts.Now}),
		Registerer: reg,
		Now:        opts.Now,
	})
	if err != nil {
		return fmt.Errorf("%s: %w", ServiceName, err)
	}
	engine := httpx.NewEngine(httpx.Options{
		Service: ServiceName, Logger: log, Registry: reg, Ready: ready(st, rdb), Now: opts.Now,
		TrustedProxies: cfg.TrustedProxies,
	})
	httpapi.Register(engine, svc)
	httpapi.RegisterOpenAPI(engine)
	// The consumer stops once HTTP has stopped (ctx ended or it failed to
	// start), after the message in hand is committed.
	return httpx.Serve(ctx, opts.Listener, cfg.HTTPAddr, engine, log, httpx.Worker{Name: "consumer", Run: cons.Run})
}

// ready reports the service ready when both the database and Redis answer.
// Both are checked every time, so the error names every failing dependency.
func ready(st *store.Store, rdb *redis.Client) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		var errs []error
		if err := st.Ping(ctx); err != nil {
			errs = append(errs, fmt.Errorf("database: %w", err))
		}
		if err := rdb.Ping(ctx).Err(); err != nil {
			errs = append(errs, fmt.Errorf("redis: %w", err))
		}
		return errors.Join(errs...)
	}
}
