package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/ratewire/ratewire/ingestor/internal/rate"
	"github.com/ratewire/ratewire/ingestor/internal/store"
	"github.com/ratewire/ratewire/shared/kst"
	"github.com/ratewire/ratewire/shared/testinfra"
)

func d(s string) decimal.Decimal   { return decimal.RequireFromString(s) }
func dp(s string) *decimal.Decimal { v := d(s); return &v }

// TestStoreContract runs against SQLite and PostgreSQL alike.
func TestStoreContract(t *testing.T) {
	testinfra.ForEachDatabase(t, func(t *testing.T, db testinfra.Database) {
		ctx := context.Background()
		s := store.New(testinfra.OpenDB(t, db.URL))
		if err := s.Migrate(ctx); err != nil {
			t.Fatalf("migrate: %v", err)
		}
		if err := s.Migrate(ctx); err != nil {
			t.Fatalf("second migrate: %v", err)
		}
		t0 := time.Date(2026, 11, 22, 2, 0, 0, 0, time.UTC)
		now := t0.Add(3*time.Second + 123456789) // nanoseconds, which no database keeps
		usd := rate.Quote{Code: "USD", Name: "미국 달러", DealBaseRate: d("1398.40"), TTS: dp("1412.38"), TTB: dp("1384.42"), RecordedAt: t0}
		jpy := rate.Quote{Code: "JPY", Name: "일본 옌", DealBaseRate: d("9.2514"), RecordedAt: t0}

		changed, err := s.SaveBatch(ctx, rate.Batch{Source: "koreaexim", Quotes: []rate.Quote{usd, jpy}}, "run-1", now)
		if err != nil {
			t.Fatalf("first batch: %v", err)
		}
		if len(changed) != 2 || changed[0].Version != 1 || changed[1].Version != 1 {
			t.Fatalf("first batch changed %+v, want USD and JPY at version 1", changed)
		}

		// The same rates again at a later instant: observations grow, no change.
		usd2, jpy2 := usd, jpy
		usd2.RecordedAt, jpy2.RecordedAt = t0.Add(5*time.Minute), t0.Add(5*time.Minute)
		usd2.DealBaseRate = d("1398.4000") // equal value, other scale
		changed, err = s.SaveBatch(ctx, rate.Batch{Source: "koreaexim", Quotes: []rate.Quote{usd2, jpy2}}, "run-2", now)
		if err != nil || len(changed) != 0 {
			t.Fatalf("unchanged batch: changed %+v, err %v; want none", changed, err)
		}

		// A change bumps only that currency's version.
		usd3 := usd2
		usd3.RecordedAt = t0.Add(10 * time.Minute)
		usd3.DealBaseRate, usd3.TTS = d("1401.15"), nil
		changed, err = s.SaveBatch(ctx, rate.Batch{Source: "koreaexim", Quotes: []rate.Quote{usd3, jpy2}}, "run-3", now)
		if err != nil || len(changed) != 1 || changed[0].CurrencyCode != "USD" || changed[0].Version != 2 {
			t.Fatalf("changed batch: %+v (%v), want USD at version 2", changed, err)
		}
		published := changed[0] // what the run's event carries

		// An older quote never replaces a newer latest rate.
		old := usd
		old.RecordedAt = t0.Add(-time.Hour)
		old.DealBaseRate = d("1300")
		if changed, err = s.SaveBatch(ctx, rate.Batch{Source: "koreaexim", Quotes: []rate.Quote{old}}, "run-4", now); err != nil || len(changed) != 0 {
			t.Fatalf("older quote: changed %+v (%v), want none", changed, err)
		}

		// Replaying a batch stores no duplicate observation.
		if _, err := s.SaveBatch(ctx, rate.Batch{Source: "koreaexim", Quotes: []rate.Quote{usd3}}, "run-5", now); err != nil {
			t.Fatal(err)
		}
		if n, err := s.CountObservations(ctx, "USD"); err != nil || n != 4 {
			t.Errorf("USD observations = %d (%v), want 4", n, err)
		}

		latest, err := s.Latest(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(latest) != 2 || latest[0].CurrencyCode != "JPY" || latest[1].CurrencyCode != "USD" {
			t.Fatalf("latest = %+v, want JPY then USD", latest)
		}
		got := latest[1]
		if !got.DealBaseRate.Equal(d("1401.15")) || got.TTS != nil || !got.TTB.Equal(d("1384.42")) ||
			got.Version != 2 || !got.RecordedAt.Equal(usd3.RecordedAt) || got.Source != "koreaexim" || got.CurrencyName != "미국 달러" {
			t.Errorf("latest USD = %+v, want 1401.15 / tts null / ttb 1384.42 / v2", got)
		}
		if !published.UpdatedAt.Equal(got.UpdatedAt) {
			t.Errorf("updated_at: the event says %s, the database %s", published.UpdatedAt, got.UpdatedAt)
		}
		if !latest[0].DealBaseRate.Equal(d("9.2514")) || latest[0].TTS != nil {
			t.Errorf("latest JPY = %+v, want exact 9.2514 and no spread", latest[0])
		}
	})
}

func TestSaveBatchFailureStoresNothing(t *testing.T) {
	testinfra.ForEachDatabase(t, func(t *testing.T, db testinfra.Database) {
		ctx := context.Background()
		s := store.New(testinfra.OpenDB(t, db.URL))
		if err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		t0 := time.Date(2026, 11, 22, 2, 0, 0, 0, time.UTC)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := s.SaveBatch(cctx, rate.Batch{Source: "simulated", Quotes: []rate.Quote{{Code: "USD", Name: "x", DealBaseRate: d("1"), RecordedAt: t0}}}, "r", t0)
		if err == nil {
			t.Fatal("SaveBatch with a cancelled context succeeded")
		}
		if n, err := s.CountObservations(ctx, "USD"); err != nil || n != 0 {
			t.Fatalf("observations after a failed save = %d (%v), want 0", n, err)
		}
	})
}

func TestDailyOHLC(t *testing.T) {
	testinfra.ForEachDatabase(t, func(t *testing.T, db testinfra.Database) {
		ctx := context.Background()
		s := store.New(testinfra.OpenDB(t, db.URL))
		if err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		// 23:50 KST on the 21st, then 00:10, 09:00 and 12:00 KST on the 22nd,
		// the 09:00 quote arriving last.
		inKST := func(day, h, m int) time.Time { return time.Date(2026, 11, day, h, m, 0, 0, kst.Zone) }
		quotes := []struct {
			at  time.Time
			mid string
		}{
			{inKST(21, 23, 50), "1390"},
			{inKST(22, 0, 10), "1400.5"},
			{inKST(22, 12, 0), "1398.25"},
			{inKST(22, 9, 0), "1410"},
		}
		for i, q := range quotes {
			b := rate.Batch{Source: "simulated", Quotes: []rate.Quote{{Code: "USD", Name: "미국 달러", DealBaseRate: d(q.mid), RecordedAt: q.at}}}
			if _, err := s.SaveBatch(ctx, b, "r", q.at); err != nil {
				t.Fatalf("quote %d: %v", i, err)
			}
		}
		// A replayed quote must not count twice.
		if _, err := s.SaveBatch(ctx, rate.Batch{Source: "simulated", Quotes: []rate.Quote{{Code: "USD", Name: "x", DealBaseRate: d("1400.5"), RecordedAt: inKST(22, 0, 10)}}}, "r", inKST(22, 13, 0)); err != nil {
			t.Fatal(err)
		}
		rows, err := s.DailyRates(ctx, "USD", "2026-11-21", "2026-11-22")
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 2 {
			t.Fatalf("%d daily rows, want 2 (the 23:50 KST quote belongs to the 21st)", len(rows))
		}
		d21, d22 := rows[0], rows[1]
		if d21.Day != "2026-11-21" || !d21.Close.Equal(d("1390")) || d21.Samples != 1 {
			t.Errorf("21st = %+v", d21)
		}
		if d22.Day != "2026-11-22" || !d22.Open.Equal(d("1400.5")) || !d22.High.Equal(d("1410")) || !d22.Low.Equal(d("1398.25")) ||
			!d22.Close.Equal(d("1398.25")) || d22.Samples != 3 || !d22.LastAt.Equal(inKST(22, 12, 0)) || !d22.FirstAt.Equal(inKST(22, 0, 10)) {
			t.Errorf("22nd = %+v, want O 1400.5 H 1410 L 1398.25 C 1398.25 over 3 samples", d22)
		}
	})
}

// TestDailyRevision: a daily source's later fetch of a day already stored
// revises that day everywhere at once (latest rate, its observation and
// the daily OHLC), keeping the day's recorded time; the same numbers again
// change nothing; a fetch of the next day adds a new observation.
func TestDailyRevision(t *testing.T) {
	testinfra.ForEachDatabase(t, func(t *testing.T, db testinfra.Database) {
		ctx := context.Background()
		s := store.New(testinfra.OpenDB(t, db.URL))
		if err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		early := time.Date(2026, 11, 25, 10, 30, 0, 0, kst.Zone) // published early: recorded at the fetch
		pub := time.Date(2026, 11, 25, 11, 0, 0, 0, kst.Zone)
		day := func(at time.Time, mid, tts string) rate.Batch {
			return rate.Batch{Source: "koreaexim", Daily: true, FetchedAt: at, Quotes: []rate.Quote{{
				Code: "USD", Name: "미국 달러", DealBaseRate: d(mid), TTS: dp(tts), TTB: dp("1370.00"),
				RecordedAt: at, RateDate: "2026-11-25"}}}
		}
		steps := []struct {
			name        string
			batch       rate.Batch
			wantChanged int
			wantMid     string
			wantTTS     string
		}{
			{"first fetch", day(early, "1381.539", "1395.00"), 1, "1381.539", "1395.00"},
			{"the same day again at 11:05", day(pub, "1381.539", "1395.00"), 0, "1381.539", "1395.00"},
			{"a revision at 14:05", day(pub, "1383.774", "1397.50"), 1, "1383.774", "1397.50"},
			{"the revision again", day(pub, "1383.774", "1397.50"), 0, "1383.774", "1397.50"},
		}
		for i, st := range steps {
			changed, err := s.SaveBatch(ctx, st.batch, "run", pub.Add(time.Duration(i)*time.Hour))
			if err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
			if len(changed) != st.wantChanged {
				t.Errorf("%s: changed %+v, want %d", st.name, changed, st.wantChanged)
			}
			latest, err := s.Latest(ctx)
			if err != nil || len(latest) != 1 {
				t.Fatalf("%s: latest %+v (%v)", st.name, latest, err)
			}
			l := latest[0]
			if !l.DealBaseRate.Equal(d(st.wantMid)) || !l.TTS.Equal(d(st.wantTTS)) || !l.RecordedAt.Equal(early) ||
				l.RateDate != "2026-11-25" || l.Version != int64(1+i/2) {
				t.Errorf("%s: latest %s tts %s at %s for %s v%d, want %s tts %s at %s for 2026-11-25 v%d",
					st.name, l.DealBaseRate, l.TTS, l.RecordedAt, l.RateDate, l.Version, st.wantMid, st.wantTTS, early.UTC(), 1+i/2)
			}
			if n, err := s.CountObservations(ctx, "USD"); err != nil || n != 1 {
				t.Errorf("%s: %d observations (%v), want the day's one", st.name, n, err)
			}
			obs := observations(t, s, "USD")
			if len(obs) != 1 || !obs[0].mid.Equal(d(st.wantMid)) || !obs[0].at.Equal(early) {
				t.Errorf("%s: observations %+v, want one of %s at %s", st.name, obs, st.wantMid, early.UTC())
			}
			days, err := s.DailyRates(ctx, "USD", "2026-11-25", "2026-11-25")
			if err != nil || len(days) != 1 {
				t.Fatalf("%s: daily %+v (%v)", st.name, days, err)
			}
			if dd := days[0]; !dd.Close.Equal(d(st.wantMid)) || !dd.Open.Equal(d(st.wantMid)) || !dd.High.Equal(d(st.wantMid)) ||
				!dd.Low.Equal(d(st.wantMid)) || dd.Samples != 1 {
				t.Errorf("%s: daily %+v, want OHLC all %s from 1 sample", st.name, dd, st.wantMid)
			}
		}

		// The next bank day is a new observation and a new day.
		next := day(time.Date(2026, 11, 26, 11, 0, 0, 0, kst.Zone), "1385.1", "1399.00")
		next.Quotes[0].RateDate = "2026-11-26"
		if changed, err := s.SaveBatch(ctx, next, "run", pub.Add(24*time.Hour)); err != nil || len(changed) != 1 || changed[0].Version != 3 {
			t.Fatalf("next day: %+v (%v), want USD v3", changed, err)
		}
		if n, _ := s.CountObservations(ctx, "USD"); n != 2 {
			t.Errorf("%d observations after the next day, want 2", n)
		}
	})
}

type observation struct {
	mid decimal.Decimal
	at  time.Time
}

// observations reads code's stored observations, oldest first.
func observations(t *testing.T, s *store.Store, code string) []observation {
	t.Helper()
	pts, err := s.Observations(context.Background(), code)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]observation, len(pts))
	for i, p := range pts {
		out[i] = observation{p.DealBaseRate, p.RecordedAt}
	}
	return out
}

