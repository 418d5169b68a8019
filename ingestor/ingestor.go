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
	"github.com/jonboulle/clockwork"

	"github.com/ratewire/ratewire/ingestor/internal/httpapi"
	"github.com/ratewire/ratewire/ingestor/internal/ingest"
	"github.com/ratewire/ratewire/ingestor/internal/provider"
	"github.com/ratewire/ratewire/ingestor/internal/schedule"
	"github.com/ratewire/ratewire/ingestor/internal/store"
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
	// Clock drives everything time-sensitive: provider days and
	// publication windows, validation, run records, the cron schedule and
	// retention. nil means the real clock; tests pass a fake one.
	Clock clockwork.Clock
}

// Run starts the ingestor and blocks until ctx ends. It then stops the
// schedule (waiting for a running collection), the HTTP server and the
// outbox relay (which makes one last attempt to publish), in that order.
func Run(ctx context.Context, cfg Config, opts Options) error {
	log := opts.Logger
	if log == nil {
		log = logx.Discard()
	}
	if err := errors.Join(cfg.RequireDatabase(), cfg.RequireKafka()); err != nil {
		return err
	}
	clock := opts.Clock
	if clock == nil {
		clock = clockwork.NewRealClock()
	}
	providers, err := buildProviders(cfg, clock.Now)
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
	relay, err := ingest.NewRelay(st, writer, log, reg, clock.Now)
	if err != nil {
		return err
	}
	svc, err := ingest.New(ingest.Config{
		Providers: providers, Store: st, Logger: log, Registry: reg, Now: clock.Now,
		Published: relay.Wake, CrossCheckMaxDeviation: cfg.CrossCheckMaxDeviation,
	})
	if err != nil {
		return err
	}

	// The relay outlives the HTTP server and the schedule, so the events of
	// a run that finishes during shutdown still get their chance.
	relayCtx, stopRelay := context.WithCancel(context.WithoutCancel(ctx))
	relayDone := make(chan struct{})
	go func() {
		defer close(relayDone)
		_ = relay.Run(relayCtx)
	}()
	defer func() { stopRelay(); <-relayDone }()

	spec := Schedule(cfg)
	sched := schedule.New(clock, cfg.IngestTimezone, log)
	ingestID, err := sched.Add("ingest", spec, func(ctx context.Context) { _, _ = svc.Run(ctx, "schedule") })
	if err != nil {
		return fmt.Errorf("ingestor: %w", err)
	}
	if _, err := sched.Add("retention", RetentionSchedule, func(ctx context.Context) {
		retention(ctx, st, cfg.RetentionDays, log, clock.Now)
	}); err != nil {
		return fmt.Errorf("ingestor: %w", err)
	}
	schedCtx, stopSched := context.WithCancel(ctx)
	schedDone := make(chan struct{})
	go func() { defer close(schedDone); sched.Run(schedCtx) }()
	defer func() { stopSched(); <-schedDone }()
	log.Info("ingestion scheduled", "schedule", spec, "timezone", cfg.IngestTimezone.String(),
		"providers", cfg.Providers, "retention_days", cfg.RetentionDays)

	startup := make(chan struct{})
	go func() {
		defer close(startup)
		_, _ = svc.Run(ctx, "startup")
	}()
	defer func() { <-startup }()

	engine := httpx.NewEngine(httpx.Options{Service: ServiceName, Logger: log, Registry: reg, Ready: st.Ping, Now: clock.Now,
		TrustedProxies: cfg.TrustedProxies})
	httpapi.RegisterOpenAPI(engine)
	httpapi.Register(engine, svc, httpapi.Schedule{
		Spec: spec, Timezone: cfg.IngestTimezone.String(),
		Next: func() time.Time { return sched.Next(ingestID) },
	}, st.OutboxBacklog, cfg.AdminToken)
	return httpx.Serve(ctx, opts.Listener, cfg.HTTPAddr, engine, log)
}

// KoreaEximSchedule is the default schedule when Korea Eximbank is the
// first provider: it publishes once per business day around 11:00 KST
// (sometimes revising later), so polling hourly from 11:05 to 18:05 on
// weekdays catches the publication without spending its daily quota;
// unchanged rates publish no update events.
const KoreaEximSchedule = "5 11-18 * * 1-5"

// HanaSchedule is the default schedule when Hana Bank is the first
// provider: the bank posts a new notice many times a business day, so a
// run every five minutes from 09:00 to 19:55 KST on weekdays follows the
// intraday moves; at night and at weekends nothing new is posted, so
// nothing is asked. A repeated notice publishes no update events.
const HanaSchedule = "*/5 9-19 * * 1-5"

// RetentionSchedule runs the retention job once a day, at 03:30 in the
// ingest time zone, when nothing is published.
const RetentionSchedule = "30 3 * * *"

// Schedule is the collection schedule: RATEWIRE_INGEST_SCHEDULE when set,
// otherwise a default that suits the first provider.
func Schedule(cfg Config) string {
	if !cfg.IngestScheduleSet && len(cfg.Providers) > 0 {
		switch cfg.Providers[0] {
		case ProviderKoreaExim:
			return KoreaEximSchedule
		case ProviderHana:
			return HanaSchedule
		}
	}
	return cfg.IngestSchedule
}

// retention deletes raw observations older than the retention period and
// outbox rows published more than a week ago; daily aggregates stay.
func retention(ctx context.Context, st *store.Store, days int, log *slog.Logger, now func() time.Time) {
	cut := now().AddDate(0, 0, -days)
	obs, err := st.PurgeObservations(ctx, cut, 5000)
	if err != nil {
		log.Error("retention failed", "err", err, "deleted", obs)
		return
	}
	sent, err := st.PurgeSentOutbox(ctx, now().AddDate(0, 0, -7), 5000)
	if err != nil {
		log.Error("outbox retention failed", "err", err, "deleted", sent)
		return
	}
	log.Info("retention done", "observations_deleted", obs, "outbox_deleted", sent, "before", cut.Format(time.RFC3339))
}

func buildProviders(cfg Config, now func() time.Time) ([]provider.Provider, error) {
	settings := providerSettings(cfg, now)
	out := make([]provider.Provider, 0, len(cfg.Providers))
	for _, name := range cfg.Providers {
		p, err := provider.New(name, settings)
		if err != nil {
			return nil, fmt.Errorf("ingestor: %w", err)
		}
		out = append(out, p)
	}
	return out, nil
}

// providerSettings is what the providers read of cfg, on clock now.
func providerSettings(cfg Config, now func() time.Time) provider.Settings {
	return provider.Settings{
		ExchangeRateAPIKey: cfg.ExchangeRateAPIKey, ExchangeRateAPIURL: cfg.ExchangeRateAPIURL,
		KoreaEximAPIKey: cfg.KoreaEximAPIKey, KoreaEximAPIURL: cfg.KoreaEximAPIURL,
		FrankfurterURL: cfg.FrankfurterURL, HanaURL: cfg.HanaURL, Now: now,
	}
}

// Migrate applies the ingestor's schema to db. The currency and history
// services read these tables; their tests use Migrate to build them
// exactly as the ingestor does.
func Migrate(ctx context.Context, db *sqlx.DB) error { return store.New(db).Migrate(ctx) }
