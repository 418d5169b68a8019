package rates_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/shopspring/decimal"

	"github.com/ratewire/ratewire/currency/internal/cache"
	"github.com/ratewire/ratewire/currency/internal/rates"
	"github.com/ratewire/ratewire/currency/internal/store"
	"github.com/ratewire/ratewire/ingestor"
	"github.com/ratewire/ratewire/shared/apperr"
	"github.com/ratewire/ratewire/shared/event"
	"github.com/ratewire/ratewire/shared/logx"
	"github.com/ratewire/ratewire/shared/testinfra"
)

var (
	// 11:00 KST on 22 November 2026, and the previous KST day's last quote.
	today     = time.Date(2026, 11, 22, 2, 0, 0, 0, time.UTC)
	yesterday = time.Date(2026, 11, 21, 14, 55, 0, 0, time.UTC) // 23:55 KST on the 21st
	// serviceNow is the services' clock: 12:00 KST on the 22nd.
	serviceNow = func() time.Time { return today.Add(time.Hour) }
	d          = decimal.RequireFromString
)

// seed writes rates as the ingestor does: latest_rates and observations.
func seed(t *testing.T, db *sqlx.DB, code, name, mid string, tts, ttb any, at time.Time, version int64) {
	t.Helper()
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, db.Rebind(`INSERT INTO rate_observations
		(currency_code, source, deal_base_rate, tts, ttb, recorded_at, run_id, created_at) VALUES (?, 'koreaexim', ?, ?, ?, ?, 'seed', ?)`),
		code, mid, tts, ttb, at, at); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, db.Rebind(`INSERT INTO latest_rates
		(currency_code, currency_name, deal_base_rate, tts, ttb, source, recorded_at, updated_at, version)
		VALUES (?, ?, ?, ?, ?, 'koreaexim', ?, ?, ?)
		ON CONFLICT (currency_code) DO UPDATE SET deal_base_rate = excluded.deal_base_rate, tts = excluded.tts,
		ttb = excluded.ttb, recorded_at = excluded.recorded_at, version = excluded.version`),
		code, name, mid, tts, ttb, at, at, version); err != nil {
		t.Fatal(err)
	}
}