// TestLatestStoredBeforeRateDate: a latest rate stored before rate_date
// existed (NULL) reads with an empty RateDate whose Day is the KST day of
// its recorded time, and the same quote again changes nothing.
func TestLatestStoredBeforeRateDate(t *testing.T) {
	testinfra.ForEachDatabase(t, func(t *testing.T, db testinfra.Database) {
		ctx := context.Background()
		sdb := testinfra.OpenDB(t, db.URL)
		s := store.New(sdb)
		if err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		at := time.Date(2026, 11, 22, 16, 0, 0, 0, time.UTC) // 01:00 KST on the 23rd
		b := rate.Batch{Source: "simulated", Quotes: []rate.Quote{{Code: "USD", Name: "미국 달러", DealBaseRate: d("1398.4"), RecordedAt: at}}}
		if _, err := s.SaveBatch(ctx, b, "r", at); err != nil {
			t.Fatal(err)
		}
		if _, err := sdb.ExecContext(ctx, `UPDATE latest_rates SET rate_date = NULL`); err != nil {
			t.Fatal(err)
		}
		latest, err := s.Latest(ctx)
		if err != nil || len(latest) != 1 {
			t.Fatalf("latest = %+v (%v), want USD", latest, err)
		}
		if l := latest[0]; l.RateDate != "" || l.Day() != "2026-11-23" || l.Version != 1 || l.RecordedAt.Location() != time.UTC {
			t.Errorf("latest USD = %+v (day %s), want no rate_date, day 2026-11-23, v1, UTC", l, l.Day())
		}
		if changed, err := s.SaveBatch(ctx, b, "r2", at.Add(time.Minute)); err != nil || len(changed) != 0 {
			t.Errorf("the same quote again changed %+v (%v), want nothing", changed, err)
		}
	})
}

