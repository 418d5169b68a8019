package series

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/ratewire/ratewire/shared/apperr"
	"github.com/ratewire/ratewire/shared/kst"
)

// Home is the currency every stored rate is quoted in (KRW per one unit of
// another currency); it has no rows of its own and is 1 against itself.
const Home = "KRW"

// Observation is one stored mid rate: KRW per one unit at an instant.
type Observation struct {
	At   time.Time
	Rate float64
}

// Day is one KST day of daily_rates (the mid rate's OHLC).
type Day struct {
	Day                    string // YYYY-MM-DD, KST
	Open, High, Low, Close float64
	Samples                int
}

// Store reads the rates the ingestor writes. Both queries are range scans
// of an index: rate_observations (currency_code, recorded_at) and the
// primary key of daily_rates (currency_code, day).
type Store interface {
	// Observations returns code's observations with from <= recorded_at <
	// to, oldest first. A window that ends now passes OpenEnd as to.
	Observations(ctx context.Context, code string, from, to time.Time) ([]Observation, error)
	// Days returns code's daily aggregates for KST days from..to
	// (inclusive, YYYY-MM-DD), oldest first.
	Days(ctx context.Context, code, from, to string) ([]Day, error)
	// QuotedAs returns, for those of codes whose rates are served from a
	// twin code (CNY from a CNH quote), the code the source quoted.
	QuotedAs(ctx context.Context, codes []string) (map[string]string, error)
}

// Bucket is one interval of a series: the OHLC of the rate within it.
type Bucket struct {
	Start                  time.Time
	Open, High, Low, Close float64
	// Samples is how many observations (raw rows, or days for weekly
	// buckets) the bucket was built from.
	Samples int
}

// load returns target's rate in units of base per one target, bucketed
// over w, and w as read (see Window.reaching): the window an answer names,
// which for a window that ends now covers the newest observation read.
// Cross rates are computed per observation on aligned timestamps (see
// cross) before bucketing, so intraday OHLC of a cross rate is exact.
func (s *Service) load(ctx context.Context, target, base string, w Window) ([]Bucket, Window, error) {
	if w.Interval.Daily() {
		return s.loadDaily(ctx, target, base, w)
	}
	t, err := s.observations(ctx, target, w)
	if err != nil {
		return nil, w, err
	}
	b, err := s.observations(ctx, base, w)
	if err != nil {
		return nil, w, err
	}
	var newest time.Time // both sides are oldest first
	for _, side := range [][]Observation{t, b} {
		if n := len(side); n > 0 && side[n-1].At.After(newest) {
			newest = side[n-1].At
		}
	}
	return bucketize(cross(t, b), w), w.reaching(newest), nil
}

// observations reads code's raw rates over w; nil stands for KRW (1).
func (s *Service) observations(ctx context.Context, code string, w Window) ([]Observation, error) {
	if code == Home {
		return nil, nil
	}
	obs, err := s.store.Observations(ctx, code, w.From, w.readTo())
	if err != nil {
		return nil, fmt.Errorf("observations of %s: %w", code, err)
	}
	if len(obs) == 0 {
		return nil, noData(code, w)
	}
	return obs, nil
}

func noData(code string, w Window) error {
	return &apperr.Error{Kind: apperr.KindNotFound, Code: apperr.CodeNotFound,
		Message: fmt.Sprintf("no rates for %s between %s and %s", code, w.From.Format(time.RFC3339), w.To.Format(time.RFC3339)),
		Details: map[string]any{"currency_code": code, "from": w.From, "to": w.To}}
}

// cross divides target by base on aligned timestamps: every target
// observation is paired with the latest base observation at or before it
// (an exact match when both were recorded by the same run), and target
// observations older than every base observation are dropped. A nil side
// is KRW, 1 at every instant.
func cross(t, b []Observation) []Observation {
	switch {
	case b == nil:
		return t
	case t == nil:
		out := make([]Observation, len(b))
		for i, o := range b {
			out[i] = Observation{At: o.At, Rate: 1 / o.Rate}
		}
		return out
	}
	out := make([]Observation, 0, len(t))
	j := -1
	for _, o := range t {
		for j+1 < len(b) && !b[j+1].At.After(o.At) {
			j++
		}
		if j >= 0 && b[j].Rate > 0 {
			out = append(out, Observation{At: o.At, Rate: o.Rate / b[j].Rate})
		}
	}
	return out
}

