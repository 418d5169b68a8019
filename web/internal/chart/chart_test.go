package chart_test

import (
	"strings"
	"testing"
	"time"

	"github.com/ratewire/ratewire/web/internal/chart"
)

func p(v float64) *float64 { return &v }

func TestSVG(t *testing.T) {
	day := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	c := chart.Chart{Title: "USD <1m>", Legend: chart.Legend{Forecast: "예측"}}
	for i := range 5 {
		o := 1300 + float64(i)
		c.Candles = append(c.Candles, chart.Candle{Date: day.AddDate(0, 0, i), Open: o, High: o + 5, Low: o - 5, Close: o + float64(i%2*2-1)})
	}
	c.SMA = chart.Band{nil, nil, p(1301), p(1302), p(1303)}
	c.Upper = chart.Band{nil, nil, p(1310), p(1311), p(1312)}
	c.Lower = chart.Band{nil, nil, p(1290), p(1291), p(1292)}
	c.Forecast = []chart.Future{{Date: "2026-11-06", Rate: 1304, Lower80: 1300, Upper80: 1308, Lower95: 1298, Upper95: 1310}}
	svg := string(chart.SVG(c))
	for _, want := range []string{`<svg class="chart"`, `aria-label="USD &lt;1m&gt;"`, `class="sma"`, `class="bollinger"`, `class="interval95"`, `class="interval80"`, `class="forecast"`, `<title>예측</title>`, `1,300.00`} {
		if !strings.Contains(svg, want) {
			t.Errorf("svg lacks %q", want)
		}
	}
	if got := strings.Count(svg, `<g class="candle`); got != 5 {
		t.Errorf("%d candles drawn, want 5", got)
	}
	if got := strings.Count(svg, `class="candle down"`); got != 3 {
		t.Errorf("%d down candles, want 3 (closes below opens)", got)
	}
	if strings.Contains(svg, "NaN") || strings.Contains(svg, "Inf") {
		t.Error("svg has NaN or Inf coordinates")
	}
}

func TestSVGEmptyAndFlat(t *testing.T) {
	if got := chart.SVG(chart.Chart{}); got != "" {
		t.Errorf("no candles drew %q, want nothing", got)
	}
	flat := chart.Chart{Candles: []chart.Candle{{Open: 5, High: 5, Low: 5, Close: 5}}}
	if svg := string(chart.SVG(flat)); !strings.Contains(svg, `<g class="candle up"`) || strings.Contains(svg, "NaN") {
		t.Errorf("one flat candle: %s", svg)
	}
}

func TestPrice(t *testing.T) {
	for in, want := range map[float64]string{0: "0.00", 965.964: "965.96", 1373.986: "1,373.99", 1234567.1: "1,234,567.10", -1500: "-1,500.00"} {
		if got := chart.Price(in); got != want {
			t.Errorf("Price(%v) = %q, want %q", in, got, want)
		}
	}
}
