package provider_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/ratewire/ratewire/ingestor/hanatest"
	"github.com/ratewire/ratewire/ingestor/internal/provider"
	"github.com/ratewire/ratewire/shared/kst"
)

func TestKoreaEximNext(t *testing.T) {
	k := func(s string) time.Time {
		at, err := time.ParseInLocation("2006-01-02 15:04", s, kst.Zone)
		if err != nil {
			t.Fatal(err)
		}
		return at
	}
	for _, tt := range []struct{ now, want string }{
		{"2026-11-23 09:00", "2026-11-23 11:00"}, // Monday before publication: today
		{"2026-11-23 11:00", "2026-11-24 11:00"}, // at publication: the next one
		{"2026-11-23 15:00", "2026-11-24 11:00"}, // Monday afternoon: Tuesday
		{"2026-11-27 12:00", "2026-11-30 11:00"}, // Friday afternoon: Monday
		{"2026-11-28 10:00", "2026-11-30 11:00"}, // Saturday
		{"2026-11-29 23:59", "2026-11-30 11:00"}, // Sunday night
	} {
		if got := provider.KoreaEximNext(k(tt.now)); !got.Equal(k(tt.want)) {
			t.Errorf("KoreaEximNext(%s KST) = %s, want %s KST", tt.now, got.In(kst.Zone), tt.want)
		}
	}
}

// TestHanaNext: during Hana Bank's banking hours (weekdays 09:00-20:00
// KST) a notice can come at any moment, so there is no expected time
// (zero, next_update_at null); outside them, the next weekday's 09:00 KST.
func TestHanaNext(t *testing.T) {
	k := func(s string) time.Time {
		at, err := time.ParseInLocation("2006-01-02 15:04", s, kst.Zone)
		if err != nil {
			t.Fatal(err)
		}
		return at
	}
	for _, tt := range []struct{ now, want string }{
		{"2026-11-23 08:59", "2026-11-23 09:00"}, // Monday before opening: today
		{"2026-11-23 09:00", ""},                 // open: any poll may find a notice
		{"2026-11-23 14:30", ""},
		{"2026-11-23 19:59", ""},
		{"2026-11-23 20:00", "2026-11-24 09:00"}, // closed: tomorrow's opening
		{"2026-11-27 21:00", "2026-11-30 09:00"}, // Friday night: Monday
		{"2026-11-28 10:00", "2026-11-30 09:00"}, // Saturday, in what would be banking hours
		{"2026-11-29 23:59", "2026-11-30 09:00"}, // Sunday night
	} {
		got := provider.HanaNext(k(tt.now))
		if tt.want == "" && !got.IsZero() {
			t.Errorf("HanaNext(%s KST) = %s, want none (banking hours)", tt.now, got.In(kst.Zone))
		}
		if tt.want != "" && !got.Equal(k(tt.want)) {
			t.Errorf("HanaNext(%s KST) = %s, want %s KST", tt.now, got.In(kst.Zone), tt.want)
		}
	}
}

func TestECBNext(t *testing.T) {
	u := func(s string) time.Time {
		at, err := time.Parse("2006-01-02 15:04", s)
		if err != nil {
			t.Fatal(err)
		}
		return at
	}
	for _, tt := range []struct {
		name, rateDate, now, want string
	}{
		{"winter weekday: 16:00 CET is 15:00 UTC", "2026-11-20", "2026-11-20 16:00", "2026-11-23 15:00"}, // Friday's rates: Monday
		{"summer: 16:00 CEST is 14:00 UTC", "2026-07-01", "2026-07-01 15:00", "2026-07-02 14:00"},
		{"Easter: Good Friday and Easter Monday are closed", "2026-04-02", "2026-04-02 15:00", "2026-04-07 14:00"},
		{"Christmas and 26 December are closed", "2026-12-24", "2026-12-24 16:00", "2026-12-28 15:00"},
		{"New Year's Day is closed", "2026-12-31", "2026-12-31 16:00", "2027-01-04 15:00"}, // 1 Jan Friday, then the weekend
		{"1 May is closed", "2026-04-30", "2026-04-30 15:00", "2026-05-04 14:00"},          // 1 May Friday
		{"DST starts on the last Sunday of March", "2026-03-27", "2026-03-27 16:00", "2026-03-30 14:00"},
		{"publication overdue: the next one ahead", "2026-11-20", "2026-11-23 16:00", "2026-11-24 15:00"},
	} {
		if got := provider.ECBNext(tt.rateDate, u(tt.now)); !got.Equal(u(tt.want)) {
			t.Errorf("%s: ECBNext(%s, %s) = %s, want %s UTC", tt.name, tt.rateDate, tt.now, got, tt.want)
		}
	}
	if got := provider.ECBNext("20/11/2026", u("2026-11-20 16:00")); !got.IsZero() {
		t.Errorf("a bad date gave %s, want zero", got)
	}
}

