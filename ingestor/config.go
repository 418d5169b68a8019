package ingestor

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/ratewire/ratewire/ingestor/internal/provider"
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
	// CrossCheckMaxDeviation is RATEWIRE_CROSS_CHECK_MAX_DEVIATION as a
	// fraction (0.03 for "3%" or "0.03"); negative when "off".
	CrossCheckMaxDeviation float64
}

// Defaults applied by LoadConfig when a variable is unset.
const (
	DefaultIngestSchedule = "*/5 * * * *"
	DefaultIngestTimezone = "Asia/Seoul"
	DefaultRetentionDays  = 90
	// DefaultCrossCheckMaxDeviation is the largest difference, as a
	// fraction, between two providers' quotes of a currency before the
	// run's quote is withheld (DESIGN.md §5).
	DefaultCrossCheckMaxDeviation = 0.03
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

		CrossCheckMaxDeviation: DefaultCrossCheckMaxDeviation,
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
	for _, u := range []struct{ env, name, value string }{
		{"RATEWIRE_EXCHANGERATE_API_URL", ProviderExchangeRateAPI, c.ExchangeRateAPIURL},
		{"RATEWIRE_KOREAEXIM_API_URL", ProviderKoreaExim, c.KoreaEximAPIURL},
		{"RATEWIRE_FRANKFURTER_URL", ProviderFrankfurter, c.FrankfurterURL},
		{"RATEWIRE_HANA_URL", ProviderHana, c.HanaURL},
	} {
		if err := provider.CheckBaseURL(u.name, u.value); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", u.env, err))
		}
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
	if v := get("RATEWIRE_CROSS_CHECK_MAX_DEVIATION"); v != "" {
		d, err := parseDeviation(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("RATEWIRE_CROSS_CHECK_MAX_DEVIATION %q: %w", v, err))
		} else {
			c.CrossCheckMaxDeviation = d
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

// parseDeviation reads a cross-check bound: a percentage ("3%", "2.5 %"),
// a fraction ("0.03"), or "off" (returned as -1). It must lie in (0, 1].
func parseDeviation(v string) (float64, error) {
	if strings.EqualFold(v, "off") {
		return -1, nil
	}
	num, pct := strings.CutSuffix(v, "%")
	f, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err != nil {
		return 0, errors.New(`want a percentage such as "3%", a fraction such as 0.03, or off`)
	}
	if pct {
		f /= 100
	}
	if !(f > 0 && f <= 1) {
		return 0, errors.New("want more than 0 % and at most 100 %")
	}
	return f, nil
}
