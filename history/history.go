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

	"github.com/ratewire/ratewire/history/internal/store"
	"github.com/ratewire/ratewire/shared/cachex"
	"github.com/ratewire/ratewire/shared/config"
	"github.com/ratewire/ratewire/shared/httpx"
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
	// Now is the clock that will decide where a period ends; nil means
	// time.Now. Nothing reads it yet: the history endpoints come later.
	Now func() time.Time
}

// Run starts the history service and blocks until ctx ends, then shuts
// down the HTTP server and closes Redis and the database, in that order.
// It needs RATEWIRE_DATABASE_URL and RATEWIRE_REDIS_URL. Redis being down
// at start is not an error: /readyz reports it until it comes back.
func Run(ctx context.Context, cfg config.Config, opts Options) error {
	log := opts.Logger
	if log == nil {
		log = logx.Discard()
	}
	if err := errors.Join(cfg.RequireDatabase(), cfg.RequireRedis()); err != nil {
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

	reg := metrics.NewRegistry(ServiceName)
	engine := httpx.NewEngine(httpx.Options{
		Service: ServiceName, Logger: log, Registry: reg, Ready: ready(st, rdb),
	})
	if opts.Listener != nil {
		return httpx.ServeListener(ctx, opts.Listener, engine, log)
	}
	return httpx.Serve(ctx, cfg.HTTPAddr, engine, log)
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
