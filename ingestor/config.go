package ingestor

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/ratewire/ratewire/shared/config"
)

// Provider names accepted in RATEWIRE_PROVIDERS.
const (
	ProviderExchangeRateAPI = "exchangerate-api"
	ProviderKoreaExim       = "koreaexim"
	ProviderHana            = "hana"
	ProviderFrankfurter     = "frankfurter"
	ProviderSimulated       = "simulated"
)

// Config is the ingestor's configuration: the settings every service
// shares, plus the providers, their keys and URLs, the schedule and the
// retention that only the ingestor reads (DESIGN.md §3).
type Config struct {
	config.Config

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
	HanaURL            string

	RetentionDays int
}

// Defaults applied by LoadConfig when a variable is unset.
const (
	DefaultIngestSchedule = "*/5 * * * *"
	DefaultIngestTimezone = "Asia/Seoul"
	DefaultRetentionDays  = 90
)

// DefaultProviders is used when RATEWIRE_PROVIDERS is unset: the offline
// simulator, so a fresh checkout works with no network and no keys.
var DefaultProviders = []string{ProviderSimulated}

// LoadConfig reads the ingestor's configuration through getenv: the
// shared settings (config.Load with defaultAddr) and the ingestor's own.
// Every problem of both is reported at once, naming the variable; secrets
// are never echoed back.
func LoadConfig(getenv func(string) string, defaultAddr string) (Config, error) {
	base, baseErr := config.Load(getenv, defaultAddr)
	get := func(k string) string { return strings.TrimSpace(getenv(k)) }
	c := Config{
		Config:             base,
		Providers:          config.SplitList(strings.ToLower(get("RATEWIRE_PROVIDERS"))),
		IngestSchedule:     config.OrDefault(get("RATEWIRE_INGEST_SCHEDULE"), DefaultIngestSchedule),
		IngestScheduleSet:  get("RATEWIRE_INGEST_SCHEDULE") != "",
		ExchangeRateAPIKey: get("RATEWIRE_EXCHANGERATE_API_KEY"),
		ExchangeRateAPIURL: get("RATEWIRE_EXCHANGERATE_API_URL"),
		KoreaEximAPIKey:    get("RATEWIRE_KOREAEXIM_API_KEY"),
		KoreaEximAPIURL:    get("RATEWIRE_KOREAEXIM_API_URL"),
		FrankfurterURL:     get("RATEWIRE_FRANKFURTER_URL"),
		HanaURL:            get("RATEWIRE_HANA_URL"),
		RetentionDays:      DefaultRetentionDays,
	}
	var errs []error
	if len(c.Providers) == 0 {
		c.Providers = append([]string(nil), DefaultProviders...)
	}
	seen := map[string]bool{}
	for _, p := range c.Providers {
		switch p {
		case ProviderExchangeRateAPI, ProviderKoreaExim, ProviderHana, ProviderFrankfurter, ProviderSimulated:
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
	tz := config.OrDefault(get("RATEWIRE_INGEST_TIMEZONE"), DefaultIngestTimezone)
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
	if err := errors.Join(errs...); err != nil {
		if baseErr != nil {
			return Config{}, errors.Join(baseErr, fmt.Errorf("config: %w", err))
		}
		return Config{}, fmt.Errorf("config: %w", err)
	}
	if baseErr != nil {
		return Config{}, baseErr
	}
	return c, nil
}
