package quant_test

import (
	"math"
	"testing"

	"github.com/ratewire/ratewire/history/internal/quant"
)

// near compares with a tolerance fit for values worked out by hand to
// about nine significant digits.
func near(t *testing.T, what string, got, want float64) {
	t.Helper()
	if math.IsNaN(want) {
		if !math.IsNaN(got) {
			t.Errorf("%s = %v, want NaN", what, got)
		}
		return
	}
	if math.Abs(got-want) > 1e-7*math.Max(1, math.Abs(want)) {
		t.Errorf("%s = %.10f, want %.10f", what, got, want)
	}
}

// linear is 1, 2, ..., n: a series whose indicators have closed forms.
func linear(n int) []float64 {
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = float64(i + 1)
	}
	return xs
}

func TestMovingAveragesOnALinearSeries(t *testing.T) {
	xs := linear(60)
	sma20, sma50 := quant.SMA(xs, 20), quant.SMA(xs, 50)
	near(t, "SMA20[18]", sma20[18], math.NaN()) // fewer than 20 values
	near(t, "SMA20[19]", sma20[19], 10.5)       // mean of 1..20
	near(t, "SMA20[59]", sma20[59], 50.5)       // mean of 41..60
	near(t, "SMA50[59]", sma50[59], 35.5)       // mean of 11..60
	near(t, "SMA50[48]", sma50[48], math.NaN()) // fewer than 50 values
	ema := quant.EMA(xs, 20)
	// Seeded with SMA20 = 10.5 = x-9.5 at index 19. With alpha = 2/21 a
	// lag L behind a unit-slope line is stationary when L = (1-alpha)/alpha
	// = 9.5, so the EMA stays exactly 9.5 below the price.
	near(t, "EMA20[18]", ema[18], math.NaN())
	near(t, "EMA20[19]", ema[19], 10.5)
	near(t, "EMA20[20]", ema[20], 11.5)
	near(t, "EMA20[59]", ema[59], 50.5)
}

func TestBollingerOnALinearSeries(t *testing.T) {
	b := quant.Bollinger(linear(60), 20, 2)
	// The last window is 41..60: mean 50.5, population variance of 20
	// consecutive integers (20^2-1)/12 = 33.25, so bands 50.5 ± 2*sqrt(33.25).
	near(t, "middle", b[59].Middle, 50.5)
	near(t, "upper", b[59].Upper, 62.0325625947)
	near(t, "lower", b[59].Lower, 38.9674374053)
	near(t, "upper[18]", b[18].Upper, math.NaN())
}

func TestRSIWilder(t *testing.T) {
	// n = 3 on 10, 11, 10.5, 11.5, 11, 12: changes +1 -0.5 +1 -0.5 +1.
	// Seed: gain (1+1)/3 = 2/3, loss 0.5/3 = 1/6, RS 4, RSI 80.
	// Then -0.5: gain 4/9, loss (1/3+1/2)/3 = 5/18, RS 1.6, RSI 61.538461538.
	// Then +1: gain (8/9+1)/3 = 17/27, loss 5/27, RS 3.4, RSI 77.272727273.
	r := quant.RSI([]float64{10, 11, 10.5, 11.5, 11, 12}, 3)
	near(t, "RSI[2]", r[2], math.NaN())
	near(t, "RSI[3]", r[3], 80)
	near(t, "RSI[4]", r[4], 61.5384615385)
	near(t, "RSI[5]", r[5], 77.2727272727)

	// n = 14 on a zigzag of +1/-1 from 100: seven gains and seven losses
	// of 1 give RSI 50; one more +1 gives gain 7.5/14, loss 6.5/14,
	// RSI 100 - 100*13/28 = 53.571428571.
	xs := []float64{100}
	for i := 0; i < 15; i++ {
		if i%2 == 0 {
			xs = append(xs, xs[len(xs)-1]+1)
		} else {
			xs = append(xs, xs[len(xs)-1]-1)
		}
	}
	r = quant.RSI(xs, 14)
	near(t, "RSI14[14]", r[14], 50)
	near(t, "RSI14[15]", r[15], 53.5714285714)
	near(t, "RSI14 of a rising line", quant.RSI(linear(30), 14)[29], 100)
	near(t, "RSI14 of a flat line", quant.RSI(make([]float64, 30), 14)[29], 50)
}

func TestVolatilityIsTheStdDevOfLogReturns(t *testing.T) {
	// ln(1.1) and ln(0.9): sample sd = |ln 1.1 - ln 0.9| / sqrt 2.
	near(t, "volatility", quant.Volatility([]float64{100, 110, 99}), 0.1418956095)
	near(t, "one return", quant.Volatility([]float64{100, 110}), math.NaN())
	near(t, "flat", quant.Volatility([]float64{5, 5, 5}), 0)
}

