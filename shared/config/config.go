// Package config reads the RATEWIRE_* settings of DESIGN.md §3 from an injected
// getenv function, so that every service (and devstack, which runs all four
// in one process) can be configured without touching the process
// environment. It holds the settings every service shares (listen address,
// database, Redis, Kafka, admin token, logging); a service with settings of
// its own (the ingestor's providers, keys and schedule) reads them in its
// own module, so a bad value of one service's setting never stops another.
// Load validates what it parses and reports every problem at once.
package config

import (
	"errors"
	"fmt"
	"net"
	"strings"
)

// Default listen addresses per service (DESIGN.md §2).
const (
	DefaultCurrencyAddr = ":8001"
	DefaultRankingAddr  = ":8002"
	DefaultHistoryAddr  = ":8003"
	DefaultIngestorAddr = ":8004"
)

// Config is the RATEWIRE_* settings every service shares. Zero values mean
// "not set" where the table of DESIGN.md §3 has no default.
type Config struct {
	HTTPAddr     string
	DatabaseURL  string
	RedisURL     string
	KafkaBrokers []string
	AdminToken   string
	LogLevel     string
	LogFormat    string
	// TrustedProxies are the networks (CIDRs; a bare address is one host)
	// whose X-Forwarded-For is believed: the gateway's. Empty trusts none,
	// and the client is the peer address.
	TrustedProxies []string
}

// Defaults applied by Load when a variable is unset.
const (
	DefaultLogLevel  = "info"
	DefaultLogFormat = "text"
)

// Load reads the configuration through getenv. defaultAddr is the service's
// own listen address (DefaultCurrencyAddr, ...). A malformed value is an
// error naming the variable; secrets are never echoed back.
func Load(getenv func(string) string, defaultAddr string) (Config, error) {
	get := func(k string) string { return strings.TrimSpace(getenv(k)) }
	var errs []error
	c := Config{
		HTTPAddr:       OrDefault(get("RATEWIRE_HTTP_ADDR"), defaultAddr),
		DatabaseURL:    get("RATEWIRE_DATABASE_URL"),
		RedisURL:       get("RATEWIRE_REDIS_URL"),
		KafkaBrokers:   SplitList(get("RATEWIRE_KAFKA_BROKERS")),
		AdminToken:     get("RATEWIRE_ADMIN_TOKEN"),
		LogLevel:       strings.ToLower(OrDefault(get("RATEWIRE_LOG_LEVEL"), DefaultLogLevel)),
		LogFormat:      strings.ToLower(OrDefault(get("RATEWIRE_LOG_FORMAT"), DefaultLogFormat)),
		TrustedProxies: SplitList(get("RATEWIRE_TRUSTED_PROXIES")),
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
	for i, p := range c.TrustedProxies {
		if !strings.Contains(p, "/") {
			if ip := net.ParseIP(p); ip != nil {
				if ip.To4() != nil {
					p += "/32"
				} else {
					p += "/128"
				}
			}
		}
		if _, _, err := net.ParseCIDR(p); err != nil {
			errs = append(errs, fmt.Errorf("RATEWIRE_TRUSTED_PROXIES: %q: want a CIDR such as 10.0.0.0/8 or an address", c.TrustedProxies[i]))
			continue
		}
		c.TrustedProxies[i] = p
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

// OrDefault is v, or def when v is empty.
func OrDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// SplitList reads a comma-separated setting, dropping blanks around and
// between the items.
func SplitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
