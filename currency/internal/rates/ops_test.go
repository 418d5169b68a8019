package rates_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/ratewire/ratewire/currency/internal/cache"
	"github.com/ratewire/ratewire/currency/internal/rates"
	"github.com/ratewire/ratewire/shared/apperr"
	"github.com/ratewire/ratewire/shared/event"
	"github.com/ratewire/ratewire/shared/testinfra"
)

// TestFillRaceNeverCachesOlderVersion drives DESIGN.md §7's race step by
// step: a reader misses, reads version 2 from the database and is held
// (by the fill hook) before its cache write; meanwhile version 3 commits
// and its events land. Whatever order the update and its invalidation
// take, the held fill must not leave version 2 in the cache.
func TestFillRaceNeverCachesOlderVersion(t *testing.T) {
	steps := map[string][]string{
		"update then invalidation": {"commit", "apply", "invalidate"},
		"invalidation then update": {"commit", "invalidate", "apply"},
		"invalidation only":        {"commit", "invalidate"},
	}
	testinfra.ForEachRedis(t, func(t *testing.T, r testinfra.Redis) {
		for name, order := range steps {
			t.Run(name, func(t *testing.T) {
				ctx := context.Background()
				r := r
				r.Prefix += t.Name() + ":"
				svc, db := setup(t, testinfra.SQLiteURL(t), r)
				c := cache.New(r.Client, r.Prefix)

				held, release := make(chan struct{}), make(chan struct{})
				first := true
				rates.SetAfterFillRead(svc, func(code string) {
					if code == "USD" && first {
						first = false
						close(held)
						<-release
					}
				})
				type result struct {
					r   rates.Rate
					err error
				}
				done := make(chan result, 1)
				go func() {
					got, err := svc.Get(ctx, "USD")
					done <- result{got, err}
				}()
				<-held // the reader has read version 2 and not yet written it

				v3 := rates.Rate{Rate: event.Rate{CurrencyCode: "USD", CurrencyName: "미국 달러", DealBaseRate: d("1405"), Source: "koreaexim", RecordedAt: today.Add(5 * time.Minute), Version: 3}}
				for _, step := range order {
					var err error
					switch step {
					case "commit":
						seed(t, db, "USD", "미국 달러", "1405", nil, nil, v3.RecordedAt, 3)
					case "apply":
						err = svc.Apply(ctx, v3)
					case "invalidate":
						err = svc.Invalidate(ctx, "USD")
					}
					if err != nil {
						t.Fatalf("%s: %v", step, err)
					}
				}
				close(release)
				res := <-done
				if res.err != nil || res.r.Version != 2 {
					t.Fatalf("held reader got %+v (%v), want version 2 (what it read)", res.r, res.err)
				}
				if got, hit, err := c.Get(ctx, "USD"); err != nil || (hit && got.Version != 3) {
					t.Fatalf("after the race rate:USD holds version %d (hit %v, %v); want version 3 or a miss, never 2", got.Version, hit, err)
				}
				if got, err := svc.Get(ctx, "USD"); err != nil || got.Version != 3 {
					t.Fatalf("next read = version %d (%v), want 3", got.Version, err)
				}
				if got, hit, _ := c.Get(ctx, "USD"); !hit || got.Version != 3 {
					t.Errorf("rate:USD after the next read: hit %v version %d, want 3 cached", hit, got.Version)
				}
			})
		}
	})
}

