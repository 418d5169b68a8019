package series

import (
	"context"
	"errors"
	"math"
	"strconv"
	"time"

	"github.com/ratewire/ratewire/history/internal/quant"
	"github.com/ratewire/ratewire/shared/apperr"
	"github.com/ratewire/ratewire/shared/kst"
)

// Indicator parameters: the conventional ones.
const (
	smaShort     = 20
	smaLong      = 50
	emaPeriod    = 20
	rsiPeriod    = 14
	bollPeriod   = 20
	bollK        = 2.0
	levelsWindow = 20
	// warmupBuckets is how many buckets before the window are read so the
	// longest indicator (SMA 50) has a value from the window's start.
	warmupBuckets = smaLong
)

// Bollinger is the last Bollinger reading: the 20-bucket SMA ± 2
// population standard deviations; PercentB is where the close sits
// (0 = lower band, 1 = upper); BandwidthPercent is (upper-lower)/middle.
type Bollinger struct {
	Middle           Num `json:"middle"`
	Upper            Num `json:"upper"`
	Lower            Num `json:"lower"`
	BandwidthPercent Num `json:"bandwidth_percent"`
	PercentB         Num `json:"percent_b"`
}

// Pivot holds the classic pivot levels of the last bucket.
type Pivot struct {
	P  Num `json:"p"`
	S1 Num `json:"s1"`
	R1 Num `json:"r1"`
}

// Signals read the indicators: rsi "overbought" (>70), "oversold" (<30)
// or "neutral"; moving_averages "bullish" when SMA 20 is above SMA 50,
// "bearish" below; bollinger "above_upper", "below_lower" or "inside";
// "unknown" when the indicator has no value.
type Signals struct {
	RSI            string `json:"rsi"`
	MovingAverages string `json:"moving_averages"`
	Bollinger      string `json:"bollinger"`
}

// AnalysisPoint is one bucket of the window with its indicators.
type AnalysisPoint struct {
	Date    time.Time `json:"date"`
	Close   Num       `json:"close"`
	SMA20   Num       `json:"sma_20"`
	SMA50   Num       `json:"sma_50"`
	EMA20   Num       `json:"ema_20"`
	RSI14   Num       `json:"rsi_14"`
	BBUpper Num       `json:"bollinger_upper"`
	BBLower Num       `json:"bollinger_lower"`
}

// Analysis is the answer of GET /api/v1/history/analysis: the indicators
// at the last bucket, and per bucket of the window.
type Analysis struct {
	Base         string          `json:"base"`
	Target       string          `json:"target"`
	Period       string          `json:"period"`
	Interval     string          `json:"interval"`
	From         time.Time       `json:"from"`
	To           time.Time       `json:"to"`
	DataPoints   int             `json:"data_points"`
	WarmupPoints int             `json:"warmup_points"`
	LastClose    Num             `json:"last_close"`
	SMA20        Num             `json:"sma_20"`
	SMA50        Num             `json:"sma_50"`
	EMA20        Num             `json:"ema_20"`
	RSI14        Num             `json:"rsi_14"`
	Bollinger    Bollinger       `json:"bollinger"`
	Support      Num             `json:"support"`
	Resistance   Num             `json:"resistance"`
	Pivot        Pivot           `json:"pivot"`
	Trend        Trend           `json:"trend"`
	Signals      Signals         `json:"signals"`
	Series       []AnalysisPoint `json:"series"`
}

// Analysis computes technical indicators of target in base over w, as an
// encoded Analysis served from the cache when it can be. The buckets of
// warmupBuckets intervals before w are read too, so moving averages are
// defined from the window's start when that history exists.
func (s *Service) Analysis(ctx context.Context, target, base string, w Window) (Encoded, error) {
	return cached(ctx, s, key("analysis", base, target, w), []string{base, target}, TTL(w), func() (Analysis, error) {
		wide := w
		if w.Interval.Weekly() {
			wide.From = w.From.AddDate(0, 0, -7*warmupBuckets)
		} else {
			wide.From = w.From.Add(-time.Duration(warmupBuckets) * w.Interval.Step)
		}
		all, read, err := s.load(ctx, target, base, wide)
		w.To = read.To // a window that ends now covers what it read
		var ae *apperr.Error
		if errors.As(err, &ae) && ae.Kind == apperr.KindNotFound {
			err = noData(target+"/"+base, w)
		}
		if err != nil {
			return Analysis{}, err
		}
		first := bucketStart(w.From, w.Interval.Step)
		if w.Interval.Daily() {
			d := kst.Midnight(w.From)
			if w.Interval.Weekly() {
				d = d.AddDate(0, 0, -((int(d.Weekday()) + 6) % 7))
			}
			first = d
		}
		start := len(all)
		for i, b := range all {
			if !b.Start.Before(first) {
				start = i
				break
			}
		}
		if start == len(all) {
			return Analysis{}, noData(target+"/"+base, w)
		}
		return analyse(all, start, target, base, w), nil
	})
}