// bucketStart floors t to its interval, with boundaries aligned to KST
// midnight.
func bucketStart(t time.Time, step time.Duration) time.Time {
	const offset = 9 * time.Hour
	u := t.Add(offset).Truncate(step)
	return u.Add(-offset)
}

// bucketize folds observations (oldest first) into buckets of w.Interval.
func bucketize(obs []Observation, w Window) []Bucket {
	var out []Bucket
	for _, o := range obs {
		st := bucketStart(o.At, w.Interval.Step)
		if n := len(out); n > 0 && out[n-1].Start.Equal(st) {
			b := &out[n-1]
			b.High, b.Low, b.Close = math.Max(b.High, o.Rate), math.Min(b.Low, o.Rate), o.Rate
			b.Samples++
			continue
		}
		out = append(out, Bucket{Start: st, Open: o.Rate, High: o.Rate, Low: o.Rate, Close: o.Rate, Samples: 1})
	}
	return out
}

// dayBounds are the KST days a window reads, inclusive: those it touches,
// and for a window that ends now every later day too.
func dayBounds(w Window) (string, string) {
	return kst.Day(w.From), kst.Day(w.readTo().Add(-time.Nanosecond))
}

// loadDaily builds daily or weekly buckets from daily_rates. For a cross
// rate of two foreign currencies open and close are exact ratios but the
// intraday extremes of a ratio cannot be recovered from two daily
// aggregates, so high and low then span open and close only.
func (s *Service) loadDaily(ctx context.Context, target, base string, w Window) ([]Bucket, Window, error) {
	from, to := dayBounds(w)
	read := func(code string) ([]Day, error) {
		if code == Home {
			return nil, nil
		}
		d, err := s.store.Days(ctx, code, from, to)
		if err != nil {
			return nil, fmt.Errorf("daily rates of %s: %w", code, err)
		}
		if len(d) == 0 {
			return nil, noData(code, w)
		}
		return d, nil
	}
	td, err := read(target)
	if err != nil {
		return nil, w, err
	}
	bd, err := read(base)
	if err != nil {
		return nil, w, err
	}
	// A day's row holds observations from its midnight on: a window
	// covers the newest day read once it reaches past that midnight.
	newest := ""
	for _, side := range [][]Day{td, bd} {
		if n := len(side); n > 0 && side[n-1].Day > newest {
			newest = side[n-1].Day
		}
	}
	if newest != "" {
		start, err := kst.ParseDay(newest)
		if err != nil {
			return nil, w, fmt.Errorf("daily rates: bad day %q: %w", newest, err)
		}
		w = w.reaching(start)
	}
	days := crossDays(td, bd)
	out := make([]Bucket, 0, len(days))
	for _, d := range days {
		start, err := kst.ParseDay(d.Day)
		if err != nil {
			return nil, w, fmt.Errorf("daily rates: bad day %q: %w", d.Day, err)
		}
		b := Bucket{Start: start.UTC(), Open: d.Open, High: d.High, Low: d.Low, Close: d.Close, Samples: d.Samples}
		if w.Interval.Weekly() {
			wd := (int(start.Weekday()) + 6) % 7 // days since Monday
			b.Start, b.Samples = start.AddDate(0, 0, -wd).UTC(), 1
			if n := len(out); n > 0 && out[n-1].Start.Equal(b.Start) {
				p := &out[n-1]
				p.High, p.Low, p.Close = math.Max(p.High, b.High), math.Min(p.Low, b.Low), b.Close
				p.Samples++
				continue
			}
		}
		out = append(out, b)
	}
	return out, w, nil
}

// crossDays divides target's days by base's on the days both have; nil is
// KRW.
func crossDays(t, b []Day) []Day {
	switch {
	case b == nil:
		return t
	case t == nil:
		out := make([]Day, len(b))
		for i, d := range b {
			out[i] = Day{Day: d.Day, Open: 1 / d.Open, High: 1 / d.Low, Low: 1 / d.High, Close: 1 / d.Close, Samples: d.Samples}
		}
		return out
	}
	out := make([]Day, 0, len(t))
	j := 0
	for _, d := range t {
		for j < len(b) && b[j].Day < d.Day {
			j++
		}
		if j < len(b) && b[j].Day == d.Day {
			o, c := d.Open/b[j].Open, d.Close/b[j].Close
			out = append(out, Day{Day: d.Day, Open: o, Close: c, High: math.Max(o, c), Low: math.Min(o, c),
				Samples: min(d.Samples, b[j].Samples)})
		}
	}
	return out
}