// TestNextUpdateAt: each real provider's batch says when its source is
// expected to publish next; the simulator says nothing.
func TestNextUpdateAt(t *testing.T) {
	ctx := context.Background()
	er := serve(t, answer(http.StatusOK, "application/json", sample(t, "exchangerate-api-open.json")))
	b, err := (&provider.ExchangeRateAPI{BaseURL: er.URL, Now: clock(erNow)}).Fetch(ctx)
	if err != nil || !b.NextUpdateAt.Equal(time.Unix(1763684321, 0)) {
		t.Errorf("exchangerate-api next update %s (%v), want time_next_update_unix 1763684321", b.NextUpdateAt, err)
	}
	fr := serve(t, answer(http.StatusOK, "application/json", sample(t, "frankfurter-latest.json")))
	b, err = (&provider.Frankfurter{BaseURL: fr.URL, Now: clock(frankNow)}).Fetch(ctx) // Saturday 2026-11-21, rates of Friday
	if want := time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC); err != nil || !b.NextUpdateAt.Equal(want) {
		t.Errorf("frankfurter next update %s (%v), want Monday 16:00 CET %s", b.NextUpdateAt, err, want)
	}
	ke := serve(t, answer(http.StatusOK, "text/html", sample(t, "koreaexim-ap01.json")))
	now := time.Date(2026, 11, 23, 14, 0, 0, 0, kst.Zone) // Monday afternoon
	b, err = (&provider.KoreaExim{Key: "k", BaseURL: ke.URL, Now: clock(now)}).Fetch(ctx)
	if want := time.Date(2026, 11, 24, 11, 0, 0, 0, kst.Zone); err != nil || !b.NextUpdateAt.Equal(want) {
		t.Errorf("koreaexim next update %s (%v), want Tuesday 11:00 KST", b.NextUpdateAt, err)
	}
	bank := hanatest.New(clock(now))
	hana := serve(t, bank.ServeHTTP)
	for _, tt := range []struct {
		fetched time.Time
		want    time.Time // zero: none expected
	}{
		{now, time.Time{}}, // banking hours: a notice can come at any poll
		{time.Date(2026, 11, 23, 20, 30, 0, 0, kst.Zone), time.Date(2026, 11, 24, 9, 0, 0, 0, kst.Zone)},
	} {
		b, err = (&provider.Hana{BaseURL: hana.URL, Now: clock(tt.fetched)}).Fetch(ctx)
		if err != nil || !b.NextUpdateAt.Equal(tt.want) {
			t.Errorf("hana fetched %s: next update %s (%v), want %s", tt.fetched, b.NextUpdateAt, err, tt.want)
		}
	}
	b, err = (&provider.Simulated{Now: clock(now)}).Fetch(ctx)
	if err != nil || !b.NextUpdateAt.IsZero() {
		t.Errorf("simulated next update %s (%v), want none", b.NextUpdateAt, err)
	}
}

// TestBackfillBatchesSayTheNextUpdate: a backfilled day may become the
// latest stored rate, so its batch carries the next expected publication
// after the fetch too.
func TestBackfillBatchesSayTheNextUpdate(t *testing.T) {
	fr := serve(t, answer(http.StatusOK, "application/json", sample(t, "frankfurter-series.json")))
	now := time.Date(2026, 1, 7, 9, 0, 0, 0, time.UTC) // Wednesday morning
	batches, err := (&provider.Frankfurter{BaseURL: fr.URL, Now: clock(now)}).FetchRange(context.Background(),
		time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), now)
	if err != nil || len(batches) != 3 {
		t.Fatalf("%d batches (%v), want 3", len(batches), err)
	}
	want := time.Date(2026, 1, 7, 15, 0, 0, 0, time.UTC) // today 16:00 CET
	for _, b := range batches {
		if !b.NextUpdateAt.Equal(want) {
			t.Errorf("batch of %s next update %s, want %s", b.Quotes[0].RateDate, b.NextUpdateAt, want)
		}
	}
}
