package series_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"testing"
	"time"

	"github.com/ratewire/ratewire/history/internal/series"
	"github.com/ratewire/ratewire/shared/apperr"
	"github.com/ratewire/ratewire/shared/kst"
)

// fakeStore serves in-memory observations and days.
type fakeStore struct {
	obs  map[string][]series.Observation
	days map[string][]series.Day
	// quotedAs is what QuotedAs answers: code -> the code it was quoted as.
	quotedAs map[string]string
	// onRead, when set, runs inside every read (to interleave an update).
	onRead func()
}

func (f *fakeStore) QuotedAs(_ context.Context, codes []string) (map[string]string, error) {
	out := map[string]string{}
	for _, c := range codes {
		if q, ok := f.quotedAs[c]; ok {
			out[c] = q
		}
	}
	return out, nil
}

func (f *fakeStore) Observations(_ context.Context, code string, from, to time.Time) ([]series.Observation, error) {
	rows := f.obs[code] // the read's snapshot
	if f.onRead != nil {
		f.onRead()
	}
	var out []series.Observation
	for _, o := range rows {
		if !o.At.Before(from) && o.At.Before(to) {
			out = append(out, o)
		}
	}
	return out, nil
}

func (f *fakeStore) Days(_ context.Context, code, from, to string) ([]series.Day, error) {
	rows := f.days[code] // the read's snapshot
	if f.onRead != nil {
		f.onRead()
	}
	var out []series.Day
	for _, d := range rows {
		if d.Day >= from && d.Day <= to {
			out = append(out, d)
		}
	}
	return out, nil
}

// decode reads an encoded answer into its type, as a client would.
func decode[T any](e series.Encoded, err error) (T, error) {
	var v T
	if err != nil {
		return v, err
	}
	if err := json.Unmarshal(e.JSON, &v); err != nil {
		return v, fmt.Errorf("decode answer: %w", err)
	}
	return v, nil
}

func approx(t *testing.T, what string, got series.Num, want float64) {
	t.Helper()
	if math.Abs(float64(got)-want) > 1e-9*math.Max(1, math.Abs(want)) {
		t.Errorf("%s = %v, want %v", what, float64(got), want)
	}
}

// dayRows makes closes into daily rows ending on 2026-11-22 (KST), with
// open = previous close, high/low = close ± 1.
func dayRows(closes ...float64) []series.Day {
	return dayRowsTo(time.Date(2026, 11, 22, 0, 0, 0, 0, kst.Zone), closes...)
}

// dayRowsTo is dayRows ending on the KST day of end.
func dayRowsTo(end time.Time, closes ...float64) []series.Day {
	end = end.In(kst.Zone)
	out := make([]series.Day, len(closes))
	for i, c := range closes {
		open := c
		if i > 0 {
			open = closes[i-1]
		}
		out[i] = series.Day{Day: end.AddDate(0, 0, i-len(closes)+1).Format(time.DateOnly), Open: open, High: c + 1, Low: c - 1, Close: c, Samples: 288}
	}
	return out
}

