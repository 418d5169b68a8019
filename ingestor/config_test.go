package ingestor_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/ratewire/ratewire/ingestor"
	"github.com/ratewire/ratewire/shared/config"
)

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestLoadConfigDefaults(t *testing.T) {
	c, err := ingestor.LoadConfig(envOf(nil), config.DefaultIngestorAddr)
	if err != nil {
		t.Fatalf("LoadConfig with empty env: %v", err)
	}
	if c.HTTPAddr != ":8004" || c.LogLevel != "info" {
		t.Errorf("shared settings: expected :8004 and info, got %q and %q", c.HTTPAddr, c.LogLevel)
	}
	if !reflect.DeepEqual(c.Providers, []string{"simulated"}) {
		t.Errorf("Providers: expected [simulated], got %v", c.Providers)
	}
	if c.IngestSchedule != "*/5 * * * *" || c.IngestScheduleSet || c.IngestTimezone.String() != "Asia/Seoul" {
		t.Errorf("schedule: expected */5 * * * * (default) in Asia/Seoul, got %q (set %v) in %v", c.IngestSchedule, c.IngestScheduleSet, c.IngestTimezone)
	}
	if c.RetentionDays != 90 {
		t.Errorf("RetentionDays: expected 90, got %d", c.RetentionDays)
	}
}

func TestLoadConfigValues(t *testing.T) {
	c, err := ingestor.LoadConfig(envOf(map[string]string{
		"RATEWIRE_PROVIDERS":         "KoreaExim,frankfurter",
		"RATEWIRE_INGEST_TIMEZONE":   "UTC",
		"RATEWIRE_INGEST_SCHEDULE":   "0 * * * *",
		"RATEWIRE_RETENTION_DAYS":    "30",
		"RATEWIRE_KOREAEXIM_API_KEY": "k",
		"RATEWIRE_KAFKA_BROKERS":     "a:9092,b:9093",
	}), config.DefaultIngestorAddr)
	if err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	if !reflect.DeepEqual(c.Providers, []string{"koreaexim", "frankfurter"}) || c.RetentionDays != 30 ||
		c.IngestTimezone.String() != "UTC" || !c.IngestScheduleSet || c.KoreaEximAPIKey != "k" || len(c.KafkaBrokers) != 2 {
		t.Errorf("unexpected config %+v", c)
	}
}