func setup(t *testing.T, dbURL string, r testinfra.Redis) (*rates.Service, *sqlx.DB) {
	t.Helper()
	db := testinfra.OpenDB(t, dbURL)
	if err := ingestor.Migrate(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	seed(t, db, "USD", "미국 달러", "1390.00", nil, nil, yesterday, 1)
	seed(t, db, "USD", "미국 달러", "1398.40", "1412.38", "1384.42", today, 2)
	seed(t, db, "JPY", "일본 옌", "9.2514", nil, nil, today, 1)
	return rates.New(store.New(db), cache.New(r.Client, r.Prefix), logx.Discard(), serviceNow), db
}

func TestServiceThroughCache(t *testing.T) {
	testinfra.ForEachRedis(t, func(t *testing.T, r testinfra.Redis) {
		testinfra.ForEachDatabase(t, func(t *testing.T, db testinfra.Database) {
			ctx := context.Background()
			r.Prefix += db.Name + ":" // both databases share this Redis namespace
			svc, sqlDB := setup(t, db.URL, r)

			got, err := svc.Get(ctx, "USD")
			if err != nil {
				t.Fatal(err)
			}
			if !got.DealBaseRate.Equal(d("1398.40")) || !got.TTS.Equal(d("1412.38")) || !got.TTB.Equal(d("1384.42")) ||
				got.Version != 2 || got.DisplayUnit != 1 || got.CurrencyName != "미국 달러" || got.NameEn != "US Dollar" || got.Symbol != "US$" {
				t.Fatalf("USD = %+v", got)
			}
			if got.Change == nil || !got.Change.Equal(d("8.4")) || !got.ChangePercent.Equal(d("0.6043")) {
				t.Errorf("change = %v (%v%%), want 8.4 (0.6043%%) against the previous KST day", got.Change, got.ChangePercent)
			}
			if n, err := r.Client.Exists(ctx, r.Prefix+"rate:USD").Result(); err != nil || n != 1 {
				t.Fatalf("rate:USD not cached after a miss (%d, %v)", n, err)
			}

			// The database moves on without an event: the cache still answers.
			seed(t, sqlDB, "USD", "미국 달러", "1401.00", nil, nil, today.Add(5*time.Minute), 3)
			if got, _ := svc.Get(ctx, "USD"); got.Version != 2 {
				t.Errorf("cached USD version = %d, want 2 (served from cache)", got.Version)
			}
			// The update's event replaces it; an older one never does.
			if err := svc.Apply(ctx, rates.Rate{Rate: event.Rate{CurrencyCode: "USD", CurrencyName: "미국 달러", DealBaseRate: d("1401.00"), Source: "koreaexim", RecordedAt: today.Add(5 * time.Minute), Version: 3}}); err != nil {
				t.Fatal(err)
			}
			if err := svc.Apply(ctx, rates.Rate{Rate: event.Rate{CurrencyCode: "USD", CurrencyName: "미국 달러", DealBaseRate: d("1300"), Source: "koreaexim", RecordedAt: today, Version: 2}}); err != nil {
				t.Fatal(err)
			}
			if got, _ := svc.Get(ctx, "USD"); got.Version != 3 || !got.DealBaseRate.Equal(d("1401")) || got.TTS != nil {
				t.Errorf("after updates USD = %+v, want version 3 at 1401 with no spread", got)
			}

			jpy, err := svc.Get(ctx, "JPY")
			if err != nil || jpy.DisplayUnit != 100 || jpy.Change != nil {
				t.Errorf("JPY = %+v (%v), want display unit 100 and no change (no previous day)", jpy, err)
			}

			tbl, err := svc.Latest(ctx, "USD", []string{"JPY", "KRW", "USD"})
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]string{"JPY": "0.0066034261", "KRW": "0.0007137759", "USD": "1"}
			for code, w := range want {
				if !tbl.Rates[code].Equal(d(w)) {
					t.Errorf("USD-based %s = %s, want %s", code, tbl.Rates[code], w)
				}
			}
			if tbl.Base != "USD" || tbl.Source != "koreaexim" || !tbl.AsOf.Equal(today.Add(5*time.Minute)) {
				t.Errorf("table = %+v", tbl)
			}

			// An invalidation leaves entries at the database's version
			// (USD 3, JPY 1) as they are; one older than the database
			// becomes a tombstone whose floor is the database's version.
			c := cache.New(r.Client, r.Prefix)
			if err := svc.Invalidate(ctx, "USD", "JPY"); err != nil {
				t.Fatal(err)
			}
			for code, v := range map[string]int64{"USD": 3, "JPY": 1} {
				if got, hit, err := c.Get(ctx, code); !hit || err != nil || got.Version != v {
					t.Errorf("rate:%s after invalidating a current entry: hit %v version %d (%v), want version %d kept", code, hit, got.Version, err, v)
				}
			}
			seed(t, sqlDB, "USD", "미국 달러", "1402.00", nil, nil, today.Add(10*time.Minute), 4) // no event yet
			if err := svc.Invalidate(ctx, "USD", "JPY"); err != nil {
				t.Fatal(err)
			}
			if _, hit, err := c.Get(ctx, "USD"); hit || err != nil {
				t.Errorf("rate:USD (3) after invalidation at database version 4: hit %v (%v), want a miss", hit, err)
			}
			if ttl, _ := r.Client.PTTL(ctx, r.Prefix+"rate:USD").Result(); ttl <= 0 || ttl > rates.TombstoneTTL {
				t.Errorf("rate:USD tombstone TTL = %v, want within (0, %v]", ttl, rates.TombstoneTTL)
			}
			if _, hit, _ := c.Get(ctx, "JPY"); !hit {
				t.Error("rate:JPY (current) dropped by an invalidation")
			}
			// The operator's clear drops current entries too.
			if _, err := svc.ClearCache(ctx, "JPY"); err != nil {
				t.Fatal(err)
			}
			if _, hit, err := c.Get(ctx, "JPY"); hit || err != nil {
				t.Errorf("rate:JPY after DELETE /cache: hit %v (%v), want a miss", hit, err)
			}
			if ttl, _ := r.Client.PTTL(ctx, r.Prefix+"rate:JPY").Result(); ttl <= 0 || ttl > rates.TombstoneTTL {
				t.Errorf("rate:JPY tombstone TTL = %v, want within (0, %v]", ttl, rates.TombstoneTTL)
			}
			// The next read fills at the database's version (4), which the
			// tombstone's floor (4) admits.
			if got, err := svc.Get(ctx, "USD"); err != nil || got.Version != 4 {
				t.Errorf("USD after invalidation = %+v (%v), want version 4", got, err)
			}
			if got, hit, _ := c.Get(ctx, "USD"); !hit || got.Version != 4 {
				t.Errorf("rate:USD after refill: hit %v version %d, want version 4 cached", hit, got.Version)
			}

			_, err = svc.Get(ctx, "CHF")
			if apperr.KindOf(err) != apperr.KindNotFound {
				t.Errorf("unknown currency: err = %v, want not found", err)
			}
		})
	})
}