func TestIntradayBucketsAndCrossRates(t *testing.T) {
	t0 := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC) // 09:00 KST
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	st := &fakeStore{obs: map[string][]series.Observation{
		// USD every 5 minutes.
		"USD": {{at(0), 1400}, {at(5), 1410}, {at(10), 1390}, {at(15), 1405}, {at(20), 1420}},
		// JPY (per 1 yen) only at 0 and 15: other USD points align to the
		// JPY rate in force (recorded at or before them).
		"JPY": {{at(0), 9.0}, {at(15), 10.0}},
	}}
	svc := series.New(st, nil, nil, func() time.Time { return at(30) })
	w, err := series.ParseWindow("", "15m", t0.Format(time.RFC3339), at(30).Format(time.RFC3339), at(30))
	if err != nil {
		t.Fatal(err)
	}
	h, err := decode[series.History](svc.History(context.Background(), "USD", "KRW", w))
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Results) != 2 {
		t.Fatalf("KRW buckets = %+v, want 2", h.Results)
	}
	p := h.Results[0]
	approx(t, "open", p.Open, 1400)
	approx(t, "high", p.High, 1410)
	approx(t, "low", p.Low, 1390)
	approx(t, "close", p.Rate, 1390)
	approx(t, "change of first bucket (vs its open)", p.Change, -10)
	approx(t, "change of second bucket", h.Results[1].Change, 30)
	approx(t, "change_percent of second bucket", h.Results[1].ChangePercent, 100*30.0/1390)
	if p.Samples != 3 || !p.Date.Equal(t0) {
		t.Errorf("first bucket %v with %d samples, want %v with 3", p.Date, p.Samples, t0)
	}

	// USD in JPY: 1400/9, 1410/9, 1390/9 | 1405/10, 1420/10.
	h, err = decode[series.History](svc.History(context.Background(), "USD", "JPY", w))
	if err != nil {
		t.Fatal(err)
	}
	approx(t, "cross open", h.Results[0].Open, 1400.0/9)
	approx(t, "cross high", h.Results[0].High, 1410.0/9)
	approx(t, "cross close", h.Results[1].Rate, 142)
	// KRW in USD is the inverse: high is 1/lowest.
	h, err = decode[series.History](svc.History(context.Background(), "KRW", "USD", w))
	if err != nil {
		t.Fatal(err)
	}
	approx(t, "inverse high", h.Results[0].High, 1.0/1390)
	approx(t, "inverse close", h.Results[1].Rate, 1.0/1420)

	s := h.Statistics
	if s.DataPoints != 2 || s.Samples != 5 || s.Trend.Direction != "insufficient_data" || s.Base != "USD" || s.Target != "KRW" {
		t.Errorf("stats %+v", s)
	}

	if _, err := svc.History(context.Background(), "EUR", "KRW", w); apperr.KindOf(err) != apperr.KindNotFound {
		t.Errorf("history of a currency without rows = %v, want not found", err)
	}
}

func TestStatsOfDailySeries(t *testing.T) {
	closes := []float64{100, 110, 99, 104, 108, 112, 115}
	st := &fakeStore{days: map[string][]series.Day{"USD": dayRows(closes...)}}
	svc := series.New(st, nil, nil, func() time.Time { return now })
	w, err := series.ParseWindow("1w", "1d", "", "", now)
	if err != nil {
		t.Fatal(err)
	}
	s, err := decode[series.Stats](svc.Stats(context.Background(), "USD", "KRW", w))
	if err != nil {
		t.Fatal(err)
	}
	// 1w from 2026-11-15 12:00 KST to 2026-11-22 12:00: days 15..22, of
	// which the rows cover 16..22 (seven days).
	if s.DataPoints != 7 {
		t.Fatalf("data points %d, want 7", s.DataPoints)
	}
	approx(t, "current", s.Current, 115)
	approx(t, "average", s.Average, (100+110+99+104+108+112+115)/7.0)
	approx(t, "min (lowest low)", s.Min, 98)
	approx(t, "max (highest high)", s.Max, 116)
	approx(t, "change (last close - first open)", s.Change, 15)
	approx(t, "change_percent", s.ChangePercent, 15)
	var lr []float64
	for i := 1; i < len(closes); i++ {
		lr = append(lr, math.Log(closes[i]/closes[i-1]))
	}
	var m, ss float64
	for _, r := range lr {
		m += r / float64(len(lr))
	}
	for _, r := range lr {
		ss += (r - m) * (r - m)
	}
	approx(t, "volatility", s.Volatility, math.Sqrt(ss/float64(len(lr)-1)))
	// Slope by hand: x = 0..6 days, sxx = 28, sxy = sum((x-3)*y) =
	// -300-220+99*-1+0+108+224+345 = 58, slope 58/28 per day; the line
	// rises 6*58/28 = 12.43 over the week, 11.7% of the mean 106.857.
	approx(t, "slope per day", s.Trend.SlopePerDay, 58.0/28)
	approx(t, "fitted change percent", s.Trend.FittedChangePercent, 100*6*(58.0/28)/(748.0/7))
	if s.Trend.Direction != "up" {
		t.Errorf("trend %q, want up", s.Trend.Direction)
	}

	// Weekly buckets fold Monday-started KST weeks: 2026-11-16 is a Monday.
	w, err = series.ParseWindow("1m", "1w", "", "", now)
	if err != nil {
		t.Fatal(err)
	}
	h, err := decode[series.History](svc.History(context.Background(), "USD", "KRW", w))
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Results) != 1 || h.Results[0].Date.Format(time.DateOnly) != "2026-11-16" || h.Results[0].Samples != 7 {
		t.Fatalf("weekly buckets %+v, want one week of 2026-11-16 from 7 days", h.Results)
	}
	approx(t, "weekly open", h.Results[0].Open, 100)
	approx(t, "weekly high", h.Results[0].High, 116)
	approx(t, "weekly low", h.Results[0].Low, 98)
	approx(t, "weekly close", h.Results[0].Rate, 115)
}

