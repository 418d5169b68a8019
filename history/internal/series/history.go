package series

import (
	"context"
	"math"
	"time"

	"github.com/ratewire/ratewire/history/internal/quant"
	"github.com/ratewire/ratewire/shared/kst"
)

// TrendThresholdPercent is how far, relative to the average level, the
// regression line must rise or fall over the window for the trend to be
// "up" or "down" rather than "flat".
const TrendThresholdPercent = 0.5

// Point is one bucket of a history answer; Rate is its close, Change and
// ChangePercent are against the previous bucket's close (the first
// bucket's own open).
type Point struct {
	Date          time.Time `json:"date"`
	Rate          Num       `json:"rate"`
	Open          Num       `json:"open"`
	High          Num       `json:"high"`
	Low           Num       `json:"low"`
	Change        Num       `json:"change"`
	ChangePercent Num       `json:"change_percent"`
	Samples       int       `json:"samples"`
}

// Trend is the least-squares line through the closes against time in
// days. Direction compares FittedChangePercent, the line's rise over the
// window relative to the average level, with TrendThresholdPercent;
// "insufficient_data" below three points.
type Trend struct {
	Direction           string `json:"direction"`
	SlopePerDay         Num    `json:"slope_per_day"`
	SlopePercentPerDay  Num    `json:"slope_percent_per_day"`
	FittedChangePercent Num    `json:"fitted_change_percent"`
	RSquared            Num    `json:"r_squared"`
}

// Stats has one shape always: every key is present, and a value the data
// cannot give is null.
type Stats struct {
	Base          string    `json:"base"`
	Target        string    `json:"target"`
	Period        string    `json:"period"`
	Interval      string    `json:"interval"`
	From          time.Time `json:"from"`
	To            time.Time `json:"to"`
	FirstAt       time.Time `json:"first_at"`
	LastAt        time.Time `json:"last_at"`
	Current       Num       `json:"current"`
	Average       Num       `json:"average"`
	Min           Num       `json:"min"`
	Max           Num       `json:"max"`
	Change        Num       `json:"change"`
	ChangePercent Num       `json:"change_percent"`
	// Volatility is the sample standard deviation of the log returns
	// between consecutive closes, per interval (not annualised).
	Volatility Num   `json:"volatility"`
	Trend      Trend `json:"trend"`
	DataPoints int   `json:"data_points"`
	Samples    int   `json:"samples"`
}

// History is the answer of GET /api/v1/history.
type History struct {
	Base       string    `json:"base"`
	Target     string    `json:"target"`
	Period     string    `json:"period"`
	Interval   string    `json:"interval"`
	From       time.Time `json:"from"`
	To         time.Time `json:"to"`
	Results    []Point   `json:"results"`
	Statistics Stats     `json:"statistics"`
}

func periodName(w Window) string {
	if w.Period == "" {
		return "custom"
	}
	return w.Period
}

func key(kind, base, target string, w Window) string {
	return kind + ":" + base + ":" + target + ":" + w.Label() + ":" + w.Interval.Name
}

// History answers target's rate in base over w, bucketed, as an encoded
// History, served from the cache when it can be.
func (s *Service) History(ctx context.Context, target, base string, w Window) (Encoded, error) {
	return cached(ctx, s, key("history", base, target, w), []string{base, target}, TTL(w), func() (History, error) {
		bs, w, err := s.buckets(ctx, target, base, w) // w as read names the answer's to
		if err != nil {
			return History{}, err
		}
		h := History{Base: base, Target: target, Period: periodName(w), Interval: w.Interval.Name,
			From: w.From.In(kst.Zone), To: w.To.In(kst.Zone), Results: points(bs), Statistics: statsOf(bs, target, base, w)}
		return h, nil
	})
}

// Stats answers the statistics of target in base over w as an encoded
// Stats, served from the cache when it can be.
func (s *Service) Stats(ctx context.Context, target, base string, w Window) (Encoded, error) {
	return cached(ctx, s, key("stats", base, target, w), []string{base, target}, TTL(w), func() (Stats, error) {
		bs, w, err := s.buckets(ctx, target, base, w) // w as read names the answer's to
		if err != nil {
			return Stats{}, err
		}
		return statsOf(bs, target, base, w), nil
	})
}

// buckets loads and refuses an empty answer; it returns w as read (see
// load), the window the answer names.
func (s *Service) buckets(ctx context.Context, target, base string, w Window) ([]Bucket, Window, error) {
	bs, read, err := s.load(ctx, target, base, w)
	if err != nil {
		return nil, w, err
	}
	if len(bs) == 0 {
		return nil, w, noData(target+"/"+base, w)
	}
	return bs, read, nil
}

func points(bs []Bucket) []Point {
	out := make([]Point, len(bs))
	prev := bs[0].Open
	for i, b := range bs {
		ch := b.Close - prev
		out[i] = Point{Date: b.Start.In(kst.Zone), Rate: Num(b.Close), Open: Num(b.Open), High: Num(b.High), Low: Num(b.Low),
			Change: Num(ch), ChangePercent: Num(pct(ch, prev)), Samples: b.Samples}
		prev = b.Close
	}
	return out
}

func pct(ch, of float64) float64 {
	if of == 0 {
		return math.NaN()
	}
	return 100 * ch / of
}

func closes(bs []Bucket) []float64 {
	out := make([]float64, len(bs))
	for i, b := range bs {
		out[i] = b.Close
	}
	return out
}

// statsOf computes Stats of non-empty buckets.
func statsOf(bs []Bucket, target, base string, w Window) Stats {
	cs := closes(bs)
	st := Stats{Base: base, Target: target, Period: periodName(w), Interval: w.Interval.Name,
		From: w.From.In(kst.Zone), To: w.To.In(kst.Zone), FirstAt: bs[0].Start.In(kst.Zone), LastAt: bs[len(bs)-1].Start.In(kst.Zone),
		Current: Num(quant.Last(cs)), Average: Num(quant.Mean(cs)), Volatility: Num(quant.Volatility(cs)),
		DataPoints: len(bs), Trend: trendOf(bs)}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, b := range bs {
		lo, hi = math.Min(lo, b.Low), math.Max(hi, b.High)
		st.Samples += b.Samples
	}
	st.Min, st.Max = Num(lo), Num(hi)
	ch := bs[len(bs)-1].Close - bs[0].Open
	st.Change, st.ChangePercent = Num(ch), Num(pct(ch, bs[0].Open))
	return st
}

// trendOf fits closes against days since the first bucket.
func trendOf(bs []Bucket) Trend {
	nan := Num(math.NaN())
	t := Trend{Direction: "insufficient_data", SlopePerDay: nan, SlopePercentPerDay: nan, FittedChangePercent: nan, RSquared: nan}
	if len(bs) < 3 {
		return t
	}
	x := make([]float64, len(bs))
	for i, b := range bs {
		x[i] = b.Start.Sub(bs[0].Start).Hours() / 24
	}
	cs := closes(bs)
	fit := quant.LinearFit(x, cs)
	mean := quant.Mean(cs)
	if math.IsNaN(fit.Slope) || mean == 0 {
		return t
	}
	fitted := 100 * fit.Slope * (x[len(x)-1] - x[0]) / mean
	t.SlopePerDay, t.SlopePercentPerDay = Num(fit.Slope), Num(100*fit.Slope/mean)
	t.FittedChangePercent, t.RSquared = Num(fitted), Num(fit.R2)
	switch {
	case fitted >= TrendThresholdPercent:
		t.Direction = "up"
	case fitted <= -TrendThresholdPercent:
		t.Direction = "down"
	default:
		t.Direction = "flat"
	}
	return t
}
