package config_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/ratewire/ratewire/shared/config"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestLoadDefaults(t *testing.T) {
	c, err := config.Load(env(nil), config.DefaultCurrencyAddr)
	if err != nil {
		t.Fatalf("Load with empty env: %v", err)
	}
	if c.HTTPAddr != ":8001" {
		t.Errorf("HTTPAddr = %q, want :8001", c.HTTPAddr)
	}
	if c.LogLevel != "info" || c.LogFormat != "text" {
		t.Errorf("got level %q format %q", c.LogLevel, c.LogFormat)
	}
	if err := c.RequireDatabase(); err == nil || !strings.Contains(err.Error(), "RATEWIRE_DATABASE_URL") {
		t.Errorf("RequireDatabase on empty config = %v, want an error naming the variable", err)
	}
}

func TestLoadValues(t *testing.T) {
	c, err := config.Load(env(map[string]string{
		"RATEWIRE_HTTP_ADDR":     "127.0.0.1:9000",
		"RATEWIRE_KAFKA_BROKERS": " a:9092, b:9093 ,,c:9094",
		"RATEWIRE_LOG_LEVEL":     "DEBUG",
		"RATEWIRE_LOG_FORMAT":    "json",
		"RATEWIRE_ADMIN_TOKEN":   "s3cret",
	}), config.DefaultIngestorAddr)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := []string{"a:9092", "b:9093", "c:9094"}
	if !reflect.DeepEqual(c.KafkaBrokers, want) {
		t.Errorf("KafkaBrokers = %v, want %v", c.KafkaBrokers, want)
	}
	if c.HTTPAddr != "127.0.0.1:9000" || c.LogLevel != "debug" || c.LogFormat != "json" || c.AdminToken != "s3cret" {
		t.Errorf("unexpected config %+v", c)
	}
}

func TestLoadRejects(t *testing.T) {
	tests := []struct {
		name, key, value, wantInErr string
	}{
		{"bad level", "RATEWIRE_LOG_LEVEL", "loud", "RATEWIRE_LOG_LEVEL"},
		{"bad format", "RATEWIRE_LOG_FORMAT", "xml", "RATEWIRE_LOG_FORMAT"},
		{"bad addr", "RATEWIRE_HTTP_ADDR", "8001", "RATEWIRE_HTTP_ADDR"},
		{"bad broker", "RATEWIRE_KAFKA_BROKERS", "localhost", "RATEWIRE_KAFKA_BROKERS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Load(env(map[string]string{tt.key: tt.value}), ":1")
			if err == nil || !strings.Contains(err.Error(), tt.wantInErr) {
				t.Fatalf("Load(%s=%q) error = %v, want it to mention %q", tt.key, tt.value, err, tt.wantInErr)
			}
		})
	}
}

// TestLoadIgnoresOtherServicesSettings checks that the shared settings do
// not read the ingestor's: a bad provider list must not stop the currency
// service from starting.
func TestLoadIgnoresOtherServicesSettings(t *testing.T) {
	if _, err := config.Load(env(map[string]string{
		"RATEWIRE_PROVIDERS": "bogus", "RATEWIRE_INGEST_SCHEDULE": "never", "RATEWIRE_RETENTION_DAYS": "-3",
	}), config.DefaultCurrencyAddr); err != nil {
		t.Fatalf("Load with bad ingestor settings: expected no error, got %v", err)
	}
}

func TestTrustedProxies(t *testing.T) {
	c, err := config.Load(env(map[string]string{"RATEWIRE_TRUSTED_PROXIES": "172.28.0.10, 10.0.0.0/8,::1"}), ":1")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"172.28.0.10/32", "10.0.0.0/8", "::1/128"}; !reflect.DeepEqual(c.TrustedProxies, want) {
		t.Errorf("TrustedProxies: expected %v, got %v", want, c.TrustedProxies)
	}
	if _, err := config.Load(env(map[string]string{"RATEWIRE_TRUSTED_PROXIES": "gateway"}), ":1"); err == nil || !strings.Contains(err.Error(), "RATEWIRE_TRUSTED_PROXIES") {
		t.Errorf("a host name as trusted proxy: expected an error naming the variable, got %v", err)
	}
	if c, err := config.Load(env(nil), ":1"); err != nil || len(c.TrustedProxies) != 0 {
		t.Errorf("unset: expected no trusted proxies, got %v (%v)", c.TrustedProxies, err)
	}
}