func TestCompare(t *testing.T) {
	st := &fakeStore{days: map[string][]series.Day{
		"USD": dayRows(100, 110, 99, 104, 108),
		"EUR": dayRows(200, 220, 198, 208, 216),  // same returns as USD
		"JPY": dayRows(10, 9, 10.5, 9.5, 9),      // down 10%
		"GBP": dayRows(50, 50.5, 51, 51.5, 52.5), // up 5%, calm
	}}
	svc := series.New(st, nil, nil, func() time.Time { return now })
	w, err := series.ParseWindow("1w", "", "", "", now)
	if err != nil {
		t.Fatal(err)
	}
	c, err := decode[series.Comparison](svc.Compare(context.Background(), []string{"USD", "EUR", "JPY", "GBP"}, "KRW", series.CompareWindow(w)))
	if err != nil {
		t.Fatal(err)
	}
	if c.Interval != "1d" {
		t.Errorf("compare interval %s, want 1d (daily returns)", c.Interval)
	}
	byCode := map[string]series.Compared{}
	for _, x := range c.Currencies {
		byCode[x.Code] = x
	}
	approx(t, "USD change%", byCode["USD"].ChangePercent, 8)
	approx(t, "JPY change%", byCode["JPY"].ChangePercent, -10)
	// USD and EUR both +8%: they share rank 1; GBP is 3rd, JPY 4th.
	if byCode["USD"].ChangeRank != 1 || byCode["EUR"].ChangeRank != 1 || byCode["GBP"].ChangeRank != 3 || byCode["JPY"].ChangeRank != 4 {
		t.Errorf("change ranks %+v", c.Currencies)
	}
	if byCode["GBP"].VolatilityRank != 4 || byCode["JPY"].VolatilityRank != 1 {
		t.Errorf("volatility ranks %+v, want JPY 1 and GBP 4", c.Currencies)
	}
	if c.Best.Code != "USD" || c.Worst.Code != "JPY" {
		t.Errorf("best %+v worst %+v, want USD and JPY", c.Best, c.Worst)
	}
	approx(t, "corr(USD, EUR)", c.Correlation.Matrix[0][1], 1)
	approx(t, "corr(EUR, USD)", c.Correlation.Matrix[1][0], 1)
	approx(t, "corr(USD, USD)", c.Correlation.Matrix[0][0], 1)
	if r := float64(c.Correlation.Matrix[0][2]); !(r < 0) {
		t.Errorf("corr(USD, JPY) = %v, want negative (moves mirror)", r)
	}
}

