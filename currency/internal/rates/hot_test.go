package rates_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ratewire/ratewire/currency/internal/live"
	"github.com/ratewire/ratewire/currency/internal/rates"
	"github.com/ratewire/ratewire/shared/apperr"
	"github.com/ratewire/ratewire/shared/event"
	"github.com/ratewire/ratewire/shared/httpx"
	"github.com/ratewire/ratewire/shared/testinfra"
)

// hotRead is one read of current rates as the HTTP handlers make it.
type hotRead struct {
	name string
	do   func(ctx context.Context, s *rates.Service) ([]byte, string, error)
}

func hotReads() []hotRead {
	conv := func(from, to, amount, rt string) func(context.Context, *rates.Service) ([]byte, string, error) {
		return func(ctx context.Context, s *rates.Service) ([]byte, string, error) {
			c, err := s.ConvertHot(ctx, from, to, d(amount), rates.ConvertOptions{RateType: rt})
			if err != nil {
				return nil, "", err
			}
			b, err := json.Marshal(c)
			return b, httpx.ETagOf(b), err
		}
	}
	latest := func(base string, symbols ...string) func(context.Context, *rates.Service) ([]byte, string, error) {
		return func(ctx context.Context, s *rates.Service) ([]byte, string, error) {
			return s.LatestJSON(ctx, base, symbols)
		}
	}
	many := func(codes ...string) func(context.Context, *rates.Service) ([]byte, string, error) {
		return func(ctx context.Context, s *rates.Service) ([]byte, string, error) { return s.ManyJSON(ctx, codes) }
	}
	one := func(code string) func(context.Context, *rates.Service) ([]byte, string, error) {
		return func(ctx context.Context, s *rates.Service) ([]byte, string, error) { return s.RateJSON(ctx, code) }
	}
	return []hotRead{
		{"/USD", one("USD")}, {"/JPY", one("JPY")}, {"/CHF", one("CHF")},
		{"/latest", latest("KRW")}, {"/latest?base=USD", latest("USD")},
		{"/latest?base=JPY&symbols=USD,KRW", latest("JPY", "USD", "KRW")},
		{"/latest?symbols=CHF", latest("KRW", "CHF")}, {"/latest?base=CHF", latest("CHF")},
		{"/multiple?symbols=JPY,USD", many("JPY", "USD")}, {"/multiple?symbols=USD,KRW", many("USD", "KRW")},
		{"/multiple?symbols=USD,CHF", many("USD", "CHF")},
		{"/convert USD->KRW", conv("USD", "KRW", "100", "")}, {"/convert KRW->USD", conv("KRW", "USD", "100000", "")},
		{"/convert USD->JPY mid", conv("USD", "JPY", "100", "mid")}, {"/convert KRW->JPY bank", conv("KRW", "JPY", "1", "")},
		{"/convert KRW->CHF", conv("KRW", "CHF", "1", "mid")},
		{"/convert USD->KRW cash 90 %", func(ctx context.Context, s *rates.Service) ([]byte, string, error) {
			c, err := s.ConvertHot(ctx, "USD", "KRW", d("100"), rates.ConvertOptions{Channel: rates.ChannelCash, Preferential: d("90")})
			if err != nil {
				return nil, "", err
			}
			b, err := json.Marshal(c)
			return b, httpx.ETagOf(b), err
		}},
	}
}

// answer is a read's outcome, compared between the tiers.
func answer(b []byte, etag string, err error) string {
	if err != nil {
		e, _ := apperr.As(err)
		return fmt.Sprintf("error %v %s %q", e.Kind, e.Code, e.Message)
	}
	if etag == "" {
		etag = httpx.ETagOf(b) // what the handler computes for the cache path
	}
	return etag + " " + string(b)
}