// analyse computes the indicators over all buckets and reports those from
// index start on.
func analyse(all []Bucket, start int, target, base string, w Window) Analysis {
	cs := closes(all)
	highs, lows := make([]float64, len(all)), make([]float64, len(all))
	for i, b := range all {
		highs[i], lows[i] = b.High, b.Low
	}
	sma20, sma50, ema20 := quant.SMA(cs, smaShort), quant.SMA(cs, smaLong), quant.EMA(cs, emaPeriod)
	rsi, bands := quant.RSI(cs, rsiPeriod), quant.Bollinger(cs, bollPeriod, bollK)
	lv := quant.SupportResistance(highs[start:], lows[start:], cs[start:], levelsWindow)
	last := len(all) - 1
	bb := bands[last]
	a := Analysis{Base: base, Target: target, Period: periodName(w), Interval: w.Interval.Name,
		From: w.From.In(kst.Zone), To: w.To.In(kst.Zone), DataPoints: len(all) - start, WarmupPoints: start,
		LastClose: Num(cs[last]), SMA20: Num(sma20[last]), SMA50: Num(sma50[last]), EMA20: Num(ema20[last]), RSI14: Num(rsi[last]),
		Bollinger: Bollinger{Middle: Num(bb.Middle), Upper: Num(bb.Upper), Lower: Num(bb.Lower),
			BandwidthPercent: Num(100 * (bb.Upper - bb.Lower) / bb.Middle), PercentB: Num((cs[last] - bb.Lower) / (bb.Upper - bb.Lower))},
		Support: Num(lv.Support), Resistance: Num(lv.Resistance), Pivot: Pivot{Num(lv.Pivot), Num(lv.S1), Num(lv.R1)},
		Trend: trendOf(all[start:]),
	}
	a.Signals = Signals{RSI: "unknown", MovingAverages: "unknown", Bollinger: "unknown"}
	if r := rsi[last]; !math.IsNaN(r) {
		a.Signals.RSI = map[bool]string{true: "overbought", false: "neutral"}[r > 70]
		if r < 30 {
			a.Signals.RSI = "oversold"
		}
	}
	if !math.IsNaN(sma20[last]) && !math.IsNaN(sma50[last]) {
		a.Signals.MovingAverages = "bullish"
		if sma20[last] < sma50[last] {
			a.Signals.MovingAverages = "bearish"
		} else if sma20[last] == sma50[last] {
			a.Signals.MovingAverages = "neutral"
		}
	}
	if !math.IsNaN(bb.Upper) {
		switch {
		case cs[last] > bb.Upper:
			a.Signals.Bollinger = "above_upper"
		case cs[last] < bb.Lower:
			a.Signals.Bollinger = "below_lower"
		default:
			a.Signals.Bollinger = "inside"
		}
	}
	a.Series = make([]AnalysisPoint, 0, len(all)-start)
	for i := start; i < len(all); i++ {
		a.Series = append(a.Series, AnalysisPoint{Date: all[i].Start.In(kst.Zone), Close: Num(cs[i]), SMA20: Num(sma20[i]),
			SMA50: Num(sma50[i]), EMA20: Num(ema20[i]), RSI14: Num(rsi[i]), BBUpper: Num(bands[i].Upper), BBLower: Num(bands[i].Lower)})
	}
	return a
}

// ForecastPoint is the forecast of one step (one observed day) ahead.
type ForecastPoint struct {
	Date    string `json:"date"`
	Rate    Num    `json:"rate"`
	Lower80 Num    `json:"lower_80"`
	Upper80 Num    `json:"upper_80"`
	Lower95 Num    `json:"lower_95"`
	Upper95 Num    `json:"upper_95"`
}