func TestAnalysisOnALinearDailySeries(t *testing.T) {
	closes := make([]float64, 90)
	for i := range closes {
		closes[i] = float64(i + 1)
	}
	st := &fakeStore{days: map[string][]series.Day{"USD": dayRows(closes...)}}
	svc := series.New(st, nil, nil, func() time.Time { return now })
	w, err := series.ParseWindow("1m", "", "", "", now)
	if err != nil {
		t.Fatal(err)
	}
	a, err := decode[series.Analysis](svc.Analysis(context.Background(), "USD", "KRW", w))
	if err != nil {
		t.Fatal(err)
	}
	// The window touches 32 KST days (2026-10-22..11-22, closes 59..90);
	// the 50 days before it (closes 9..58) are read as warm-up, so SMA 50
	// is defined from the window's first day.
	if a.DataPoints != 32 || a.WarmupPoints != 50 || len(a.Series) != 32 {
		t.Fatalf("points %d warmup %d series %d, want 32, 50, 32", a.DataPoints, a.WarmupPoints, len(a.Series))
	}
	approx(t, "last close", a.LastClose, 90)
	approx(t, "SMA20 (mean 71..90)", a.SMA20, 80.5)
	approx(t, "SMA50 (mean 41..90)", a.SMA50, 65.5)
	approx(t, "EMA20 (9.5 behind a unit slope)", a.EMA20, 80.5)
	approx(t, "RSI14 of a rising line", a.RSI14, 100)
	approx(t, "Bollinger upper", a.Bollinger.Upper, 80.5+2*math.Sqrt(33.25))
	approx(t, "Bollinger lower", a.Bollinger.Lower, 80.5-2*math.Sqrt(33.25))
	approx(t, "support (lowest low of the last 20 days)", a.Support, 70)
	approx(t, "resistance (highest high of the last 20 days)", a.Resistance, 91)
	approx(t, "pivot", a.Pivot.P, 90)
	approx(t, "first series SMA50 (mean 10..59)", a.Series[0].SMA50, 34.5)
	if a.Signals.RSI != "overbought" || a.Signals.MovingAverages != "bullish" || a.Trend.Direction != "up" {
		t.Errorf("signals %+v trend %+v", a.Signals, a.Trend)
	}
}

// TestForecast runs at instants where the KST day and the UTC day differ
// or turn over: the history, which holds a row for the KST day of the
// clock, must end on that day and the forecast start on the next.
func TestForecast(t *testing.T) {
	short := make([]float64, 20)
	for i := range short {
		short[i] = 1400 + float64(i)
	}
	for _, tc := range []struct {
		name                string
		at                  time.Time
		historyTo, firstDay string
	}{
		{"12:00 KST", now, "2026-11-22", "2026-11-23"},
		{"00:30 KST, still the day before in UTC", time.Date(2026, 11, 22, 15, 30, 0, 0, time.UTC), "2026-11-23", "2026-11-24"},
		{"23:59:59 KST", time.Date(2026, 11, 22, 23, 59, 59, 0, kst.Zone), "2026-11-22", "2026-11-23"},
		{"a Saturday", time.Date(2026, 11, 21, 10, 0, 0, 0, kst.Zone), "2026-11-21", "2026-11-22"},
		{"23:59:59 KST on 31 December", time.Date(2026, 12, 31, 23, 59, 59, 0, kst.Zone), "2026-12-31", "2027-01-01"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := &fakeStore{days: map[string][]series.Day{"USD": dayRowsTo(tc.at, short...)}}
			svc := series.New(st, nil, nil, func() time.Time { return tc.at })
			_, err := svc.Forecast(context.Background(), "USD", "KRW", 7)
			if e, ok := apperr.As(err); !ok || e.Kind != apperr.KindUnprocessable || e.Details["need_days"] != 21 {
				t.Fatalf("forecast of 7 days on 20 days = %v, want 422 needing 21", err)
			}
			f, err := decode[series.Forecast](svc.Forecast(context.Background(), "USD", "KRW", 5))
			if err != nil {
				t.Fatal(err)
			}
			// A straight line: drift 1 a day, no residuals, a perfect backtest.
			if len(f.Forecast) != 5 || f.HistoryPoints != 20 || f.HistoryTo != tc.historyTo || f.Forecast[0].Date != tc.firstDay {
				t.Fatalf("forecast %+v, want 5 days from %s after 20 days of history to %s", f, tc.firstDay, tc.historyTo)
			}
			approx(t, "drift", f.DriftPerDay, 1)
			approx(t, "day 5", f.Forecast[4].Rate, 1419+5)
			approx(t, "backtest MAPE", f.Backtest.MAPEPercent, 0)
			if _, err := svc.Forecast(context.Background(), "EUR", "KRW", 5); apperr.KindOf(err) != apperr.KindNotFound {
				t.Errorf("forecast without rows = %v, want not found", err)
			}
		})
	}
}