// TestQuotedAs checks that a twin's latest rate keeps the code it was
// quoted under, and that the source starting to quote it itself is a
// change even at the same numbers.
func TestQuotedAs(t *testing.T) {
	testinfra.ForEachDatabase(t, func(t *testing.T, db testinfra.Database) {
		ctx := context.Background()
		s := store.New(testinfra.OpenDB(t, db.URL))
		if err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		at := time.Date(2026, 11, 25, 2, 0, 0, 0, time.UTC)
		cny := rate.Quote{Code: "CNY", Name: "중국 위안", DealBaseRate: d("192.5"), RecordedAt: at, QuotedAs: "CNH"}
		if changed, err := s.SaveBatch(ctx, rate.Batch{Source: "koreaexim", Quotes: []rate.Quote{cny}}, "r1", at); err != nil || len(changed) != 1 || changed[0].QuotedAs != "CNH" {
			t.Fatalf("first batch: changed %+v (%v), want CNY quoted as CNH", changed, err)
		}
		latest, err := s.Latest(ctx)
		if err != nil || len(latest) != 1 || latest[0].QuotedAs != "CNH" {
			t.Fatalf("latest = %+v (%v), want CNY quoted as CNH", latest, err)
		}
		own := cny
		own.QuotedAs, own.RecordedAt = "", at.Add(time.Hour)
		if changed, err := s.SaveBatch(ctx, rate.Batch{Source: "koreaexim", Quotes: []rate.Quote{own}}, "r2", at.Add(time.Hour)); err != nil || len(changed) != 1 || changed[0].QuotedAs != "" || changed[0].Version != 2 {
			t.Fatalf("CNY quoted itself: changed %+v (%v), want version 2 with no quoted_as", changed, err)
		}
	})
}

