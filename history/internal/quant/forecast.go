package quant

import (
	"errors"
	"math"
)

// z-scores of the central 80% and 95% normal prediction intervals.
const (
	z80 = 1.2815515655446004
	z95 = 1.959963984540054
)

// MinFitPoints is the fewest observations the drift model is fitted on;
// below it the residual spread (and so every interval) means nothing.
const MinFitPoints = 14

// ErrTooShort is returned when a series is too short to fit or backtest.
var ErrTooShort = errors.New("series too short")

// Drift is a random walk with drift fitted to a series y[0..T-1]:
// y[T-1+h] = y[T-1] + h*Drift, with the residual standard deviation of the
// one-step fit. It is the honest baseline of exchange-rate forecasting:
// rates are close to a random walk, and the intervals widen with the
// horizon as they should (Hyndman & Athanasopoulos, FPP3 §5.5).
type Drift struct {
	Last  float64 // y[T-1]
	Drift float64 // (y[T-1]-y[0])/(T-1), the average step
	Sigma float64 // sqrt(sum(e^2)/(T-2)), e[t] = y[t]-y[t-1]-Drift
	N     int     // T
}

// FitDrift fits the drift model; it needs MinFitPoints values.
func FitDrift(y []float64) (Drift, error) {
	T := len(y)
	if T < MinFitPoints {
		return Drift{}, ErrTooShort
	}
	c := (y[T-1] - y[0]) / float64(T-1)
	var ss float64
	for t := 1; t < T; t++ {
		e := y[t] - y[t-1] - c
		ss += e * e
	}
	return Drift{Last: y[T-1], Drift: c, Sigma: math.Sqrt(ss / float64(T-2)), N: T}, nil
}

// Prediction is the forecast of one step ahead and its intervals.
type Prediction struct {
	H                int
	Mean             float64
	Lower80, Upper80 float64
	Lower95, Upper95 float64
}

// Predict forecasts h = 1..steps. The h-step standard deviation is
// Sigma*sqrt(h*(1+h/(T-1))), which includes the uncertainty of the drift
// estimate.
func (d Drift) Predict(steps int) []Prediction {
	out := make([]Prediction, steps)
	for i := range out {
		h := float64(i + 1)
		m := d.Last + h*d.Drift
		sd := d.Sigma * math.Sqrt(h*(1+h/float64(d.N-1)))
		out[i] = Prediction{H: i + 1, Mean: m,
			Lower80: m - z80*sd, Upper80: m + z80*sd,
			Lower95: m - z95*sd, Upper95: m + z95*sd}
	}
	return out
}

// Backtest is how the model did on the last Horizon values when fitted on
// everything before them.
type Backtest struct {
	Horizon int
	// MAPE is the mean absolute percentage error of the point forecasts.
	MAPE float64
	// MAE is the mean absolute error, in the series' unit.
	MAE float64
	// Coverage80 and Coverage95 are the shares of actual values that fell
	// inside the 80% and 95% intervals.
	Coverage80, Coverage95 float64
}

// BacktestDrift holds out the last horizon values of y, fits the drift
// model on the rest and scores its forecasts of the held-out values. It
// needs MinFitPoints+horizon values.
func BacktestDrift(y []float64, horizon int) (Backtest, error) {
	if horizon < 1 || len(y) < MinFitPoints+horizon {
		return Backtest{}, ErrTooShort
	}
	train, test := y[:len(y)-horizon], y[len(y)-horizon:]
	d, err := FitDrift(train)
	if err != nil {
		return Backtest{}, err
	}
	b := Backtest{Horizon: horizon}
	var ape float64
	for i, p := range d.Predict(horizon) {
		a := test[i]
		b.MAE += math.Abs(a - p.Mean)
		if a != 0 {
			ape += math.Abs(a-p.Mean) / math.Abs(a)
		}
		if a >= p.Lower80 && a <= p.Upper80 {
			b.Coverage80++
		}
		if a >= p.Lower95 && a <= p.Upper95 {
			b.Coverage95++
		}
	}
	n := float64(horizon)
	b.MAPE, b.MAE = 100*ape/n, b.MAE/n
	b.Coverage80, b.Coverage95 = b.Coverage80/n, b.Coverage95/n
	return b, nil
}