// memCache is a series.Cache in memory with the same generation
// rules as the Redis one, to test the service's use of them.
type memCache struct {
	entries map[string][]byte
	gens    map[string]int64
	index   map[string][]string
	fills   int
}

func newMemCache() *memCache {
	return &memCache{entries: map[string][]byte{}, gens: map[string]int64{}, index: map[string][]string{}}
}

func (m *memCache) Lookup(_ context.Context, key string, codes []string) ([]byte, []int64, error) {
	gens := make([]int64, len(codes))
	for i, c := range codes {
		gens[i] = m.gens[c]
	}
	return m.entries[key], gens, nil
}

func (m *memCache) Fill(_ context.Context, key string, codes []string, gens []int64, payload []byte, _ time.Duration) (bool, error) {
	for i, c := range codes {
		if m.gens[c] != gens[i] {
			return false, nil
		}
	}
	m.fills++
	m.entries[key] = payload
	for _, c := range codes {
		m.index[c] = append(m.index[c], key)
	}
	return true, nil
}

func (m *memCache) Invalidate(_ context.Context, code string) (int, error) {
	m.gens[code]++
	n := 0
	for _, k := range m.index[code] {
		if _, ok := m.entries[k]; ok {
			delete(m.entries, k)
			n++
		}
	}
	delete(m.index, code)
	return n, nil
}

// TestUpdateDuringAReadIsNotOverwritten interleaves an update with a
// database read: the read sees the old rate, the update's invalidation
// lands before the fill, and the fill must be refused so the next request
// reads the new rate.
func TestUpdateDuringAReadIsNotOverwritten(t *testing.T) {
	st := &fakeStore{days: map[string][]series.Day{"USD": dayRows(100, 101, 102)}}
	mc := newMemCache()
	svc := series.New(st, mc, nil, func() time.Time { return now })
	w, err := series.ParseWindow("1w", "1d", "", "", now)
	if err != nil {
		t.Fatal(err)
	}
	st.onRead = func() {
		st.onRead = nil
		// The ingestor commits a new rate and its event is handled while
		// this read is in flight.
		st.days["USD"] = dayRows(100, 101, 150)
		if _, err := svc.Invalidate(context.Background(), "USD"); err != nil {
			t.Fatal(err)
		}
	}
	s, err := decode[series.Stats](svc.Stats(context.Background(), "USD", "KRW", w))
	if err != nil {
		t.Fatal(err)
	}
	approx(t, "current read before the update", s.Current, 102)
	if mc.fills != 0 || len(mc.entries) != 0 {
		t.Fatalf("a fill that read before the update was written (%d fills, %v)", mc.fills, mc.entries)
	}
	s, err = decode[series.Stats](svc.Stats(context.Background(), "USD", "KRW", w))
	if err != nil {
		t.Fatal(err)
	}
	approx(t, "current after the update", s.Current, 150)
	if mc.fills != 1 {
		t.Errorf("fills = %d, want the second read cached", mc.fills)
	}
	// A third request is a hit: no new fill, same answer.
	if s, _ = decode[series.Stats](svc.Stats(context.Background(), "USD", "KRW", w)); mc.fills != 1 || float64(s.Current) != 150 {
		t.Errorf("third request: fills %d current %v, want a cache hit of 150", mc.fills, s.Current)
	}
	// KRW is never indexed: its rate cannot change.
	if _, ok := mc.index["KRW"]; ok {
		t.Error("an entry was indexed under KRW")
	}
}

