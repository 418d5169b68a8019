// Package chart draws the currency page's chart as SVG on the server: daily
// candles, the 20-day moving average and Bollinger bands over them, and the
// forecast's 80 % and 95 % intervals after them. Drawing it in Go keeps the
// page free of chart libraries and external hosts, and makes the picture
// testable without a browser.
package chart

import (
	"fmt"
	"html/template"
	"math"
	"strconv"
	"strings"
	"time"
)

// Candle is one day's open, high, low and close.
type Candle struct {
	Date                   time.Time
	Open, High, Low, Close float64
}

// Band is a value per candle that may be missing (an indicator's warm-up).
type Band []*float64

// Future is one forecast day with its intervals.
type Future struct {
	Date                                     string
	Rate, Lower80, Upper80, Lower95, Upper95 float64
}

// Chart is what to draw. Every value is already in display units (KRW per
// 1 or per 100).
type Chart struct {
	Candles []Candle
	// SMA, Upper and Lower are aligned with Candles (nil or shorter: not drawn).
	SMA, Upper, Lower Band
	Forecast          []Future
	// Title labels the picture for screen readers.
	Title string
	// Legend names the series in the page's language.
	Legend Legend
}

// Legend is the words of the chart's legend.
type Legend struct {
	SMA, Bollinger, Forecast, Interval80, Interval95 string
}

// Size of the drawing in SVG user units; the page scales it to its width.
const (
	Width   = 800
	Height  = 320
	padL    = 64
	padR    = 12
	padT    = 24
	padB    = 28
	maxXTix = 6
)

// SVG returns the chart as an inline <svg> element. With no candles it
// returns "" (the page says there is no data instead).
func SVG(c Chart) template.HTML {
	n := len(c.Candles)
	if n == 0 {
		return ""
	}
	slots := n + len(c.Forecast)
	lo, hi := math.Inf(1), math.Inf(-1)
	see := func(v float64) {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	}
	for _, k := range c.Candles {
		see(k.Low)
		see(k.High)
	}
	for _, b := range []Band{c.SMA, c.Upper, c.Lower} {
		for i := 0; i < len(b) && i < n; i++ {
			if b[i] != nil {
				see(*b[i])
			}
		}
	}
	for _, f := range c.Forecast {
		see(f.Lower95)
		see(f.Upper95)
	}
	if hi <= lo {
		hi, lo = hi+1, lo-1
	}
	pad := (hi - lo) * 0.05
	lo, hi = lo-pad, hi+pad
	plotW := float64(Width - padL - padR)
	plotH := float64(Height - padT - padB)
	step := plotW / float64(slots)
	x := func(i int) float64 { return padL + step*(float64(i)+0.5) }
	y := func(v float64) float64 { return padT + (hi-v)/(hi-lo)*plotH }

	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" role="img" aria-label="%s" xmlns="http://www.w3.org/2000/svg">`, Width, Height, template.HTMLEscapeString(c.Title))
	// Grid and price labels.
	for i := 0; i <= 4; i++ {
		v := lo + (hi-lo)*float64(i)/4
		yy := y(v)
		fmt.Fprintf(&b, `<line class="grid" x1="%d" x2="%d" y1="%s" y2="%s"/>`, padL, Width-padR, f1(yy), f1(yy))
		fmt.Fprintf(&b, `<text class="axis" x="%d" y="%s" text-anchor="end">%s</text>`, padL-6, f1(yy+4), Price(v))
	}
	// Date labels.
	every := max(1, (slots+maxXTix-1)/maxXTix)
	for i := 0; i < slots; i += every {
		var label string
		if i < n {
			label = c.Candles[i].Date.Format("01-02")
		} else if d, err := time.Parse("2006-01-02", c.Forecast[i-n].Date); err == nil {
			label = d.Format("01-02")
		}
		fmt.Fprintf(&b, `<text class="axis" x="%s" y="%d" text-anchor="middle">%s</text>`, f1(x(i)), Height-8, label)
	}
	// Bollinger band as a filled area between upper and lower, then the SMA.
	if area := bandArea(c.Upper, c.Lower, n, x, y); area != "" {
		fmt.Fprintf(&b, `<path class="bollinger" d="%s"><title>%s</title></path>`, area, template.HTMLEscapeString(c.Legend.Bollinger))
	}
	for _, l := range []struct {
		band  Band
		class string
	}{{c.Upper, "bollinger-edge"}, {c.Lower, "bollinger-edge"}, {c.SMA, "sma"}} {
		if p := polyline(l.band, n, x, y); p != "" {
			fmt.Fprintf(&b, `<polyline class="%s" points="%s"/>`, l.class, p)
		}
	}
	// Candles: a wick from low to high, a body from open to close.
	bw := math.Max(1, step*0.6)
	for i, k := range c.Candles {
		class := "candle up"
		if k.Close < k.Open {
			class = "candle down"
		}
		top, bot := y(math.Max(k.Open, k.Close)), y(math.Min(k.Open, k.Close))
		fmt.Fprintf(&b, `<g class="%s"><title>%s O %s H %s L %s C %s</title><line x1="%s" x2="%s" y1="%s" y2="%s"/><rect x="%s" y="%s" width="%s" height="%s"/></g>`,
			class, k.Date.Format("2006-01-02"), Price(k.Open), Price(k.High), Price(k.Low), Price(k.Close),
			f1(x(i)), f1(x(i)), f1(y(k.High)), f1(y(k.Low)),
			f1(x(i)-bw/2), f1(top), f1(bw), f1(math.Max(1, bot-top)))
	}
	// Forecast: the 95 % and 80 % intervals as areas, the point forecast as a line
	// starting from the last close.
	if m := len(c.Forecast); m > 0 {
		last := c.Candles[n-1].Close
		var a95, a80, mid strings.Builder
		fmt.Fprintf(&mid, "%s,%s", f1(x(n-1)), f1(y(last)))
		for i, f := range c.Forecast {
			fmt.Fprintf(&mid, " %s,%s", f1(x(n+i)), f1(y(f.Rate)))
		}
		area := func(sb *strings.Builder, upper, lower func(Future) float64) {
			fmt.Fprintf(sb, "M%s,%s", f1(x(n-1)), f1(y(last)))
			for i, f := range c.Forecast {
				fmt.Fprintf(sb, " L%s,%s", f1(x(n+i)), f1(y(upper(f))))
			}
			for i := m - 1; i >= 0; i-- {
				fmt.Fprintf(sb, " L%s,%s", f1(x(n+i)), f1(y(lower(c.Forecast[i]))))
			}
			sb.WriteString(" Z")
		}
		area(&a95, func(f Future) float64 { return f.Upper95 }, func(f Future) float64 { return f.Lower95 })
		area(&a80, func(f Future) float64 { return f.Upper80 }, func(f Future) float64 { return f.Lower80 })
		fmt.Fprintf(&b, `<path class="interval95" d="%s"><title>%s</title></path>`, a95.String(), template.HTMLEscapeString(c.Legend.Interval95))
		fmt.Fprintf(&b, `<path class="interval80" d="%s"><title>%s</title></path>`, a80.String(), template.HTMLEscapeString(c.Legend.Interval80))
		fmt.Fprintf(&b, `<polyline class="forecast" points="%s"><title>%s</title></polyline>`, mid.String(), template.HTMLEscapeString(c.Legend.Forecast))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) //nolint:gosec // every interpolated text is escaped above; the rest are numbers
}

