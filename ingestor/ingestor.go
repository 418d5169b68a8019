// Package ingestor is the collection service of ratewire: on start and on a
// cron schedule it fetches KRW exchange rates from the configured providers,
// stores them, and publishes the run's events to Kafka. Run wires it
// together; cmd/ingestor and devstack call it.
package ingestor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/robfig/cron/v3"

	"github.com/ratewire/ratewire/ingestor/internal/httpapi"
	"github.com/ratewire/ratewire/ingestor/internal/ingest"
	"github.com/ratewire/ratewire/ingestor/internal/provider"
	"github.com/ratewire/ratewire/ingestor/internal/publish"
	"github.com/ratewire/ratewire/ingestor/internal/store"
	"github.com/ratewire/ratewire/shared/config"
	"github.com/ratewire/ratewire/shared/httpx"
	"github.com/ratewire/ratewire/shared/kafkabus"
	"github.com/ratewire/ratewire/shared/logx"
	"github.com/ratewire/ratewire/shared/metrics"
	"github.com/ratewire/ratewire/shared/sqldb"
)

// ServiceName labels the ingestor's logs, metrics and events.
const ServiceName = "ingestor"

// Options carries what the process, not the environment, decides.
type Options struct {
	// Logger is the service's logger; nil discards.
	Logger *slog.Logger
	// Listener, when set, is served instead of listening on cfg.HTTPAddr.
	Listener net.Listener
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Run starts the ingestor and blocks until ctx ends, then stops the
// schedule (waiting for a running collection), the HTTP server and the
// Kafka writer, in that order.
func Run(ctx context.Context, cfg config.Config, opts Options) error {
	log := opts.Logger
	if log == nil {
		log = logx.Discard()
	}
	if err := errors.Join(cfg.RequireDatabase(), cfg.RequireKafka()); err != nil {
		return err
	}
	providers, err := buildProviders(cfg, opts)
	if err != nil {
		return err
	}
	db, err := sqldb.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	st := store.New(db)
	if err := st.Migrate(ctx); err != nil {
		return err
	}

	writer := kafkabus.NewWriter(kafkabus.WriterConfig{Brokers: cfg.KafkaBrokers, ClientID: ServiceName, Logger: log})
	defer writer.Close()

	reg := metrics.NewRegistry(ServiceName)
	svc, err := ingest.New(ingest.Config{
		Providers: providers, Store: st, Publisher: publish.Kafka{W: writer},
		Logger: log, Registry: reg, Now: opts.Now,
	})
	if err != nil {
		return err
	}

	sched := cron.New(
		cron.WithLocation(cfg.IngestTimezone),
		cron.WithLogger(cronLogger{log}),
		cron.WithChain(cron.Recover(cronLogger{log}), cron.SkipIfStillRunning(cronLogger{log})),
	)
	if _, err := sched.AddFunc(cfg.IngestSchedule, func() { _, _ = svc.Run(ctx, "schedule") }); err != nil {
		return fmt.Errorf("ingestor: schedule %q: %w", cfg.IngestSchedule, err)
	}
	sched.Start()
	defer func() { <-sched.Stop().Done() }()
	log.Info("ingestion scheduled", "schedule", cfg.IngestSchedule, "timezone", cfg.IngestTimezone.String(),
		"providers", cfg.Providers)

	startup := make(chan struct{})
	go func() {
		defer close(startup)
		_, _ = svc.Run(ctx, "startup")
	}()
	defer func() { <-startup }()

	engine := httpx.NewEngine(httpx.Options{Service: ServiceName, Logger: log, Registry: reg, Ready: st.Ping})
	httpapi.Register(engine, svc, cfg.AdminToken)
	if opts.Listener != nil {
		return httpx.ServeListener(ctx, opts.Listener, engine, log)
	}
	return httpx.Serve(ctx, cfg.HTTPAddr, engine, log)
}

func buildProviders(cfg config.Config, opts Options) ([]provider.Provider, error) {
	var out []provider.Provider
	for _, name := range cfg.Providers {
		switch name {
		case config.ProviderSimulated:
			out = append(out, &provider.Simulated{Now: opts.Now})
		default:
			return nil, fmt.Errorf("ingestor: provider %q is not available yet; use %q", name, config.ProviderSimulated)
		}
	}
	return out, nil
}

// cronLogger sends robfig/cron's logging to slog.
type cronLogger struct{ log *slog.Logger }

func (l cronLogger) Info(msg string, kv ...any) { l.log.Debug("cron: "+msg, kv...) }
func (l cronLogger) Error(err error, msg string, kv ...any) {
	l.log.Error("cron: "+msg, append([]any{"err", err}, kv...)...)
}

// Migrate applies the ingestor's schema to db. The currency and history
// services read these tables; their tests use Migrate to build them
// exactly as the ingestor does.
func Migrate(ctx context.Context, db *sqlx.DB) error { return store.New(db).Migrate(ctx) }
