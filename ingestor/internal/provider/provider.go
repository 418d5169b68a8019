// Package provider fetches exchange rates from the outside world. Every
// provider answers with a rate.Batch of KRW-per-unit quotes, whatever its
// own format; the ingest service never sees provider quirks. Failures are
// *Error values whose Kind (see Classify) tells the ingest service whether
// to retry, wait or fail over.
package provider

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/ratewire/ratewire/ingestor/internal/rate"
)

// Provider is one source of rates.
type Provider interface {
	// Name is the provider's identifier, as in RATEWIRE_PROVIDERS; it is
	// the `source` of every quote it returns.
	Name() string
	// Fetch collects the current rates.
	Fetch(ctx context.Context) (rate.Batch, error)
}

// Historical is a provider that can backfill. FetchRange returns one
// batch per published observation (a day for the banks, a step for the
// simulator) whose RecordedAt lies within [from, to] and not after now,
// oldest first. Days with nothing published are absent, not errors.
// Callers find it with a type assertion on a Provider.
type Historical interface {
	FetchRange(ctx context.Context, from, to time.Time) ([]rate.Batch, error)
}

// Names lists every provider New can build, in the order DESIGN.md §3 gives.
func Names() []string {
	return []string{ExchangeRateAPIName, KoreaEximName, HanaName, FrankfurterName, SimulatedName}
}

// Settings configures the providers New builds: the RATEWIRE_* settings of
// DESIGN.md §3 plus what tests inject. Empty URLs mean the real hosts.
type Settings struct {
	ExchangeRateAPIKey string // empty: the keyless open-access endpoint
	ExchangeRateAPIURL string
	KoreaEximAPIKey    string // required for koreaexim
	KoreaEximAPIURL    string
	FrankfurterURL     string
	HanaURL            string
	// HTTPClient is shared by the HTTP providers; nil means a client with
	// DefaultTimeout.
	HTTPClient *http.Client
	// Now is the clock of every provider; nil means time.Now.
	Now func() time.Time
}

// ErrUnknownProvider is wrapped by New's error for a name it does not know.
var ErrUnknownProvider = errors.New("unknown provider")

// New builds the provider called name (one of Names). A koreaexim without
// a key is refused here, so a misconfiguration fails at start-up rather
// than at the first run.
func New(name string, cfg Settings) (Provider, error) {
	switch name {
	case ExchangeRateAPIName:
		return &ExchangeRateAPI{Key: cfg.ExchangeRateAPIKey, BaseURL: cfg.ExchangeRateAPIURL, Client: cfg.HTTPClient, Now: cfg.Now}, nil
	case KoreaEximName:
		if strings.TrimSpace(cfg.KoreaEximAPIKey) == "" {
			return nil, errors.New("provider koreaexim needs an authkey: set RATEWIRE_KOREAEXIM_API_KEY")
		}
		return &KoreaExim{Key: cfg.KoreaEximAPIKey, BaseURL: cfg.KoreaEximAPIURL, Client: cfg.HTTPClient, Now: cfg.Now}, nil
	case HanaName:
		return &Hana{BaseURL: cfg.HanaURL, Client: cfg.HTTPClient, Now: cfg.Now}, nil
	case FrankfurterName:
		return &Frankfurter{BaseURL: cfg.FrankfurterURL, Client: cfg.HTTPClient, Now: cfg.Now}, nil
	case SimulatedName:
		return &Simulated{Now: cfg.Now}, nil
	default:
		return nil, fmt.Errorf("%w %q: want one of %s", ErrUnknownProvider, name, strings.Join(Names(), ", "))
	}
}

// Compile-time checks that each provider implements what it promises.
var (
	_ Provider   = (*ExchangeRateAPI)(nil)
	_ Provider   = (*KoreaExim)(nil)
	_ Provider   = (*Hana)(nil)
	_ Provider   = (*Frankfurter)(nil)
	_ Provider   = (*Simulated)(nil)
	_ Historical = (*KoreaExim)(nil)
	_ Historical = (*Frankfurter)(nil)
	_ Historical = (*Simulated)(nil)
)
