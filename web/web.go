// Package web is ratewire's web app for travellers: the rates board with
// live updates, a converter, country search, currency pages with charts and
// forecasts, popular destinations and an operators' status page. It is a
// client of the four services' public APIs only (no database, no Kafka).
// Run wires it together; cmd/web and devstack call it.
package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/ratewire/ratewire/shared/config"
	"github.com/ratewire/ratewire/shared/httpx"
	"github.com/ratewire/ratewire/shared/logx"
	"github.com/ratewire/ratewire/shared/metrics"
	"github.com/ratewire/ratewire/web/internal/api"
	"github.com/ratewire/ratewire/web/internal/site"
)

// ServiceName labels the web app's logs and metrics.
const ServiceName = "web"

// DefaultAddr is the web app's listen address (DESIGN.md §2).
const DefaultAddr = ":8005"

// DefaultAPIURL is where the APIs are when RATEWIRE_API_URL is unset: the
// gateway on the same host.
const DefaultAPIURL = "http://127.0.0.1:8000"

// Config is the web app's configuration: the shared settings (listen
// address, logging, trusted proxies) plus where the APIs are.
type Config struct {
	config.Config
	// APIURL is the base URL of every API unless a service has its own.
	APIURL string
	// CurrencyURL, HistoryURL, RankingURL and IngestorURL override APIURL
	// for one service. The status page reads each service's /metrics,
	// which only the service itself serves (the gateway routes /api/v1).
	CurrencyURL, HistoryURL, RankingURL, IngestorURL string
	// KafkaUIURL is linked from the status page when set.
	KafkaUIURL string
	// APITimeout bounds each server-side call.
	APITimeout time.Duration
}

// Endpoints returns the base URL of each service.
func (c Config) Endpoints() api.Endpoints {
	or := func(s string) string {
		if s != "" {
			return s
		}
		return c.APIURL
	}
	return api.Endpoints{Currency: or(c.CurrencyURL), History: or(c.HistoryURL), Ranking: or(c.RankingURL), Ingestor: or(c.IngestorURL)}
}

// LoadConfig reads the web app's configuration through getenv, reporting
// every problem at once and naming the variable.
func LoadConfig(getenv func(string) string) (Config, error) {
	base, baseErr := config.Load(getenv, DefaultAddr)
	get := func(k string) string { return strings.TrimSpace(getenv(k)) }
	c := Config{
		Config:      base,
		APIURL:      config.OrDefault(get("RATEWIRE_API_URL"), DefaultAPIURL),
		CurrencyURL: get("RATEWIRE_CURRENCY_URL"),
		HistoryURL:  get("RATEWIRE_HISTORY_URL"),
		RankingURL:  get("RATEWIRE_RANKING_URL"),
		IngestorURL: get("RATEWIRE_INGESTOR_URL"),
		KafkaUIURL:  get("RATEWIRE_KAFKA_UI_URL"),
		APITimeout:  api.DefaultTimeout,
	}
	errs := []error{baseErr}
	for _, v := range []struct{ name, val string }{
		{"RATEWIRE_API_URL", c.APIURL}, {"RATEWIRE_CURRENCY_URL", c.CurrencyURL}, {"RATEWIRE_HISTORY_URL", c.HistoryURL},
		{"RATEWIRE_RANKING_URL", c.RankingURL}, {"RATEWIRE_INGESTOR_URL", c.IngestorURL}, {"RATEWIRE_KAFKA_UI_URL", c.KafkaUIURL},
	} {
		if v.val == "" {
			continue
		}
		if u, err := url.Parse(v.val); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("%s %q: want http(s)://host:port", v.name, v.val))
		}
	}
	if s := get("RATEWIRE_API_TIMEOUT"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 || d > time.Minute {
			errs = append(errs, fmt.Errorf("RATEWIRE_API_TIMEOUT %q: want a duration such as 3s, at most 1m", s))
		} else {
			c.APITimeout = d
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	return c, nil
}

// Options carries what the process, not the environment, decides.
type Options struct {
	// Logger is the app's logger; nil discards.
	Logger *slog.Logger
	// Listener, when set, is served instead of listening on cfg.HTTPAddr.
	Listener net.Listener
	// Now is the clock of the pages (cookies, caches); nil means time.Now.
	Now func() time.Time
	// PopularRefresh is how often the popular page reloads its list in the
	// browser; 0 means 30 s.
	PopularRefresh time.Duration
}

// Run serves the web app until ctx ends, then shuts the HTTP server down.
// The services need not be up: pages say so in words until they are.
func Run(ctx context.Context, cfg Config, opts Options) error {
	log := opts.Logger
	if log == nil {
		log = logx.Discard()
	}
	client := api.New(cfg.Endpoints(), cfg.APITimeout, nil)
	s, err := site.New(site.Config{API: client, KafkaUIURL: cfg.KafkaUIURL, Now: opts.Now, Logger: log, PopularRefresh: opts.PopularRefresh})
	if err != nil {
		return fmt.Errorf("%s: %w", ServiceName, err)
	}
	reg := metrics.NewRegistry(ServiceName)
	engine := httpx.NewEngine(httpx.Options{
		Service: ServiceName, Logger: log, Registry: reg, Now: opts.Now, TrustedProxies: cfg.TrustedProxies,
	})
	s.Register(engine)
	return httpx.Serve(ctx, opts.Listener, cfg.HTTPAddr, engine, log)
}
