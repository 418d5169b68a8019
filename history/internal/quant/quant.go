// Package quant holds the arithmetic of the history service: statistics of
// a price series, technical indicators and a forecast with its backtest.
// It is pure (no I/O, no clock) so each formula can be checked against
// values worked out by hand.
//
// Conventions: a series is ordered oldest first; a value that cannot be
// computed from the data given (too few points, zero variance) is NaN, and
// callers turn NaN into JSON null.
package quant

import (
	"math"
)

// Mean is the arithmetic mean of xs, NaN when xs is empty.
func Mean(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// StdDev is the sample standard deviation (divisor n-1) of xs, NaN with
// fewer than two values.
func StdDev(xs []float64) float64 {
	if len(xs) < 2 {
		return math.NaN()
	}
	m := Mean(xs)
	var ss float64
	for _, x := range xs {
		ss += (x - m) * (x - m)
	}
	return math.Sqrt(ss / float64(len(xs)-1))
}

// popStdDev is the population standard deviation (divisor n), the one
// Bollinger bands use by convention.
func popStdDev(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	m := Mean(xs)
	var ss float64
	for _, x := range xs {
		ss += (x - m) * (x - m)
	}
	return math.Sqrt(ss / float64(len(xs)))
}

// LogReturns are ln(p[i]/p[i-1]) for consecutive prices; a non-positive
// price breaks the pair it belongs to, which is skipped.
func LogReturns(ps []float64) []float64 {
	if len(ps) < 2 {
		return nil
	}
	out := make([]float64, 0, len(ps)-1)
	for i := 1; i < len(ps); i++ {
		if ps[i] > 0 && ps[i-1] > 0 {
			out = append(out, math.Log(ps[i]/ps[i-1]))
		}
	}
	return out
}

// Volatility is the sample standard deviation of the log returns of ps,
// per step of the series (not annualised); NaN with fewer than two
// returns.
func Volatility(ps []float64) float64 { return StdDev(LogReturns(ps)) }

// Regression is an ordinary least-squares fit y = Intercept + Slope*x.
type Regression struct {
	Slope, Intercept, R2 float64
}

// LinearFit fits y on x by least squares; NaN fields when fewer than two
// points or all x equal. R2 is 1 when y is constant and the fit exact.
func LinearFit(x, y []float64) Regression {
	n := len(x)
	if n < 2 || len(y) != n {
		return Regression{math.NaN(), math.NaN(), math.NaN()}
	}
	mx, my := Mean(x), Mean(y)
	var sxx, sxy, syy float64
	for i := range x {
		dx, dy := x[i]-mx, y[i]-my
		sxx += dx * dx
		sxy += dx * dy
		syy += dy * dy
	}
	if sxx == 0 {
		return Regression{math.NaN(), math.NaN(), math.NaN()}
	}
	b := sxy / sxx
	r2 := 1.0
	if syy > 0 {
		r2 = sxy * sxy / (sxx * syy)
	}
	return Regression{Slope: b, Intercept: my - b*mx, R2: r2}
}

// Pearson is the correlation coefficient of x and y, NaN with fewer than
// three pairs or when either has zero variance.
func Pearson(x, y []float64) float64 {
	n := len(x)
	if n < 3 || len(y) != n {
		return math.NaN()
	}
	mx, my := Mean(x), Mean(y)
	var sxx, syy, sxy float64
	for i := range x {
		dx, dy := x[i]-mx, y[i]-my
		sxx += dx * dx
		syy += dy * dy
		sxy += dx * dy
	}
	if sxx == 0 || syy == 0 {
		return math.NaN()
	}
	r := sxy / math.Sqrt(sxx*syy)
	return math.Max(-1, math.Min(1, r))
}

// SMA is the simple moving average of the last n values of xs at every
// index; NaN until n values are available.
func SMA(xs []float64, n int) []float64 {
	out := nans(len(xs))
	if n <= 0 {
		return out
	}
	var s float64
	for i, x := range xs {
		s += x
		if i >= n {
			s -= xs[i-n]
		}
		if i >= n-1 {
			out[i] = s / float64(n)
		}
	}
	return out
}

// EMA is the exponential moving average with alpha = 2/(n+1), seeded with
// the simple average of the first n values (the usual charting
// convention); NaN before index n-1.
func EMA(xs []float64, n int) []float64 {
	out := nans(len(xs))
	if n <= 0 || len(xs) < n {
		return out
	}
	alpha := 2 / float64(n+1)
	out[n-1] = Mean(xs[:n])
	for i := n; i < len(xs); i++ {
		out[i] = alpha*xs[i] + (1-alpha)*out[i-1]
	}
	return out
}

// RSI is Wilder's relative strength index over n periods: the first
// average gain and loss are simple means of the first n changes, later
// ones are smoothed as avg = (avg*(n-1) + current)/n; RSI = 100 -
// 100/(1+avgGain/avgLoss), 100 when there is no loss (50 when the price
// did not move at all). NaN before index n.
func RSI(xs []float64, n int) []float64 {
	out := nans(len(xs))
	if n <= 0 || len(xs) <= n {
		return out
	}
	var gain, loss float64
	for i := 1; i <= n; i++ {
		d := xs[i] - xs[i-1]
		if d > 0 {
			gain += d
		} else {
			loss -= d
		}
	}
	gain /= float64(n)
	loss /= float64(n)
	out[n] = rsiOf(gain, loss)
	for i := n + 1; i < len(xs); i++ {
		d := xs[i] - xs[i-1]
		g, l := 0.0, 0.0
		if d > 0 {
			g = d
		} else {
			l = -d
		}
		gain = (gain*float64(n-1) + g) / float64(n)
		loss = (loss*float64(n-1) + l) / float64(n)
		out[i] = rsiOf(gain, loss)
	}
	return out
}

func rsiOf(gain, loss float64) float64 {
	switch {
	case loss == 0 && gain == 0:
		return 50
	case loss == 0:
		return 100
	}
	return 100 - 100/(1+gain/loss)
}

// Band is one Bollinger band reading.
type Band struct {
	Middle, Upper, Lower float64
}

// Bollinger computes bands of n periods at k population standard
// deviations around the n-period SMA at every index; NaN fields before
// index n-1.
func Bollinger(xs []float64, n int, k float64) []Band {
	out := make([]Band, len(xs))
	for i := range out {
		out[i] = Band{math.NaN(), math.NaN(), math.NaN()}
		if n > 0 && i >= n-1 {
			w := xs[i-n+1 : i+1]
			m, sd := Mean(w), popStdDev(w)
			out[i] = Band{Middle: m, Upper: m + k*sd, Lower: m - k*sd}
		}
	}
	return out
}

// Levels are support and resistance read from recent prices.
type Levels struct {
	// Support and Resistance are the lowest low and the highest high of
	// the last n buckets (a Donchian channel).
	Support, Resistance float64
	// Pivot, S1 and R1 are the classic floor-trader pivot levels of the
	// last bucket: P = (H+L+C)/3, S1 = 2P-H, R1 = 2P-L.
	Pivot, S1, R1 float64
}

// SupportResistance computes Levels over the last n buckets of highs,
// lows and closes (equal lengths); NaN fields when there is no data.
func SupportResistance(highs, lows, closes []float64, n int) Levels {
	l := Levels{math.NaN(), math.NaN(), math.NaN(), math.NaN(), math.NaN()}
	m := len(closes)
	if m == 0 || len(highs) != m || len(lows) != m || n <= 0 {
		return l
	}
	start := max(0, m-n)
	l.Support, l.Resistance = math.Inf(1), math.Inf(-1)
	for i := start; i < m; i++ {
		l.Support = math.Min(l.Support, lows[i])
		l.Resistance = math.Max(l.Resistance, highs[i])
	}
	h, lo, c := highs[m-1], lows[m-1], closes[m-1]
	l.Pivot = (h + lo + c) / 3
	l.S1 = 2*l.Pivot - h
	l.R1 = 2*l.Pivot - lo
	return l
}

// Last returns the last element of xs, NaN when empty.
func Last(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	return xs[len(xs)-1]
}

func nans(n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = math.NaN()
	}
	return out
}
