package rate_test

import (
	"testing"

	"github.com/ratewire/ratewire/ingestor/internal/rate"
)

func TestActive(t *testing.T) {
	for _, code := range []string{"USD", "EUR", "JPY", "KWD", "XOF", "XAF", "CNY", "CNH", "VES", "MRU", "SLE", "ZWG", "KRW"} {
		if !rate.Active(code) {
			t.Errorf("Active(%s) = false, want true (an active ISO 4217 code, or CNH)", code)
		}
	}
	for _, code := range []string{"DEM", "FRF", "ESP", "ITL", "ATS", "BEF", "FIM", "NLG", "HRK", "VEF", "MRO", "SLL",
		"FOK", "GGP", "IMP", "JEP", "KID", "TVD", "XDR", "XAU", "usd", "US", "USDX", ""} {
		if rate.Active(code) {
			t.Errorf("Active(%q) = true, want false (retired, pseudo or malformed)", code)
		}
	}
}