// polyline joins the present values of band; a gap (nil) restarts it only
// after the warm-up, so only the leading gap is skipped.
func polyline(band Band, n int, x func(int) float64, y func(float64) float64) string {
	var pts []string
	for i := 0; i < len(band) && i < n; i++ {
		if band[i] != nil {
			pts = append(pts, f1(x(i))+","+f1(y(*band[i])))
		}
	}
	if len(pts) < 2 {
		return ""
	}
	return strings.Join(pts, " ")
}

func bandArea(upper, lower Band, n int, x func(int) float64, y func(float64) float64) string {
	var idx []int
	for i := 0; i < n && i < len(upper) && i < len(lower); i++ {
		if upper[i] != nil && lower[i] != nil {
			idx = append(idx, i)
		}
	}
	if len(idx) < 2 {
		return ""
	}
	var b strings.Builder
	for j, i := range idx {
		cmd := "L"
		if j == 0 {
			cmd = "M"
		}
		fmt.Fprintf(&b, "%s%s,%s ", cmd, f1(x(i)), f1(y(*upper[i])))
	}
	for j := len(idx) - 1; j >= 0; j-- {
		fmt.Fprintf(&b, "L%s,%s ", f1(x(idx[j])), f1(y(*lower[idx[j]])))
	}
	b.WriteString("Z")
	return b.String()
}

func f1(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

// Price formats a KRW amount for an axis or a tooltip: two decimals with
// thousands separators.
func Price(v float64) string {
	s := strconv.FormatFloat(math.Abs(v), 'f', 2, 64)
	intPart, frac, _ := strings.Cut(s, ".")
	var b strings.Builder
	if v < 0 {
		b.WriteByte('-')
	}
	for i, r := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String() + "." + frac
}