func TestPearsonAndLinearFit(t *testing.T) {
	// x 1,2,3 y 2,4,7: sxy 5, sxx 2, syy 114/9, r = 5/sqrt(2*114/9).
	near(t, "pearson", quant.Pearson([]float64{1, 2, 3}, []float64{2, 4, 7}), 0.9933992678)
	near(t, "perfectly opposite", quant.Pearson([]float64{1, 2, 3, 4}, []float64{8, 6, 4, 2}), -1)
	near(t, "constant side", quant.Pearson([]float64{1, 2, 3}, []float64{1, 1, 1}), math.NaN())
	// x 0..3 y 1,3,2,5: sxy 5.5, sxx 5, slope 1.1, intercept 2.75-1.65,
	// R2 = 5.5^2/(5*8.75).
	f := quant.LinearFit([]float64{0, 1, 2, 3}, []float64{1, 3, 2, 5})
	near(t, "slope", f.Slope, 1.1)
	near(t, "intercept", f.Intercept, 1.1)
	near(t, "r2", f.R2, 0.6914285714)
}

func TestSupportResistance(t *testing.T) {
	highs := []float64{12, 15, 11, 13}
	lows := []float64{9, 10, 8, 10}
	closes := []float64{10, 14, 9, 12}
	l := quant.SupportResistance(highs, lows, closes, 3)
	// Last three buckets: lowest low 8, highest high 15. Pivot of the last
	// bucket (13, 10, 12): P = 35/3, S1 = 70/3-13, R1 = 70/3-10.
	near(t, "support", l.Support, 8)
	near(t, "resistance", l.Resistance, 15)
	near(t, "pivot", l.Pivot, 35.0/3)
	near(t, "s1", l.S1, 70.0/3-13)
	near(t, "r1", l.R1, 70.0/3-10)
	if l := quant.SupportResistance(highs, lows, closes, 2); l.Support != 8 || l.Resistance != 13 {
		t.Errorf("window 2: support %v resistance %v, want 8 and 13", l.Support, l.Resistance)
	}
}

func TestDriftForecastAndBacktest(t *testing.T) {
	// y[t] = 100 + t + 0.5*(-1)^t for t = 0..13: steps alternate 0 and 2.
	// Drift (112.5-100.5)/13 = 12/13; residuals -12/13 (7x) and 14/13 (6x),
	// SS 2184/169, sigma sqrt(SS/12) = 1.0377490433; the one-step sd is
	// sigma*sqrt(14/13) = 14/13.
	y := make([]float64, 14)
	for i := range y {
		y[i] = 100 + float64(i) + 0.5*math.Pow(-1, float64(i))
	}
	d, err := quant.FitDrift(y)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "drift", d.Drift, 12.0/13)
	near(t, "sigma", d.Sigma, 1.0377490433)
	p := d.Predict(2)
	near(t, "mean h1", p[0].Mean, 112.5+12.0/13)
	near(t, "lower95 h1", p[0].Lower95, 111.3123464782)
	near(t, "upper80 h1", p[0].Upper80, 112.5+12.0/13+1.2815515655*14/13)
	near(t, "mean h2", p[1].Mean, 112.5+24.0/13)
	if !(p[1].Upper95-p[1].Lower95 > p[0].Upper95-p[0].Lower95) {
		t.Errorf("interval at h2 %v is not wider than at h1 %v", p[1], p[0])
	}
	if _, err := quant.FitDrift(y[:13]); err == nil {
		t.Error("FitDrift on 13 points succeeded, want ErrTooShort")
	}

	// A series that is exactly linear is forecast exactly: MAPE 0 and
	// every actual inside its (zero-width) interval.
	bt, err := quant.BacktestDrift(linear(20), 5)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "MAPE on a line", bt.MAPE, 0)
	near(t, "coverage95 on a line", bt.Coverage95, 1)
	// Fitted on 1..15 (drift 1), forecasting 16..20 as 15+h; a jump of +10
	// in the last value: error 10/30 on one of five points = 6.6667%.
	ys := linear(20)
	ys[19] = 30
	bt, err = quant.BacktestDrift(ys, 5)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "MAPE with one miss", bt.MAPE, 100*(10.0/30)/5)
	near(t, "MAE with one miss", bt.MAE, 2)
	if _, err := quant.BacktestDrift(linear(18), 5); err == nil {
		t.Error("backtest of 5 on 18 points succeeded, want ErrTooShort (needs 14+5)")
	}
}
