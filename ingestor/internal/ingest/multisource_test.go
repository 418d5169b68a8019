package ingest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ratewire/ratewire/ingestor/internal/ingest"
	"github.com/ratewire/ratewire/ingestor/internal/provider"
	"github.com/ratewire/ratewire/ingestor/internal/rate"
	"github.com/ratewire/ratewire/shared/event"
)

// TestMultiSourceRun: with hana,koreaexim,exchangerate-api a run takes
// each currency from the first provider that quotes it (validly), so
// Hana's currencies come with cash rates and the rest from the others;
// every stored rate says its source; when the first provider fails, the
// next ones take its currencies over.
func TestMultiSourceRun(t *testing.T) {
	q := func(code, mid string, at time.Time) rate.Quote {
		return rate.Quote{Code: code, Name: code, DealBaseRate: d(mid), RecordedAt: at}
	}
	cash := func(x rate.Quote, buy, sell string) rate.Quote { x.CashBuy, x.CashSell = ptr(buy), ptr(sell); return x }
	hana := &fixed{name: "hana", batch: rate.Batch{Source: "hana", FetchedAt: at, Quotes: []rate.Quote{
		cash(q("USD", "1338.00", at), "1361.42", "1314.58"),
		cash(q("JPY", "9.1234", at), "9.0", "8.9"), // cash buy under the mid: rejected, JPY comes from the next
	}}}
	exim := &fixed{name: "koreaexim", batch: rate.Batch{Source: "koreaexim", FetchedAt: at, Daily: true, Quotes: []rate.Quote{
		q("USD", "1339.50", at), q("EUR", "1450.10", at), q("CNH", "185.20", at),
	}}}
	era := &fixed{name: "exchangerate-api", batch: rate.Batch{Source: "exchangerate-api", FetchedAt: at, Quotes: []rate.Quote{
		q("USD", "1340.00", at), q("EUR", "1451.00", at), q("JPY", "9.1300", at), q("GBP", "1700.00", at), q("CNY", "185.90", at),
	}}}
	h := newHarness(t, hana, exim, era)
	ctx := context.Background()
	run, err := h.svc.Run(ctx, "test")
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if run.Provider != "hana,koreaexim,exchangerate-api" || run.Fetched != 10 || run.Rejected != 1 || run.Changed != 6 {
		t.Fatalf("run = %+v, want from all three, 10 fetched, 1 rejected, 6 changed", run)
	}
	want := map[string]struct{ source, mid, cashBuy, quotedAs string }{
		"USD": {"hana", "1338", "1361.42", ""},
		"JPY": {"exchangerate-api", "9.13", "", ""},
		"EUR": {"koreaexim", "1450.1", "", ""},
		"CNH": {"koreaexim", "185.2", "", ""},
		"CNY": {"exchangerate-api", "185.9", "", ""}, // quoted itself: no copy of koreaexim's CNH
		"GBP": {"exchangerate-api", "1700", "", ""},
	}
	latest, err := h.st.Latest(ctx)
	if err != nil || len(latest) != len(want) {
		t.Fatalf("latest = %+v (%v), want %d currencies", latest, err, len(want))
	}
	for _, r := range latest {
		w := want[r.CurrencyCode]
		if r.Source != w.source || !r.DealBaseRate.Equal(d(w.mid)) || r.QuotedAs != w.quotedAs || (w.cashBuy == "") != (r.CashBuy == nil) ||
			(r.CashBuy != nil && !r.CashBuy.Equal(d(w.cashBuy))) {
			t.Errorf("%s = %s from %s (cash buy %v, quoted as %q), want %+v", r.CurrencyCode, r.DealBaseRate, r.Source, r.CashBuy, r.QuotedAs, w)
		}
	}
	if err := h.relay.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	ev, err := event.Decode(h.pub.msgs[0].Topic, h.pub.msgs[0].Value)
	if err != nil || ev.(*event.NewDataReceived).Source != "hana,koreaexim,exchangerate-api" || ev.(*event.NewDataReceived).DataCount != 6 {
		t.Errorf("new_data_received = %+v (%v), want the three sources and 6 rates", ev, err)
	}
	for _, m := range h.pub.msgs[1:7] {
		ev, err := event.Decode(m.Topic, m.Value)
		if err != nil {
			t.Fatal(err)
		}
		u := ev.(*event.ExchangeRateUpdated)
		if w := want[u.CurrencyCode]; u.Source != w.source {
			t.Errorf("event for %s says source %s, want %s", u.CurrencyCode, u.Source, w.source)
		}
	}

	// Hana fails for good: its USD comes from the next provider that quotes
	// it, without cash rates (never carried over from another source).
	hana.errs = []error{&provider.Error{Provider: "hana", Kind: provider.Permanent, Status: 403, Err: errors.New("forbidden")}}
	exim.batch.Quotes[0].RecordedAt = at.Add(time.Minute)
	run, err = h.svc.Run(ctx, "test")
	if err != nil || run.Provider != "koreaexim,exchangerate-api" || run.Changed != 1 {
		t.Fatalf("run without hana = %+v (%v), want koreaexim,exchangerate-api with USD changed", run, err)
	}
	latest, _ = h.st.Latest(ctx)
	for _, r := range latest {
		if r.CurrencyCode == "USD" && (r.Source != "koreaexim" || !r.DealBaseRate.Equal(d("1339.50")) || r.CashBuy != nil) {
			t.Errorf("USD without hana = %s from %s, cash %v; want koreaexim's 1339.50 and no cash", r.DealBaseRate, r.Source, r.CashBuy)
		}
	}

	// Every provider fails: the run fails and stores nothing.
	fail := &provider.Error{Provider: "x", Kind: provider.Permanent, Status: 403, Err: errors.New("forbidden")}
	hana.errs, exim.errs, era.errs = []error{fail}, []error{fail}, []error{fail}
	if run, err = h.svc.Run(ctx, "test"); err == nil || run.Status != ingest.StatusFailed {
		t.Fatalf("run with every provider down = %+v (%v), want failed", run, err)
	}
}