// TestAnswersSayWhatATwinWasQuotedAs checks that every answer involving a
// currency served from a twin code (CNY from a CNH quote) names the code
// its source quoted, and that other answers carry no such field.
func TestAnswersSayWhatATwinWasQuotedAs(t *testing.T) {
	st := &fakeStore{days: map[string][]series.Day{
		"USD": dayRows(1400, 1410, 1405, 1402, 1408),
		"CNY": dayRows(192, 193, 192.5, 192.2, 193.1),
	}, quotedAs: map[string]string{"CNY": "CNH"}}
	svc := series.New(st, nil, nil, func() time.Time { return now })
	ctx := context.Background()
	w, err := series.ParseWindow("1w", "1d", "", "", now) // daily rows
	if err != nil {
		t.Fatal(err)
	}
	type quoted struct {
		QuotedAs map[string]string `json:"quoted_as"`
	}
	for _, tc := range []struct {
		name string
		ans  func() (series.Encoded, error)
		want map[string]string
	}{
		{"history of CNY", func() (series.Encoded, error) { return svc.History(ctx, "CNY", "KRW", w) }, map[string]string{"CNY": "CNH"}},
		{"stats of USD in CNY", func() (series.Encoded, error) { return svc.Stats(ctx, "USD", "CNY", w) }, map[string]string{"CNY": "CNH"}},
		{"compare with CNY", func() (series.Encoded, error) {
			return svc.Compare(ctx, []string{"USD", "CNY"}, "KRW", series.CompareWindow(w))
		}, map[string]string{"CNY": "CNH"}},
		{"history of USD", func() (series.Encoded, error) { return svc.History(ctx, "USD", "KRW", w) }, nil},
	} {
		q, err := decode[quoted](tc.ans())
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !maps.Equal(q.QuotedAs, tc.want) {
			t.Errorf("%s: expected quoted_as %v, got %v", tc.name, tc.want, q.QuotedAs)
		}
	}
}

