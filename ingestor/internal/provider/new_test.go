package provider_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ratewire/ratewire/ingestor/internal/provider"
)

func TestNew(t *testing.T) {
	cfg := provider.Settings{KoreaEximAPIKey: "k", Now: clock(time.Date(2026, 11, 23, 3, 0, 0, 0, time.UTC))}
	for _, name := range provider.Names() {
		p, err := provider.New(name, cfg)
		if err != nil {
			t.Fatalf("New(%q): %v", name, err)
		}
		if p.Name() != name {
			t.Errorf("New(%q).Name() = %q", name, p.Name())
		}
		if _, ok := p.(provider.Historical); !ok && name != "exchangerate-api" && name != "hana" { // neither publishes history
			t.Errorf("%s does not implement Historical", name)
		}
	}
	if _, err := provider.New("koreaexim", provider.Settings{}); err == nil || !strings.Contains(err.Error(), "RATEWIRE_KOREAEXIM_API_KEY") {
		t.Errorf("koreaexim without a key: err %v, want one naming RATEWIRE_KOREAEXIM_API_KEY", err)
	}
	if _, err := provider.New("yahoo", cfg); !errors.Is(err, provider.ErrUnknownProvider) {
		t.Errorf("unknown provider: err %v, want ErrUnknownProvider", err)
	}
}

// TestNewUsesSettings checks that URLs, client and clock reach the providers.
func TestNewUsesSettings(t *testing.T) {
	now := time.Date(2025, 11, 20, 3, 0, 0, 0, time.UTC)
	er := serve(t, answer(200, "application/json", sample(t, "exchangerate-api-open.json")))
	ke := serve(t, answer(200, "application/json", sample(t, "koreaexim-ap01.json")))
	fr := serve(t, answer(200, "application/json", sample(t, "frankfurter-latest.json")))
	ha := serve(t, answer(200, "application/json", sample(t, "hana-recent.json")))
	cfg := provider.Settings{
		ExchangeRateAPIURL: er.URL, KoreaEximAPIKey: "k", KoreaEximAPIURL: ke.URL, FrankfurterURL: fr.URL, HanaURL: ha.URL,
		HTTPClient: er.Client(), Now: clock(now),
	}
	for _, name := range provider.Names() {
		p, _ := provider.New(name, cfg)
		b, err := p.Fetch(context.Background())
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if b.Source != name || !b.FetchedAt.Equal(now) || len(b.Quotes) == 0 {
			t.Errorf("%s: batch %q at %s with %d quotes, want %s at %s", name, b.Source, b.FetchedAt, len(b.Quotes), name, now)
		}
	}
}