// BacktestResult is how the same method did on the last Horizon days of
// the history when fitted on the days before them.
type BacktestResult struct {
	HorizonDays    int    `json:"horizon_days"`
	TrainedThrough string `json:"trained_through"`
	MAPEPercent    Num    `json:"mape_percent"`
	MAE            Num    `json:"mae"`
	Coverage80     Num    `json:"coverage_80"`
	Coverage95     Num    `json:"coverage_95"`
}

// Forecast is the answer of GET /api/v1/history/forecast/{code}.
type Forecast struct {
	Base          string          `json:"base"`
	Target        string          `json:"target"`
	Method        string          `json:"method"`
	Days          int             `json:"days"`
	HistoryFrom   string          `json:"history_from"`
	HistoryTo     string          `json:"history_to"`
	HistoryPoints int             `json:"history_points"`
	LastRate      Num             `json:"last_rate"`
	DriftPerDay   Num             `json:"drift_per_day"`
	ResidualStd   Num             `json:"residual_std"`
	Forecast      []ForecastPoint `json:"forecast"`
	Backtest      BacktestResult  `json:"backtest"`
}

// forecastMethod describes the model in every answer.
const forecastMethod = "random walk with drift on daily closes (KST days); intervals from one-step residuals, " +
	"widening as sigma*sqrt(h*(1+h/(T-1)))"

// forecastHistoryDays is how much daily history the model is fitted on.
const forecastHistoryDays = 365

// Forecast predicts target in base for the next days observed days, with
// 80% and 95% prediction intervals and the method's backtested error over
// the last days days, as an encoded Forecast served from the cache when it
// can be. Fewer than quant.MinFitPoints+days daily closes is 422.
func (s *Service) Forecast(ctx context.Context, target, base string, days int) (Encoded, error) {
	now := s.now().UTC()
	w := Window{From: now.AddDate(0, 0, -forecastHistoryDays), To: now, Interval: Interval{"1d", 24 * time.Hour}, EndsNow: true}
	k := "analysis:forecast:" + base + ":" + target + ":" + kst.Day(w.To) + ":" + strconv.Itoa(days)
	return cached(ctx, s, k, []string{base, target}, time.Hour, func() (Forecast, error) {
		bs, _, err := s.buckets(ctx, target, base, w)
		if err != nil {
			return Forecast{}, err
		}
		need := quant.MinFitPoints + days
		if len(bs) < need {
			return Forecast{}, apperr.Unprocessable(CodeNotEnoughData,
				"not enough daily history to forecast and backtest "+strconv.Itoa(days)+" days",
				map[string]any{"have_days": len(bs), "need_days": need})
		}
		y := closes(bs)
		fit, err := quant.FitDrift(y)
		if err != nil {
			return Forecast{}, err
		}
		bt, err := quant.BacktestDrift(y, days)
		if err != nil {
			return Forecast{}, err
		}
		day := func(i int) string { return kst.Day(bs[i].Start) }
		f := Forecast{Base: base, Target: target, Method: forecastMethod, Days: days,
			HistoryFrom: day(0), HistoryTo: day(len(bs) - 1), HistoryPoints: len(bs),
			LastRate: Num(fit.Last), DriftPerDay: Num(fit.Drift), ResidualStd: Num(fit.Sigma),
			Backtest: BacktestResult{HorizonDays: days, TrainedThrough: day(len(bs) - 1 - days), MAPEPercent: Num(bt.MAPE),
				MAE: Num(bt.MAE), Coverage80: Num(bt.Coverage80), Coverage95: Num(bt.Coverage95)}}
		lastDay := bs[len(bs)-1].Start.In(kst.Zone)
		for _, p := range fit.Predict(days) {
			f.Forecast = append(f.Forecast, ForecastPoint{Date: lastDay.AddDate(0, 0, p.H).Format(time.DateOnly),
				Rate: Num(p.Mean), Lower80: Num(p.Lower80), Upper80: Num(p.Upper80), Lower95: Num(p.Lower95), Upper95: Num(p.Upper95)})
		}
		return f, nil
	})
}
