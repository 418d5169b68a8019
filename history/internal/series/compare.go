package series

import (
	"context"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/ratewire/ratewire/history/internal/quant"
	"github.com/ratewire/ratewire/shared/kst"
)

// Compared is one currency of a comparison. Ranks are 1 for the largest
// change_percent and for the highest volatility.
type Compared struct {
	Code           string `json:"currency_code"`
	Start          Num    `json:"start"`
	End            Num    `json:"end"`
	Change         Num    `json:"change"`
	ChangePercent  Num    `json:"change_percent"`
	Volatility     Num    `json:"volatility"`
	ChangeRank     int    `json:"change_rank"`
	VolatilityRank int    `json:"volatility_rank"`
	DataPoints     int    `json:"data_points"`
}

// Performer names the best or worst currency of a comparison.
type Performer struct {
	Code          string `json:"currency_code"`
	ChangePercent Num    `json:"change_percent"`
}

// Correlation is the Pearson correlation matrix of the currencies' log
// returns, pairwise aligned on the buckets both have; Matrix[i][j] is for
// Codes[i] and Codes[j], null with fewer than three aligned returns.
type Correlation struct {
	Codes  []string `json:"codes"`
	Matrix [][]Num  `json:"matrix"`
}

// Comparison is the answer of GET /api/v1/history/compare.
type Comparison struct {
	Base        string      `json:"base"`
	Period      string      `json:"period"`
	Interval    string      `json:"interval"`
	From        time.Time   `json:"from"`
	To          time.Time   `json:"to"`
	Currencies  []Compared  `json:"currencies"`
	Correlation Correlation `json:"correlation"`
	Best        Performer   `json:"best_performer"`
	Worst       Performer   `json:"worst_performer"`
}

// CompareWindow is the window a comparison uses when no interval was asked
// for: daily returns for windows of a week or more, the window's own
// default below that.
func CompareWindow(w Window) Window {
	if w.To.Sub(w.From) >= 7*24*time.Hour {
		w.Interval, _ = parseInterval("1d")
	}
	return w
}

// Compare answers how targets moved against base over w as an encoded
// Comparison, served from the cache when it can be.
func (s *Service) Compare(ctx context.Context, targets []string, base string, w Window) (Encoded, error) {
	k := "stats:compare:" + base + ":" + strings.Join(targets, ",") + ":" + w.Label() + ":" + w.Interval.Name
	return cached(ctx, s, k, append([]string{base}, targets...), TTL(w), func() (Comparison, error) {
		series := make([][]Bucket, len(targets))
		c := Comparison{Base: base, Period: periodName(w), Interval: w.Interval.Name, From: w.From.In(kst.Zone), To: w.To.In(kst.Zone),
			Currencies: make([]Compared, len(targets)), Correlation: Correlation{Codes: targets}}
		for i, t := range targets {
			bs, read, err := s.buckets(ctx, t, base, w)
			if err != nil {
				return Comparison{}, err
			}
			if read.To.After(c.To) { // the window covers every series read
				c.To = read.To.In(kst.Zone)
			}
			series[i] = bs
			first, last := bs[0].Open, bs[len(bs)-1].Close
			c.Currencies[i] = Compared{Code: t, Start: Num(first), End: Num(last), Change: Num(last - first),
				ChangePercent: Num(pct(last-first, first)), Volatility: Num(quant.Volatility(closes(bs))), DataPoints: len(bs)}
		}
		rank(c.Currencies, func(x Compared) Num { return x.ChangePercent }, func(x *Compared, r int) { x.ChangeRank = r })
		rank(c.Currencies, func(x Compared) Num { return x.Volatility }, func(x *Compared, r int) { x.VolatilityRank = r })
		best, worst := c.Currencies[0], c.Currencies[0]
		for _, x := range c.Currencies[1:] {
			if x.ChangeRank < best.ChangeRank {
				best = x
			}
			if x.ChangeRank > worst.ChangeRank {
				worst = x
			}
		}
		c.Best = Performer{best.Code, best.ChangePercent}
		c.Worst = Performer{worst.Code, worst.ChangePercent}
		c.Correlation.Matrix = correlations(series)
		return c, nil
	})
}

// rank orders by value, largest first (nulls last); equal values share a
// rank (1, 1, 3).
func rank(cs []Compared, val func(Compared) Num, set func(*Compared, int)) {
	idx := make([]int, len(cs))
	for i := range idx {
		idx[i] = i
	}
	key := func(i int) float64 {
		if v := val(cs[i]); v.Valid() {
			return float64(v)
		}
		return math.Inf(-1)
	}
	sort.SliceStable(idx, func(a, b int) bool { return key(idx[a]) > key(idx[b]) })
	r := 0
	for pos, i := range idx {
		if pos == 0 || key(idx[pos-1]) != key(i) {
			r = pos + 1
		}
		set(&cs[i], r)
	}
}

// correlations is the pairwise Pearson matrix of log returns aligned on
// bucket start.
func correlations(series [][]Bucket) [][]Num {
	n := len(series)
	m := make([][]Num, n)
	for i := range m {
		m[i] = make([]Num, n)
		m[i][i] = 1
	}
	for i := 0; i < n; i++ {
		for j := i + 1; j < n; j++ {
			x, y := alignedReturns(series[i], series[j])
			r := Num(quant.Pearson(x, y))
			m[i][j], m[j][i] = r, r
		}
	}
	return m
}

// alignedReturns keeps the buckets both series have and returns their log
// returns between consecutive kept buckets.
func alignedReturns(a, b []Bucket) ([]float64, []float64) {
	var pa, pb []float64
	j := 0
	for _, x := range a {
		for j < len(b) && b[j].Start.Before(x.Start) {
			j++
		}
		if j < len(b) && b[j].Start.Equal(x.Start) {
			pa, pb = append(pa, x.Close), append(pb, b[j].Close)
		}
	}
	return quant.LogReturns(pa), quant.LogReturns(pb)
}