// currentView is a view seeded from the database and following, as the
// follower leaves it.
func currentView(t *testing.T, s *rates.Service) *live.View {
	t.Helper()
	rs, js, err := s.AllLatestJSON(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	v := live.New(live.Options{})
	cs := make([]live.Change, len(rs))
	for i, r := range rs {
		cs[i] = live.Change{Code: r.CurrencyCode, Version: r.Version, JSON: js[i]}
	}
	v.Seed(cs)
	v.MarkReady()
	v.MarkCurrent()
	return v
}

// TestHotTierAnswersAsTheCachePath: every read answered from the view is
// the answer of the cache path, byte for byte, errors included, with the
// ETag the handler computed per request before.
func TestHotTierAnswersAsTheCachePath(t *testing.T) {
	ctx := context.Background()
	cold, _ := setup(t, testinfra.SQLiteURL(t), testinfra.MiniRedis(t))
	hot, _ := setup(t, testinfra.SQLiteURL(t), testinfra.MiniRedis(t))
	hot.UseView(currentView(t, hot))
	for _, r := range hotReads() {
		want := answer(r.do(ctx, cold))
		got := answer(r.do(ctx, hot))
		if got != want {
			t.Errorf("%s from the view:\n got %s\nwant %s (the cache path)", r.name, got, want)
		}
		if again := answer(r.do(ctx, hot)); again != got {
			t.Errorf("%s: a second read of the same generation differs:\n%s\n%s", r.name, again, got)
		}
	}
}

// usd is a completed-looking USD rate of a version; its mid rises with
// the version, so every answer tells which version it was built from.
func usd(version int64) rates.Rate {
	return rates.Rate{Rate: event.Rate{CurrencyCode: "USD", CurrencyName: "미국 달러", DealBaseRate: d(fmt.Sprintf("%d", 1400+version)),
		Source: "koreaexim", RecordedAt: today.Add(time.Duration(version) * time.Minute), UpdatedAt: today, Version: version}}
}

// midOf reads the USD mid rate out of a /{code} or /latest answer.
func midOf(t *testing.T, b []byte) int64 {
	t.Helper()
	var v struct {
		Deal  *json.Number            `json:"deal_base_rate"`
		Rates map[string]*json.Number `json:"rates"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	n := v.Deal
	if n == nil {
		n = v.Rates["USD"]
	}
	if n == nil {
		t.Fatalf("no USD rate in %s", b)
	}
	var s string
	_ = json.Unmarshal([]byte(*n), &s)
	if s == "" {
		s = n.String()
	}
	return d(s).IntPart()
}

// TestHotTierCoherent is the version guard of the cache (see
// TestFillRaceNeverCachesOlderVersion) on the hot tier: a replica never
// answers older than an update it applied, whichever of its consumer
// (ApplyMany, which writes the cache) and its follower (the view) gets the
// update first; a stale reconcile or a late follower cannot take it back;
// and readers racing a stream of updates never see a version go back.
func TestHotTierCoherent(t *testing.T) {
	ctx := context.Background()
	svc, _ := setup(t, testinfra.SQLiteURL(t), testinfra.MiniRedis(t))
	view := currentView(t, svc)
	svc.UseView(view)
	read := func() (int64, int64, string) {
		b, etag, err := svc.RateJSON(ctx, "USD")
		if err != nil {
			t.Fatal(err)
		}
		lb, _, err := svc.LatestJSON(ctx, "KRW", nil)
		if err != nil {
			t.Fatal(err)
		}
		return midOf(t, b) - 1400, midOf(t, lb) - 1400, etag
	}
	encode := func(r rates.Rate) live.Change {
		b, err := svc.CompleteJSON(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		return live.Change{Code: "USD", Version: r.Version, JSON: b}
	}

	// The consumer applies version 3 before the follower: the view has it.
	if err := svc.ApplyMany(ctx, []rates.Rate{usd(3)}); err != nil {
		t.Fatal(err)
	}
	if one, latest, _ := read(); one != 3 || latest != 3 {
		t.Fatalf("after the consumer applied version 3: /USD at %d, /latest at %d; want 3", one, latest)
	}
	// The follower is ahead of the consumer with version 4: served.
	view.Apply(encode(usd(4)))
	_, _, etag4 := read()
	if one, latest, _ := read(); one != 4 || latest != 4 {
		t.Fatalf("after the view applied version 4: /USD at %d, /latest at %d; want 4", one, latest)
	}
	// Late and stale writers change nothing: the follower's copy of 3, a
	// reconcile that read 3, a seed of 3, the consumer's 3 again.
	view.Apply(encode(usd(3)))
	view.Refresh([]live.Change{encode(usd(3))})
	view.Seed([]live.Change{encode(usd(3))})
	if err := svc.ApplyMany(ctx, []rates.Rate{usd(3)}); err != nil {
		t.Fatal(err)
	}
	if one, latest, etag := read(); one != 4 || latest != 4 || etag != etag4 {
		t.Fatalf("after stale writes: /USD at %d (ETag %s), /latest at %d; want 4 (ETag %s)", one, etag, latest, etag4)
	}

	// Readers racing the updates: per reader, versions never go back.
	var wg sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan error, 8)
	for range 4 {
		wg.Go(func() {
			lastOne, lastLatest := int64(0), int64(0)
			for {
				select {
				case <-stop:
					return
				default:
				}
				b, _, err := svc.RateJSON(ctx, "USD")
				if err != nil {
					errs <- err
					return
				}
				lb, _, err := svc.LatestJSON(ctx, "KRW", nil)
				if err != nil {
					errs <- err
					return
				}
				one, latest := midOf(t, b)-1400, midOf(t, lb)-1400
				if one < lastOne || latest < lastLatest || latest < one {
					errs <- fmt.Errorf("went back: /USD %d after %d, /latest %d after %d", one, lastOne, latest, lastLatest)
					return
				}
				lastOne, lastLatest = one, latest
			}
		})
	}
	for v := int64(5); v <= 60; v++ {
		if v%2 == 0 {
			if err := svc.ApplyMany(ctx, []rates.Rate{usd(v)}); err != nil {
				t.Fatal(err)
			}
		} else {
			view.Apply(encode(usd(v)))
		}
		if one, latest, _ := read(); one != v || latest != v {
			t.Fatalf("after version %d was applied: /USD at %d, /latest at %d", v, one, latest)
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	// A view that is not current (a replica starting) is not read: the
	// cache path answers, with what the consumer wrote.
	cold := live.New(live.Options{})
	cold.Apply(encode(usd(99)))
	svc.UseView(cold)
	if one, _, etag := read(); one != 60 || etag != "" {
		t.Errorf("with a view not current: /USD at %d (ETag %q), want the cache's 60 and no prepared ETag", one, etag)
	}
}

// TestHotTierTakesOverWithoutGoingBack: a replica starts answering from
// its view when the view is current, and must not answer older, or not
// found, for what the cache path answered just before: a rate read from
// the database whose event the follower has not read yet (the stack's
// first run), or one another replica's consumer wrote to the shared cache.
func TestHotTierTakesOverWithoutGoingBack(t *testing.T) {
	ctx := context.Background()
	r := testinfra.MiniRedis(t)
	svc, _ := setup(t, testinfra.SQLiteURL(t), r)
	other, _ := setup(t, testinfra.SQLiteURL(t), r) // another replica, sharing the cache
	view := live.New(live.Options{})
	view.MarkReady() // seeded from a database that held nothing yet
	svc.UseView(view)

	// /USD misses the cache: the database answers version 2.
	b, _, err := svc.RateJSON(ctx, "USD")
	if err != nil || midOf(t, b) != 1398 {
		t.Fatalf("USD before the view is current = %s, %v; want the database's 1398.40", b, err)
	}
	// Another replica's consumer writes version 7 of USD; /multiple and
	// /latest read it from the cache, JPY from the database.
	if err := other.ApplyMany(ctx, []rates.Rate{usd(7)}); err != nil {
		t.Fatal(err)
	}
	if b, _, err := svc.ManyJSON(ctx, []string{"USD", "JPY"}); err != nil {
		t.Fatal(err)
	} else if !json.Valid(b) {
		t.Fatalf("/multiple = %s", b)
	}
	if b, _, err := svc.LatestJSON(ctx, "KRW", nil); err != nil || midOf(t, b) != 1407 {
		t.Fatalf("/latest before the view is current = %s, %v; want version 7", b, err)
	}

	view.MarkCurrent()
	for _, code := range []string{"USD", "JPY"} {
		b, etag, err := svc.RateJSON(ctx, code)
		if err != nil || etag == "" {
			t.Fatalf("/%s from the view = %s (ETag %q), %v; want what the cache path answered", code, b, etag, err)
		}
		if code == "USD" && midOf(t, b) != 1407 {
			t.Errorf("/USD from the view at %d, want version 7 (1407) as answered before", midOf(t, b))
		}
	}
	if b, _, err := svc.LatestJSON(ctx, "KRW", nil); err != nil || midOf(t, b) != 1407 {
		t.Errorf("/latest from the view = %s, %v; want version 7", b, err)
	}
}

// TestHotTierAsksTheCacheForWhatTheViewLacks: a current view that lacks a
// currency the database holds (a backfill stores rates without per-rate
// events; the view learns them at the run's end) does not answer not
// found: the read takes the cache path, which answers from the database
// and gives the view the rate; a currency nobody holds is still not found.
func TestHotTierAsksTheCacheForWhatTheViewLacks(t *testing.T) {
	ctx := context.Background()
	svc, _ := setup(t, testinfra.SQLiteURL(t), testinfra.MiniRedis(t))
	cold, _ := setup(t, testinfra.SQLiteURL(t), testinfra.MiniRedis(t))
	// The view holds USD only; the database USD and JPY.
	view := live.New(live.Options{})
	rs, js, err := svc.AllLatestJSON(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range rs {
		if r.CurrencyCode == "USD" {
			view.Seed([]live.Change{{Code: "USD", Version: r.Version, JSON: js[i]}})
		}
	}
	view.MarkReady()
	view.MarkCurrent()
	svc.UseView(view)

	for _, r := range []hotRead{
		{"/JPY", func(ctx context.Context, s *rates.Service) ([]byte, string, error) { return s.RateJSON(ctx, "JPY") }},
		{"/multiple?symbols=USD,JPY", func(ctx context.Context, s *rates.Service) ([]byte, string, error) {
			return s.ManyJSON(ctx, []string{"USD", "JPY"})
		}},
		{"/latest?base=JPY", func(ctx context.Context, s *rates.Service) ([]byte, string, error) {
			return s.LatestJSON(ctx, "JPY", nil)
		}},
		{"/convert JPY->USD", func(ctx context.Context, s *rates.Service) ([]byte, string, error) {
			c, err := s.ConvertHot(ctx, "JPY", "USD", d("1000"), rates.ConvertOptions{})
			if err != nil {
				return nil, "", err
			}
			b, err := json.Marshal(c)
			return b, httpx.ETagOf(b), err
		}},
		{"/XYZ", func(ctx context.Context, s *rates.Service) ([]byte, string, error) { return s.RateJSON(ctx, "XYZ") }},
	} {
		if got, want := answer(r.do(ctx, svc)), answer(r.do(ctx, cold)); got != want {
			t.Errorf("%s with JPY missing from the view:\n got %s\nwant %s (the cache path)", r.name, got, want)
		}
	}
	// The read gave the view JPY: it now answers from there.
	if _, etag, err := svc.RateJSON(ctx, "JPY"); err != nil || etag == "" {
		t.Errorf("/JPY after the cache path answered it: ETag %q, %v; want it from the view", etag, err)
	}
}