// TestFreshness: a latest rate keeps when ratewire fetched it and when its
// source was expected to publish next, exactly as the event carries them,
// on both databases; a batch without them stores NULLs that read as nil.
func TestFreshness(t *testing.T) {
	testinfra.ForEachDatabase(t, func(t *testing.T, db testinfra.Database) {
		ctx := context.Background()
		s := store.New(testinfra.OpenDB(t, db.URL))
		if err := s.Migrate(ctx); err != nil {
			t.Fatalf("migrate: %v", err)
		}
		recorded := time.Unix(1763596951, 0).UTC()
		fetched := time.Date(2025, 11, 20, 3, 0, 0, 123456789, time.UTC)
		next := time.Unix(1763684321, 0).UTC()
		changed, err := s.SaveBatch(ctx, rate.Batch{Source: "exchangerate-api", FetchedAt: fetched, NextUpdateAt: next,
			Quotes: []rate.Quote{{Code: "USD", Name: "미국 달러", DealBaseRate: d("1466.123456"), RecordedAt: recorded}}}, "run-1", fetched)
		if err != nil || len(changed) != 1 {
			t.Fatalf("save: %+v %v", changed, err)
		}
		if _, err := s.SaveBatch(ctx, rate.Batch{Source: "simulated", FetchedAt: time.Time{},
			Quotes: []rate.Quote{{Code: "JPY", Name: "일본 옌", DealBaseRate: d("9.3457"), RecordedAt: recorded}}}, "run-2", fetched); err != nil {
			t.Fatal(err)
		}
		latest, err := s.Latest(ctx)
		if err != nil || len(latest) != 2 {
			t.Fatalf("latest %+v %v", latest, err)
		}
		jpy, usd := latest[0], latest[1]
		wantFetched := fetched.Truncate(time.Microsecond)
		if usd.FetchedAt == nil || !usd.FetchedAt.Equal(wantFetched) || usd.NextUpdateAt == nil || !usd.NextUpdateAt.Equal(next) {
			t.Errorf("USD fetched %v next %v, want %s and %s", usd.FetchedAt, usd.NextUpdateAt, wantFetched, next)
		}
		if !changed[0].FetchedAt.Equal(*usd.FetchedAt) || !changed[0].NextUpdateAt.Equal(*usd.NextUpdateAt) {
			t.Errorf("event carries fetched %v next %v, stored %v %v", changed[0].FetchedAt, changed[0].NextUpdateAt, usd.FetchedAt, usd.NextUpdateAt)
		}
		if jpy.FetchedAt != nil || jpy.NextUpdateAt != nil {
			t.Errorf("JPY without freshness read back fetched %v next %v, want nil", jpy.FetchedAt, jpy.NextUpdateAt)
		}
	})
}

