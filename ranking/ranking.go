// Package ranking is the popularity service of ratewire: it counts which
// destination countries people look up, per KST day, and ranks them. Clicks
// are stored in SQL (the source of truth) and ranked through Redis; unlike
// the other services it does not use Kafka. Run wires it together;
// cmd/ranking and devstack call it.
package ranking

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ratewire/ratewire/ranking/internal/board"
	"github.com/ratewire/ratewire/ranking/internal/httpapi"
	"github.com/ratewire/ratewire/ranking/internal/rank"
	"github.com/ratewire/ratewire/ranking/internal/store"
	"github.com/ratewire/ratewire/shared/cachex"
	"github.com/ratewire/ratewire/shared/config"
	"github.com/ratewire/ratewire/shared/country"
	"github.com/ratewire/ratewire/shared/httpx"
	"github.com/ratewire/ratewire/shared/logx"
	"github.com/ratewire/ratewire/shared/metrics"
	"github.com/ratewire/ratewire/shared/sqldb"
)

// ServiceName labels the ranking service's logs and metrics.
const ServiceName = "ranking"

// startupTimeout bounds the Redis check and the leaderboard warm-up at
// start, which only log.
const startupTimeout = 5 * time.Second

// Options carries what the process, not the environment, decides.
type Options struct {
	// Logger is the service's logger; nil discards.
	Logger *slog.Logger
	// Listener, when set, is served instead of listening on cfg.HTTPAddr.
	Listener net.Listener
	// Now is the clock that decides the KST day of a click, and stamps
	// resets and responses; nil means time.Now.
	Now func() time.Time
	// KeyPrefix goes before every Redis key: empty in production, a
	// namespace of its own for each test sharing a Redis server.
	KeyPrefix string
	// RateLimit clicks per RateWindow are allowed per client (defaults 60
	// per minute); DedupeWindow is how long a repeated click by one client
	// on one country is not counted again (default 10 s).
	RateLimit    int
	RateWindow   time.Duration
	DedupeWindow time.Duration
	// AddressRateLimit clicks per RateWindow are allowed per client
	// address, every X-Client-Id together (default 5 x RateLimit, 300 per
	// minute): an address may be shared by a few people.
	AddressRateLimit int
	// AddressClientIDs is how many distinct X-Client-Id values one
	// address may use per RateWindow (default 8). A click with a further
	// id counts as a click without one: the address's own client, with its
	// rate limit and duplicate window.
	AddressClientIDs int
}

// Run starts the ranking service and blocks until ctx ends, then shuts
// down the HTTP server, writes the clicks already accepted, and closes
// Redis and the database, in that order. It needs RATEWIRE_DATABASE_URL
// and RATEWIRE_REDIS_URL. Redis being down at start is not an error:
// /readyz reports it, rankings are read from SQL and limits fail open
// until it comes back.
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

	// The ranking's scripts are not idempotent (a click added twice, a
	// rate-limit slot taken twice), so a reply lost to a timeout is a
	// failure, not a retry: the service rebuilds from SQL the boards it
	// may or may not have reached.
	rdb, err := cachex.Open(cfg.RedisURL, cachex.NoRetries)
	if err != nil {
		return fmt.Errorf("%s: %w", ServiceName, err)
	}
	defer rdb.Close()

	reg := metrics.NewRegistry(ServiceName)
	svc := rank.New(rank.Config{
		Store:  st,
		Boards: board.New(rdb, opts.KeyPrefix),
		Limiter: board.NewLimiter(rdb, opts.KeyPrefix, board.LimiterConfig{
			Limit: opts.RateLimit, Window: opts.RateWindow, Dedupe: opts.DedupeWindow,
			AddressLimit: opts.AddressRateLimit, AddressIDs: opts.AddressClientIDs,
		}),
		Countries: country.New(),
		Now:       opts.Now,
		Logger:    log,
		Registry:  reg,
	})
	// Runs last of the defers before the database closes: every click the
	// HTTP server accepted is written before Run returns.
	defer svc.Close()

	startCtx, cancel := context.WithTimeout(ctx, startupTimeout)
	if err := rdb.Ping(startCtx).Err(); err != nil {
		log.Warn("redis is not reachable yet; starting anyway, /readyz reports it", "err", err)
	} else {
		svc.Warm(startCtx)
	}
	cancel()

	engine := httpx.NewEngine(httpx.Options{
		Service: ServiceName, Logger: log, Registry: reg, Ready: ready(st, rdb), Now: opts.Now,
		TrustedProxies: cfg.TrustedProxies,
	})
	httpapi.Register(engine, svc, cfg.AdminToken)
	httpapi.RegisterOpenAPI(engine)
	return httpx.Serve(ctx, opts.Listener, cfg.HTTPAddr, engine, log)
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