func TestRedisDownAnswersFromDatabase(t *testing.T) {
	r := testinfra.MiniRedis(t)
	svc, _ := setup(t, testinfra.SQLiteURL(t), r)
	r.Mini.Close()
	got, err := svc.Get(context.Background(), "USD")
	if err != nil || got.Version != 2 {
		t.Fatalf("with Redis down: %+v, %v; want version 2 from the database", got, err)
	}
	if _, err := svc.Latest(context.Background(), "KRW", nil); err != nil {
		t.Fatalf("latest with Redis down: %v", err)
	}
}

func TestParseCode(t *testing.T) {
	for in, want := range map[string]string{"usd": "USD", " JPY ": "JPY"} {
		if got, err := rates.ParseCode(in); err != nil || got != want {
			t.Errorf("ParseCode(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "US", "USDD", "U$D", "한국어"} {
		_, err := rates.ParseCode(in)
		var ae *apperr.Error
		if !errors.As(err, &ae) || ae.Code != "INVALID_CURRENCY_CODE" {
			t.Errorf("ParseCode(%q) error = %v, want INVALID_CURRENCY_CODE", in, err)
		}
	}
}

func FuzzParseCode(f *testing.F) {
	for _, s := range []string{"USD", "usd", "", "U S", "ÅÅÅ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		code, err := rates.ParseCode(s)
		if err == nil && (len(code) != 3 || code[0] < 'A' || code[0] > 'Z') {
			t.Fatalf("ParseCode(%q) accepted %q", s, code)
		}
	})
}

// backfillYesterdaysJPY checks that JPY has no change yet (no previous
// day; the service has now read that), then stores a close for yesterday
// as a backfill does: an earlier day, no new version.
func backfillYesterdaysJPY(t *testing.T, svc *rates.Service, db *sqlx.DB) {
	t.Helper()
	ctx := context.Background()
	if jpy, err := svc.Get(ctx, "JPY"); err != nil || jpy.Change != nil {
		t.Fatalf("JPY before the backfill = %+v (%v), want no change", jpy, err)
	}
	if _, err := db.ExecContext(ctx, db.Rebind(`INSERT INTO rate_observations
		(currency_code, source, deal_base_rate, recorded_at, run_id, created_at) VALUES ('JPY', 'simulated', '9.2', ?, 'backfill', ?)`),
		yesterday, yesterday); err != nil {
		t.Fatal(err)
	}
}

// TestRefreshAllRecomputesChange: a backfill stores an earlier day without
// a new version; the refresh after the run must still show the change.
func TestRefreshAllRecomputesChange(t *testing.T) {
	testinfra.ForEachRedis(t, func(t *testing.T, r testinfra.Redis) {
		ctx := context.Background()
		svc, db := setup(t, testinfra.SQLiteURL(t), r)
		backfillYesterdaysJPY(t, svc, db)
		if err := svc.RefreshAll(ctx); err != nil {
			t.Fatal(err)
		}
		jpy, err := svc.Get(ctx, "JPY")
		if err != nil || jpy.Version != 1 || jpy.Change == nil || !jpy.Change.Equal(d("0.0514")) {
			t.Fatalf("JPY after refresh = %+v (%v), want version 1 with change 0.0514", jpy, err)
		}
	})
}

// TestAllLatestJSONRecomputesChange: the live view is reconciled after a
// run with AllLatestJSON, which may run before the consumer group's
// RefreshAll; it must not complete rates with the previous closes read
// before a backfill (the stream and the view kept a stale change until the
// next version while GET had the new one).
func TestAllLatestJSONRecomputesChange(t *testing.T) {
	testinfra.ForEachRedis(t, func(t *testing.T, r testinfra.Redis) {
		ctx := context.Background()
		svc, db := setup(t, testinfra.SQLiteURL(t), r)
		backfillYesterdaysJPY(t, svc, db)
		all, js, err := svc.AllLatestJSON(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for i, rt := range all {
			if rt.CurrencyCode != "JPY" {
				continue
			}
			if rt.Change == nil || !rt.Change.Equal(d("0.0514")) || !strings.Contains(string(js[i]), `"change":"0.0514"`) {
				t.Fatalf("JPY after the backfill = change %v, JSON %s; want change 0.0514", rt.Change, js[i])
			}
			return
		}
		t.Fatal("JPY missing from AllLatestJSON")
	})
}

// ApplyMany leaves the cache exactly as Apply of each rate in turn does:
// the same rates go through both, on two key namespaces over one database,
// and every entry ends byte for byte equal. The sequence has an update
// older than the cached version, versions out of order, two updates of
// equal version, a currency not cached yet, and a tombstone's floor.
func TestApplyManyMatchesApplyingOneByOne(t *testing.T) {
	testinfra.ForEachRedis(t, func(t *testing.T, r testinfra.Redis) {
		ctx := context.Background()
		db := testinfra.SQLiteURL(t)
		one, _ := setup(t, db, r)
		many := r
		many.Prefix += "many:"
		manySvc := rates.New(store.New(testinfra.OpenDB(t, db)), cache.New(r.Client, many.Prefix), logx.Discard(), serviceNow)
		rate := func(code, mid string, v int64) rates.Rate {
			return rates.Rate{Rate: event.Rate{CurrencyCode: code, CurrencyName: code, DealBaseRate: d(mid), Source: "koreaexim", RecordedAt: today.Add(time.Duration(v) * time.Minute), Version: v}}
		}
		seq := []rates.Rate{
			rate("USD", "1300", 1), // older than the cached version 2
			rate("USD", "1401", 4),
			rate("USD", "1399", 3), // out of order: older than 4
			rate("JPY", "9.30", 3),
			rate("JPY", "9.99", 3), // equal version: the first one stays
			rate("EUR", "1620.5", 1),
			rate("GBP", "1850", 1), // below the tombstone's floor
		}
		for _, svc := range []*rates.Service{one, manySvc} {
			if _, err := svc.Get(ctx, "USD"); err != nil { // caches version 2
				t.Fatal(err)
			}
		}
		for _, c := range []*cache.Cache{cache.New(r.Client, r.Prefix), cache.New(r.Client, many.Prefix)} {
			if err := c.Invalidate(ctx, map[string]int64{"GBP": 2}); err != nil {
				t.Fatal(err)
			}
		}
		for _, x := range seq {
			if err := one.Apply(ctx, x); err != nil {
				t.Fatal(err)
			}
		}
		if err := manySvc.ApplyMany(ctx, seq); err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"USD": "1401", "JPY": "9.3", "EUR": "1620.5"}
		for _, code := range []string{"USD", "JPY", "EUR", "GBP"} {
			a, errA := r.Client.Get(ctx, r.Prefix+"rate:"+code).Result()
			b, errB := r.Client.Get(ctx, many.Prefix+"rate:"+code).Result()
			if errA != nil || errB != nil || a != b {
				t.Errorf("rate:%s: one by one %q (%v), ApplyMany %q (%v); want equal", code, a, errA, b, errB)
			}
			got, hit, err := cache.New(r.Client, many.Prefix).Get(ctx, code)
			switch w, ok := want[code]; {
			case err != nil:
				t.Errorf("rate:%s: %v", code, err)
			case !ok && hit:
				t.Errorf("rate:%s = %+v, want the tombstone kept (older than its floor)", code, got)
			case ok && (!hit || !got.DealBaseRate.Equal(d(w))):
				t.Errorf("rate:%s = %+v (hit %v), want %s", code, got, hit, w)
			}
		}
	})
}

// TestRateDateAndCarriedOver: a rate says which bank day it belongs to,
// and whether that day is before today (KST) on the service's clock.
func TestRateDateAndCarriedOver(t *testing.T) {
	r := testinfra.MiniRedis(t)
	db := testinfra.OpenDB(t, testinfra.SQLiteURL(t))
	ctx := context.Background()
	if err := ingestor.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	friday := time.Date(2026, 11, 27, 2, 0, 0, 0, time.UTC) // 11:00 KST
	seed(t, db, "USD", "미국 달러", "1398.40", "1412.38", "1384.42", friday, 1)
	if _, err := db.ExecContext(ctx, `UPDATE latest_rates SET rate_date = '2026-11-27'`); err != nil {
		t.Fatal(err)
	}
	seed(t, db, "JPY", "일본 옌", "9.2514", nil, nil, friday, 1) // no rate_date: the KST day of recorded_at
	for _, tt := range []struct {
		name string
		now  time.Time
		want bool
	}{
		{"Friday 23:59 KST", time.Date(2026, 11, 27, 14, 59, 0, 0, time.UTC), false},
		{"Saturday 00:00 KST", time.Date(2026, 11, 27, 15, 0, 0, 0, time.UTC), true},
		{"Monday 09:00 KST", time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC), true},
	} {
		r.Prefix = tt.name + ":" // a cache of its own
		svc := rates.New(store.New(db), cache.New(r.Client, r.Prefix), logx.Discard(), func() time.Time { return tt.now })
		for _, code := range []string{"USD", "JPY"} {
			got, err := svc.Get(ctx, code)
			if err != nil {
				t.Fatal(err)
			}
			if got.RateDate != "2026-11-27" || got.CarriedOver != tt.want {
				t.Errorf("%s: %s rate_date %q carried_over %v, want 2026-11-27 and %v", tt.name, code, got.RateDate, got.CarriedOver, tt.want)
			}
		}
	}
}