// TestCashRates checks that cash_buy and cash_sell go into observations
// and latest rates exactly, stay null for a source without them, and that
// a move of the cash rates alone is a change (a new version).
func TestCashRates(t *testing.T) {
	testinfra.ForEachDatabase(t, func(t *testing.T, db testinfra.Database) {
		ctx := context.Background()
		s := store.New(testinfra.OpenDB(t, db.URL))
		if err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		at := time.Date(2026, 11, 25, 2, 0, 0, 0, time.UTC)
		usd := rate.Quote{Code: "USD", Name: "미국 달러", DealBaseRate: d("1338.00"), TTS: dp("1351.10"), TTB: dp("1324.90"),
			CashBuy: dp("1361.42"), CashSell: dp("1314.58"), RecordedAt: at}
		jpy := rate.Quote{Code: "JPY", Name: "일본 엔", DealBaseRate: d("9.1234"), RecordedAt: at}
		changed, err := s.SaveBatch(ctx, rate.Batch{Source: "hana", Quotes: []rate.Quote{usd, jpy}}, "r1", at)
		if err != nil || len(changed) != 2 {
			t.Fatalf("first batch: changed %d (%v), want 2", len(changed), err)
		}
		latest, err := s.Latest(ctx)
		if err != nil || len(latest) != 2 {
			t.Fatalf("latest = %+v (%v)", latest, err)
		}
		j, u := latest[0], latest[1]
		if u.CashBuy == nil || !u.CashBuy.Equal(d("1361.42")) || u.CashSell == nil || !u.CashSell.Equal(d("1314.58")) {
			t.Errorf("USD cash = %v/%v, want 1361.42/1314.58", u.CashBuy, u.CashSell)
		}
		if j.CashBuy != nil || j.CashSell != nil {
			t.Errorf("JPY cash = %v/%v, want null (not quoted)", j.CashBuy, j.CashSell)
		}
		obs, err := s.Observations(ctx, "USD")
		if err != nil || len(obs) != 1 || obs[0].CashBuy == nil || !obs[0].CashBuy.Equal(d("1361.42")) || obs[0].CashSell == nil || !obs[0].CashSell.Equal(d("1314.58")) {
			t.Fatalf("USD observations = %+v (%v), want the cash rates", obs, err)
		}
		// Same mid and spread, new cash rate: a change.
		next := usd
		next.RecordedAt, next.CashBuy = at.Add(10*time.Minute), dp("1361.50")
		changed, err = s.SaveBatch(ctx, rate.Batch{Source: "hana", Quotes: []rate.Quote{next}}, "r2", at.Add(10*time.Minute))
		if err != nil || len(changed) != 1 || changed[0].Version != 2 || !changed[0].CashBuy.Equal(d("1361.50")) {
			t.Fatalf("cash move: changed %+v (%v), want USD version 2 at cash_buy 1361.50", changed, err)
		}
		// The same quote again changes nothing.
		next.RecordedAt = at.Add(20 * time.Minute)
		if changed, err = s.SaveBatch(ctx, rate.Batch{Source: "hana", Quotes: []rate.Quote{next}}, "r3", at.Add(20*time.Minute)); err != nil || len(changed) != 0 {
			t.Fatalf("same rates again: changed %+v (%v), want none", changed, err)
		}
	})
}
