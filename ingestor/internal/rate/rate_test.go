package rate_test

import (
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/ratewire/ratewire/ingestor/internal/rate"
)

func TestWithTwins(t *testing.T) {
	at := time.Date(2026, 11, 25, 2, 0, 0, 0, time.UTC)
	q := func(code, mid string) rate.Quote {
		return rate.Quote{Code: code, Name: code, DealBaseRate: decimal.RequireFromString(mid), RecordedAt: at}
	}
	for _, tc := range []struct {
		name string
		in   []rate.Quote
		want map[string]string // code -> quoted as
	}{
		{"CNH only: CNY from it", []rate.Quote{q("USD", "1400"), q("CNH", "192.5")}, map[string]string{"USD": "", "CNH": "", "CNY": "CNH"}},
		{"CNY only: CNH from it", []rate.Quote{q("CNY", "193.1")}, map[string]string{"CNY": "", "CNH": "CNY"}},
		{"both: each its own", []rate.Quote{q("CNY", "193.1"), q("CNH", "192.5")}, map[string]string{"CNY": "", "CNH": ""}},
		{"neither", []rate.Quote{q("USD", "1400")}, map[string]string{"USD": ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := append([]rate.Quote(nil), tc.in...)
			out := rate.WithTwins(in)
			if len(out) != len(tc.want) {
				t.Fatalf("expected %d quotes, got %+v", len(tc.want), out)
			}
			mids := map[string]decimal.Decimal{}
			for _, o := range tc.in {
				mids[o.Code] = o.DealBaseRate
			}
			for _, o := range out {
				want, ok := tc.want[o.Code]
				if !ok || o.QuotedAs != want {
					t.Errorf("%s: expected quoted as %q (listed %v), got %q", o.Code, want, ok, o.QuotedAs)
				}
				if o.QuotedAs != "" && (!o.DealBaseRate.Equal(mids[o.QuotedAs]) || !o.RecordedAt.Equal(at) || o.Name == o.QuotedAs) {
					t.Errorf("%s: expected %s's numbers and time under its own name, got %+v", o.Code, o.QuotedAs, o)
				}
			}
			for i := range tc.in {
				if in[i] != tc.in[i] {
					t.Errorf("the input quote %d changed to %+v", i, in[i])
				}
			}
		})
	}
}