// TestAnObservationAtTheReadersNowIsAnsweredAndCached reads windows that
// end now at the instant the newest observation is stamped (the cron runs
// on the simulator's 5-minute stamps) or just before it (a source's clock a
// little ahead of the reader's). The first answer must hold that
// observation, name a `to` after it, and be what the cache then serves; an
// explicit from/to window stays exactly as asked.
func TestAnObservationAtTheReadersNowIsAnsweredAndCached(t *testing.T) {
	stamp := time.Date(2026, 11, 22, 3, 5, 0, 0, time.UTC) // 12:05 KST, a run's stamp
	midnight := time.Date(2026, 11, 23, 0, 0, 0, 0, kst.Zone)
	for _, tc := range []struct {
		name             string
		clock            time.Time
		period, from, to string
		interval         string
		daily            bool
		newest           time.Time // where the newest observation lies
		wantRate         float64   // the last bucket's close
		wantTo           time.Time // the answer's to
	}{
		{name: "observation in the reader's second", clock: stamp.Add(300 * time.Millisecond), period: "1d",
			newest: stamp, wantRate: 1450, wantTo: stamp.Add(time.Second)},
		{name: "observation at the reader's instant", clock: stamp, period: "1d",
			newest: stamp, wantRate: 1450, wantTo: stamp.Add(time.Second)},
		{name: "observation 400 ms ahead of the reader", clock: stamp.Add(-400 * time.Millisecond), period: "1d",
			newest: stamp, wantRate: 1450, wantTo: stamp.Add(time.Second)},
		{name: "from without to ends now", clock: stamp.Add(300 * time.Millisecond), from: "2026-11-22T00:00:00Z",
			newest: stamp, wantRate: 1450, wantTo: stamp.Add(time.Second)},
		{name: "new KST day's row at the reader's second", clock: midnight.Add(400 * time.Millisecond), period: "1w", interval: "1d",
			daily: true, newest: midnight, wantRate: 1450, wantTo: midnight.Add(time.Second)},
		{name: "new KST day's row 200 ms ahead of the reader", clock: midnight.Add(-200 * time.Millisecond), period: "1w", interval: "1d",
			daily: true, newest: midnight, wantRate: 1450, wantTo: midnight.Add(time.Second)},
		{name: "explicit from/to ending at the observation leaves it out", clock: stamp.Add(time.Minute),
			from: "2026-11-22T00:00:00Z", to: stamp.Format(time.RFC3339),
			newest: stamp, wantRate: 1400, wantTo: stamp},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := &fakeStore{obs: map[string][]series.Observation{}, days: map[string][]series.Day{}}
			if tc.daily {
				// Six older days at 1400, then the newest day's first row.
				st.days["USD"] = dayRowsTo(tc.newest, 1400, 1400, 1400, 1400, 1400, 1400, 1450)
			} else {
				for m := 12 * 60; m > 0; m -= 5 { // 1400 every 5 minutes up to the stamp
					st.obs["USD"] = append(st.obs["USD"], series.Observation{At: tc.newest.Add(-time.Duration(m) * time.Minute), Rate: 1400})
				}
				st.obs["USD"] = append(st.obs["USD"], series.Observation{At: tc.newest, Rate: 1450})
			}
			mc := newMemCache()
			svc := series.New(st, mc, nil, func() time.Time { return tc.clock })
			w, err := series.ParseWindow(tc.period, tc.interval, tc.from, tc.to, svc.Now())
			if err != nil {
				t.Fatal(err)
			}
			for i, read := range []string{"first read (computed)", "second read (from the cache)"} {
				h, err := decode[series.History](svc.History(context.Background(), "USD", "KRW", w))
				if err != nil {
					t.Fatalf("%s: %v", read, err)
				}
				last := h.Results[len(h.Results)-1]
				if float64(last.Rate) != tc.wantRate || !h.To.Equal(tc.wantTo) || !h.Statistics.To.Equal(tc.wantTo) {
					t.Errorf("%s: expected the last close %v and to %s, got %v and to %s (statistics to %s)",
						read, tc.wantRate, tc.wantTo, float64(last.Rate), h.To, h.Statistics.To)
				}
				if mc.fills != 1 {
					t.Errorf("%s: expected 1 fill (the first read cached, the second a hit), got %d", read, mc.fills)
				}
				if i == 0 && tc.wantRate == 1450 && !h.To.After(tc.newest) {
					t.Errorf("%s: to %s does not cover the observation at %s it answers", read, h.To, tc.newest)
				}
			}
			// Stats and analysis of the same window see it too.
			s, err := decode[series.Stats](svc.Stats(context.Background(), "USD", "KRW", w))
			if err != nil {
				t.Fatal(err)
			}
			if float64(s.Current) != tc.wantRate || !s.To.Equal(tc.wantTo) {
				t.Errorf("stats: expected current %v to %s, got %v to %s", tc.wantRate, tc.wantTo, float64(s.Current), s.To)
			}
			a, err := decode[series.Analysis](svc.Analysis(context.Background(), "USD", "KRW", w))
			if err != nil {
				t.Fatal(err)
			}
			if float64(a.LastClose) != tc.wantRate || !a.To.Equal(tc.wantTo) {
				t.Errorf("analysis: expected last close %v to %s, got %v to %s", tc.wantRate, tc.wantTo, float64(a.LastClose), a.To)
			}
		})
	}
}
