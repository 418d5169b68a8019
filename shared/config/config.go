// Package config reads the RATEWIRE_* settings of DESIGN §3 from an injected
// getenv function, so that every service (and devstack, which runs all four
// in one process) can be configured without touching the process
// environment. Each service reads only the fields it needs; Load validates
// what it parses and reports every problem at once.
package config

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// Default listen addresses per service (DESIGN §2).
const (
	DefaultCurrencyAddr = ":8001"
	DefaultRankingAddr  = ":8002"
	DefaultHistoryAddr  = ":8003"
	DefaultIngestorAddr = ":8004"
)

// Provider names accepted in RATEWIRE_PROVIDERS.
const (
	ProviderExchangeRateAPI = "exchangerate-api"
	ProviderKoreaExim       = "koreaexim"
	ProviderFrankfurter     = "frankfurter"
	ProviderSimulated       = "simulated"
)

// Config is every RATEWIRE_* setting. Zero values mean "not set" where the
// table of DESIGN §3 has no default.
type Config struct {
	HTTPAddr     string
	DatabaseURL  string
	RedisURL     string
	KafkaBrokers []string
	AdminToken   string
	LogLevel     string
	LogFormat    string

	Providers      []string
	IngestSchedule string
	// IngestScheduleSet tells an explicit RATEWIRE_INGEST_SCHEDULE from
	// the default, so the ingestor can pick a provider-aware one.
	IngestScheduleSet bool
	IngestTimezone    *time.Location

	ExchangeRateAPIKey string
	ExchangeRateAPIURL string
	KoreaEximAPIKey    string
	KoreaEximAPIURL    string
	FrankfurterURL     string

	RetentionDays int
}

// Defaults applied by Load when a variable is unset.
const (
	DefaultLogLevel       = "info"
	DefaultLogFormat      = "text"
	DefaultIngestSchedule = "*/5 * * * *"
	DefaultIngestTimezone = "Asia/Seoul"
	DefaultRetentionDays  = 90
)

// DefaultProviders is used when RATEWIRE_PROVIDERS is unset: the offline
// simulator, so a fresh checkout works with no network and no keys.
var DefaultProviders = []string{ProviderSimulated}

// Load reads the configuration through getenv. defaultAddr is the service's
// own listen address (DefaultCurrencyAddr, ...). A malformed value is an
// error naming the variable; secrets are never echoed back.
func Load(getenv func(string) string, defaultAddr string) (Config, error) {
	get := func(k string) string { return strings.TrimSpace(getenv(k)) }
	var errs []error
	c := Config{
		HTTPAddr:           orDefault(get("RATEWIRE_HTTP_ADDR"), defaultAddr),
		DatabaseURL:        get("RATEWIRE_DATABASE_URL"),
		RedisURL:           get("RATEWIRE_REDIS_URL"),
		KafkaBrokers:       splitList(get("RATEWIRE_KAFKA_BROKERS")),
		AdminToken:         get("RATEWIRE_ADMIN_TOKEN"),
		LogLevel:           strings.ToLower(orDefault(get("RATEWIRE_LOG_LEVEL"), DefaultLogLevel)),
		LogFormat:          strings.ToLower(orDefault(get("RATEWIRE_LOG_FORMAT"), DefaultLogFormat)),
		Providers:          splitList(strings.ToLower(get("RATEWIRE_PROVIDERS"))),
		IngestSchedule:     orDefault(get("RATEWIRE_INGEST_SCHEDULE"), DefaultIngestSchedule),
		IngestScheduleSet:  get("RATEWIRE_INGEST_SCHEDULE") != "",
		ExchangeRateAPIKey: get("RATEWIRE_EXCHANGERATE_API_KEY"),
		ExchangeRateAPIURL: get("RATEWIRE_EXCHANGERATE_API_URL"),
		KoreaEximAPIKey:    get("RATEWIRE_KOREAEXIM_API_KEY"),
		KoreaEximAPIURL:    get("RATEWIRE_KOREAEXIM_API_URL"),
		FrankfurterURL:     get("RATEWIRE_FRANKFURTER_URL"),
		RetentionDays:      DefaultRetentionDays,
	}
	if c.HTTPAddr != "" {
		if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
			errs = append(errs, fmt.Errorf("RATEWIRE_HTTP_ADDR %q: want host:port", c.HTTPAddr))
		}
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("RATEWIRE_LOG_LEVEL %q: want debug, info, warn or error", c.LogLevel))
	}
	switch c.LogFormat {
	case "json", "text":
	default:
		errs = append(errs, fmt.Errorf("RATEWIRE_LOG_FORMAT %q: want json or text", c.LogFormat))
	}
	if len(c.Providers) == 0 {
		c.Providers = append([]string(nil), DefaultProviders...)
	}
	seen := map[string]bool{}
	for _, p := range c.Providers {
		switch p {
		case ProviderExchangeRateAPI, ProviderKoreaExim, ProviderFrankfurter, ProviderSimulated:
		default:
			errs = append(errs, fmt.Errorf("RATEWIRE_PROVIDERS: unknown provider %q", p))
		}
		if seen[p] {
			errs = append(errs, fmt.Errorf("RATEWIRE_PROVIDERS: %q listed twice", p))
		}
		seen[p] = true
	}
	if _, err := cron.ParseStandard(c.IngestSchedule); err != nil {
		errs = append(errs, fmt.Errorf("RATEWIRE_INGEST_SCHEDULE %q: %w", c.IngestSchedule, err))
	}
	tz := orDefault(get("RATEWIRE_INGEST_TIMEZONE"), DefaultIngestTimezone)
	loc, err := time.LoadLocation(tz)
	if err != nil {
		errs = append(errs, fmt.Errorf("RATEWIRE_INGEST_TIMEZONE %q: %w", tz, err))
	}
	c.IngestTimezone = loc
	if v := get("RATEWIRE_RETENTION_DAYS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			errs = append(errs, fmt.Errorf("RATEWIRE_RETENTION_DAYS %q: want a whole number of days >= 1", v))
		} else {
			c.RetentionDays = n
		}
	}
	for _, b := range c.KafkaBrokers {
		if _, _, err := net.SplitHostPort(b); err != nil {
			errs = append(errs, fmt.Errorf("RATEWIRE_KAFKA_BROKERS: %q: want host:port", b))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	return c, nil
}

// RequireDatabase, RequireRedis and RequireKafka report a missing setting
// that a service cannot run without.
func (c Config) RequireDatabase() error { return require("RATEWIRE_DATABASE_URL", c.DatabaseURL != "") }

// RequireRedis reports a missing RATEWIRE_REDIS_URL.
func (c Config) RequireRedis() error { return require("RATEWIRE_REDIS_URL", c.RedisURL != "") }

// RequireKafka reports a missing RATEWIRE_KAFKA_BROKERS.
func (c Config) RequireKafka() error {
	return require("RATEWIRE_KAFKA_BROKERS", len(c.KafkaBrokers) > 0)
}

func require(name string, ok bool) error {
	if ok {
		return nil
	}
	return fmt.Errorf("config: %s is required", name)
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