func TestLoadConfigRejects(t *testing.T) {
	for _, tt := range []struct {
		name, key, value, wantInErr string
	}{
		{"unknown provider", "RATEWIRE_PROVIDERS", "simulated,bogus", `unknown provider "bogus"`},
		{"duplicate provider", "RATEWIRE_PROVIDERS", "simulated,simulated", "listed twice"},
		{"bad cron", "RATEWIRE_INGEST_SCHEDULE", "every now and then", "RATEWIRE_INGEST_SCHEDULE"},
		{"bad zone", "RATEWIRE_INGEST_TIMEZONE", "Mars/Olympus", "RATEWIRE_INGEST_TIMEZONE"},
		{"bad retention", "RATEWIRE_RETENTION_DAYS", "-3", "RATEWIRE_RETENTION_DAYS"},
		{"bad shared setting", "RATEWIRE_LOG_LEVEL", "loud", "RATEWIRE_LOG_LEVEL"},
		{"Frankfurter URL ending in /v1", "RATEWIRE_FRANKFURTER_URL", "https://api.frankfurter.dev/v1", "names an API version (/v1)"},
		{"Frankfurter v2 API", "RATEWIRE_FRANKFURTER_URL", "https://api.frankfurter.dev/v2/", "names an API version (/v2)"},
		{"ExchangeRate-API URL ending in /v1", "RATEWIRE_EXCHANGERATE_API_URL", "https://open.er-api.com/v1", "RATEWIRE_EXCHANGERATE_API_URL"},
		{"ExchangeRate-API v4", "RATEWIRE_EXCHANGERATE_API_URL", "https://api.exchangerate-api.com/v4", "names an API version (/v4)"},
		{"ExchangeRate-API URL with its own /v6", "RATEWIRE_EXCHANGERATE_API_URL", "https://v6.exchangerate-api.com/v6/", "/v6"},
		{"Korea Eximbank's former host", "RATEWIRE_KOREAEXIM_API_URL", "https://www.koreaexim.go.kr", "oapi.koreaexim.go.kr"},
		{"URL without scheme", "RATEWIRE_KOREAEXIM_API_URL", "oapi.koreaexim.go.kr", "RATEWIRE_KOREAEXIM_API_URL"},
		{"cross-check bound not a number", "RATEWIRE_CROSS_CHECK_MAX_DEVIATION", "lots", "RATEWIRE_CROSS_CHECK_MAX_DEVIATION"},
		{"cross-check bound zero", "RATEWIRE_CROSS_CHECK_MAX_DEVIATION", "0", "more than 0"},
		{"cross-check bound over 100 %", "RATEWIRE_CROSS_CHECK_MAX_DEVIATION", "150%", "at most 100"},
		{"URL with a query", "RATEWIRE_FRANKFURTER_URL", "https://api.frankfurter.dev?base=KRW", "no query"},
		{"Hana URL ending in /v1", "RATEWIRE_HANA_URL", "https://quotation-api-cdn.dunamu.com/v1", "names an API version (/v1)"},
		{"Hana URL with its endpoint", "RATEWIRE_HANA_URL", "https://quotation-api-cdn.dunamu.com/v1/forex/recent", "RATEWIRE_HANA_URL"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ingestor.LoadConfig(envOf(map[string]string{tt.key: tt.value}), ":1")
			if err == nil || !strings.Contains(err.Error(), tt.wantInErr) {
				t.Fatalf("LoadConfig(%s=%q): expected an error mentioning %q, got %v", tt.key, tt.value, tt.wantInErr, err)
			}
		})
	}
	_, err := ingestor.LoadConfig(envOf(map[string]string{"RATEWIRE_PROVIDERS": "bogus", "RATEWIRE_LOG_FORMAT": "xml"}), ":1")
	if err == nil || !strings.Contains(err.Error(), "bogus") || !strings.Contains(err.Error(), "RATEWIRE_LOG_FORMAT") {
		t.Errorf("two bad settings: expected both reported, got %v", err)
	}
}

func TestLoadConfigAcceptsBaseURLs(t *testing.T) {
	c, err := ingestor.LoadConfig(envOf(map[string]string{
		"RATEWIRE_FRANKFURTER_URL":      "https://api.frankfurter.dev",
		"RATEWIRE_EXCHANGERATE_API_URL": "http://127.0.0.1:8080/proxy/er/",
		"RATEWIRE_KOREAEXIM_API_URL":    "https://oapi.koreaexim.go.kr",
		"RATEWIRE_HANA_URL":             "http://127.0.0.1:8080/proxy/hana",
	}), ":1")
	if err != nil {
		t.Fatalf("LoadConfig with hosts and a path prefix: %v", err)
	}
	if c.ExchangeRateAPIURL != "http://127.0.0.1:8080/proxy/er/" {
		t.Errorf("ExchangeRateAPIURL = %q", c.ExchangeRateAPIURL)
	}
}

func TestLoadConfigCrossCheckBound(t *testing.T) {
	for _, tt := range []struct {
		value string
		want  float64
	}{{"", 0.03}, {"3%", 0.03}, {"2.5 %", 0.025}, {"0.05", 0.05}, {"off", -1}, {"OFF", -1}} {
		c, err := ingestor.LoadConfig(envOf(map[string]string{"RATEWIRE_CROSS_CHECK_MAX_DEVIATION": tt.value}), ":1")
		if err != nil {
			t.Fatalf("%q: %v", tt.value, err)
		}
		if diff := c.CrossCheckMaxDeviation - tt.want; diff > 1e-12 || diff < -1e-12 {
			t.Errorf("RATEWIRE_CROSS_CHECK_MAX_DEVIATION=%q gives %v, want %v", tt.value, c.CrossCheckMaxDeviation, tt.want)
		}
	}
}
