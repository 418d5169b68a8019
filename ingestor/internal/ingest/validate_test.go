package ingest_test

import (
	"testing"
	"time"

	"github.com/ratewire/ratewire/ingestor/internal/ingest"
	"github.com/ratewire/ratewire/ingestor/internal/rate"
	"github.com/ratewire/ratewire/shared/logx"
)

// TestValidateCashRates keeps cash rates that bracket the mid rate and
// rejects those that do not or are not positive; a quote without cash
// rates is fine.
func TestValidateCashRates(t *testing.T) {
	q := func(code, buy, sell string) rate.Quote {
		x := rate.Quote{Code: code, DealBaseRate: d("1338.00"), RecordedAt: at}
		if buy != "" {
			x.CashBuy = ptr(buy)
		}
		if sell != "" {
			x.CashSell = ptr(sell)
		}
		return x
	}
	b := rate.Batch{Source: "hana", FetchedAt: at, Quotes: []rate.Quote{
		q("USD", "1361.42", "1314.58"), // kept
		q("EUR", "", ""),               // kept: no cash quoted
		q("GBP", "1330", "1314.58"),    // buy below mid
		q("CHF", "1361.42", "1340"),    // sell above mid
		q("CAD", "1361.42", "0"),       // not positive
	}}
	kept, rejected := ingest.Validate(logx.Discard(), b, nil, 0.2, at.Add(time.Minute))
	if rejected != 3 || len(kept) != 2 || kept[0].Code != "USD" || kept[1].Code != "EUR" {
		t.Errorf("kept %+v, %d rejected; want USD and EUR kept, 3 rejected", kept, rejected)
	}
}
