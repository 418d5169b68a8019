// Package provider fetches exchange rates from the outside world. Every
// provider answers with a rate.Batch of KRW-per-unit quotes, whatever its
// own format; the ingest service never sees provider quirks.
package provider

import (
	"context"

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