func TestConvert(t *testing.T) {
	svc, _ := setup(t, testinfra.SQLiteURL(t), testinfra.MiniRedis(t))
	ctx := context.Background()
	for _, tc := range []struct {
		from, to, amount, rateType string
		result, unrounded          string
		legs                       []string // currency:rate_type
		code                       string   // error code, when an error is wanted
	}{
		{"USD", "KRW", "100", "", "138442", "138442", []string{"USD:ttb"}, ""},
		{"KRW", "USD", "100000", "", "70.8", "70.802475254535", []string{"USD:tts"}, ""},
		{"USD", "KRW", "100", "mid", "139840", "139840", []string{"USD:mid"}, ""},
		{"USD", "KRW", "100", "tts", "141238", "141238", []string{"USD:tts"}, ""},
		{"KRW", "JPY", "10000", "mid", "1081", "1080.917482759366", []string{"JPY:mid"}, ""},
		{"USD", "JPY", "100", "mid", "15116", "15115.550078906976", []string{"USD:mid", "JPY:mid"}, ""},
		{"USD", "USD", "12.345", "", "12.35", "12.345", nil, ""},
		{"KRW", "JPY", "10000", "", "", "", nil, "RATE_UNAVAILABLE"}, // JPY's source quotes no spread
		{"USD", "JPY", "100", "ttb", "", "", nil, "RATE_UNAVAILABLE"},
		{"KRW", "CHF", "1", "", "", "", nil, apperr.CodeNotFound},
	} {
		conv, err := svc.Convert(ctx, tc.from, tc.to, d(tc.amount), rates.ConvertOptions{RateType: tc.rateType})
		if tc.code != "" {
			var ae *apperr.Error
			if !errors.As(err, &ae) || ae.Code != tc.code {
				t.Errorf("%s %s->%s %s: err = %v, want %s", tc.amount, tc.from, tc.to, tc.rateType, err, tc.code)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s %s->%s %s: %v", tc.amount, tc.from, tc.to, tc.rateType, err)
			continue
		}
		var legs []string
		for _, l := range conv.Legs {
			legs = append(legs, l.Currency+":"+l.RateType)
		}
		if !conv.Result.Equal(d(tc.result)) || !conv.ResultUnrounded.Equal(d(tc.unrounded)) || !slices.Equal(legs, tc.legs) {
			t.Errorf("%s %s->%s %q = %s (unrounded %s, legs %v), want %s (%s, %v)", tc.amount, tc.from, tc.to, tc.rateType,
				conv.Result, conv.ResultUnrounded, legs, tc.result, tc.unrounded, tc.legs)
		}
	}
}

func TestSearchAndCurrencies(t *testing.T) {
	svc, _ := setup(t, testinfra.SQLiteURL(t), testinfra.MiniRedis(t))
	ctx := context.Background()
	for _, in := range []string{"일본", "Japan", "JP", "jpn", "  japan "} {
		res, err := svc.Search(ctx, in)
		if err != nil || res.CountryCode != "JP" || res.CurrencyCode != "JPY" || res.Rate == nil || res.Rate.Version != 1 || res.DisplayUnit != 100 {
			t.Errorf("Search(%q) = %+v (%v), want JP, JPY with its rate", in, res, err)
		}
	}
	for in, cur := range map[string]string{"미국": "USD", "대한민국": "KRW", "Switzerland": "CHF", "DEU": "EUR", "홍콩": "HKD"} {
		res, err := svc.Search(ctx, in)
		if err != nil || res.CurrencyCode != cur {
			t.Errorf("Search(%q) = %+v (%v), want currency %s", in, res, err, cur)
		}
		if (cur == "USD") != (res.Rate != nil) {
			t.Errorf("Search(%q) rate = %v; only USD has a stored rate here", in, res.Rate)
		}
	}
	if _, err := svc.Search(ctx, "Narnia"); apperr.KindOf(err) != apperr.KindInvalid {
		t.Errorf("Search(Narnia) err = %v, want INVALID_COUNTRY", err)
	}
	if n := svc.Catalog().Countries(); n < 190 {
		t.Errorf("catalog knows %d countries with a currency, want about 200+", n)
	}

	list, err := svc.Currencies(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var codes []string
	for _, c := range list.Currencies {
		codes = append(codes, c.Code)
		switch c.Code {
		case "USD":
			if c.NameKo != "미국 달러" || c.NameEn != "US Dollar" || c.Symbol != "US$" || c.NarrowSymbol != "$" ||
				!slices.Contains(c.Countries, "US") || !slices.Contains(c.Countries, "EC") || c.MinorUnits != 2 {
				t.Errorf("USD = %+v", c)
			}
		case "JPY":
			if c.DisplayUnit != 100 || c.Symbol != "JP¥" || c.MinorUnits != 0 || !slices.Equal(c.Countries, []string{"JP"}) {
				t.Errorf("JPY = %+v", c)
			}
		}
	}
	if !slices.Equal(codes, []string{"JPY", "KRW", "USD"}) || list.Count != 3 {
		t.Errorf("currencies = %v (count %d), want JPY KRW USD", codes, list.Count)
	}

	cl, err := svc.ClearCache(ctx, "")
	if err != nil || cl.Count < 150 || !slices.Contains(cl.Cleared, "USD") {
		t.Errorf("ClearCache(all) = %d codes (%v), want every catalog code", cl.Count, err)
	}
}
