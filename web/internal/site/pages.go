package site

import (
	"context"
	"fmt"
	"html/template"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ratewire/ratewire/web/internal/api"
	"github.com/ratewire/ratewire/web/internal/chart"
	"github.com/ratewire/ratewire/web/internal/promtext"
)

var codeRe = regexp.MustCompile(`^[A-Z]{3}$`)

type currencyData struct {
	Rate        api.Rate
	Name        string
	CountryName string
	Unit        int
	Period      string
	Periods     []string
	Country     string
	Chart       template.HTML
	HistoryErr  string
	Stats       *api.Stats
	Analysis    *api.Analysis
	AnalysisErr string
	Forecast    *api.Forecast
	ForecastErr string
	// Scaled figures (per Unit) for the words.
	FcWords, FcError string
}

func (s *Site) currency(c *gin.Context) {
	code := strings.ToUpper(c.Param("code"))
	p := s.newPage(c, "", "err.title")
	if !codeRe.MatchString(code) || code == "KRW" {
		p.Err = &pageError{Message: p.L.F("err.currency", c.Param("code"))}
		s.render(c, http.StatusNotFound, "error", p)
		return
	}
	period := c.Query("period")
	if !slices.Contains(Periods, period) {
		period = "1m"
	}
	var (
		wg               sync.WaitGroup
		rate             api.Rate
		hist             api.History
		an               api.Analysis
		fc               api.Forecast
		rateErr, histErr error
		anErr, fcErr     error
		countryName      string
	)
	ctx := c.Request.Context()
	wg.Add(4)
	go func() { defer wg.Done(); rate, rateErr = s.cfg.API.Rate(ctx, code) }()
	go func() { defer wg.Done(); hist, histErr = s.cfg.API.History(ctx, code, period) }()
	go func() { defer wg.Done(); an, anErr = s.cfg.API.Analysis(ctx, code, period) }()
	go func() { defer wg.Done(); fc, fcErr = s.cfg.API.Forecast(ctx, code, forecastDays) }()
	wg.Wait()
	if rateErr != nil {
		s.fail(c, p, rateErr, code)
		return
	}
	// ?country= names the country chosen in the search, when it is one
	// that pays in this currency; anything else is ignored.
	countryCode := ""
	if cc := strings.ToUpper(c.Query("country")); len(cc) == 2 {
		for _, ct := range s.countries {
			if ct.Code == cc && ct.Currency == code {
				countryCode, countryName = ct.Code, ct.NameKo
				if p.Lang == LangEn {
					countryName = ct.NameEn
				}
			}
		}
	}
	unit := max(rate.DisplayUnit, 1)
	d := &currencyData{Rate: rate, Unit: unit, Period: period, Periods: Periods, Country: countryCode, CountryName: countryName}
	d.Name = rate.CurrencyName
	if p.Lang == LangEn {
		d.Name = rate.CurrencyNameEn
	}
	p.Title = p.L.F("currency.title", d.Name, code)
	p.Active = ""

	u := float64(unit)
	scale := func(v *float64) *float64 {
		if v == nil {
			return nil
		}
		x := *v * u
		return &x
	}
	ch := chart.Chart{
		Title: p.Title + " " + period,
		Legend: chart.Legend{SMA: p.L.T("legend.sma"), Bollinger: p.L.T("legend.bollinger"), Forecast: p.L.T("legend.forecast"),
			Interval80: p.L.T("legend.i80"), Interval95: p.L.T("legend.i95")},
	}
	if histErr != nil {
		d.HistoryErr, _ = s.explain(p.L, histErr, code)
	} else {
		st := hist.Statistics
		st.Current, st.Average, st.Min, st.Max, st.Change = scale(st.Current), scale(st.Average), scale(st.Min), scale(st.Max), scale(st.Change)
		d.Stats = &st
		for _, pt := range hist.Results {
			ch.Candles = append(ch.Candles, chart.Candle{Date: pt.Date.In(kst), Open: pt.Open * u, High: pt.High * u, Low: pt.Low * u, Close: pt.Rate * u})
		}
	}
	if anErr != nil {
		d.AnalysisErr, _ = s.explain(p.L, anErr, code)
	} else {
		a := an
		a.SMA20, a.SMA50, a.EMA20, a.Support, a.Resistance = scale(a.SMA20), scale(a.SMA50), scale(a.EMA20), scale(a.Support), scale(a.Resistance)
		if a.Bollinger != nil {
			b := *a.Bollinger
			b.Middle, b.Upper, b.Lower = scale(b.Middle), scale(b.Upper), scale(b.Lower)
			a.Bollinger = &b
		}
		d.Analysis = &a
		// The overlays follow the candles day by day.
		byDay := map[string]api.AnalysisPoint{}
		for _, pt := range an.Series {
			byDay[pt.Date.In(kst).Format("2006-01-02")] = pt
		}
		for _, k := range ch.Candles {
			pt, ok := byDay[k.Date.Format("2006-01-02")]
			if !ok {
				ch.SMA, ch.Upper, ch.Lower = append(ch.SMA, nil), append(ch.Upper, nil), append(ch.Lower, nil)
				continue
			}
			ch.SMA = append(ch.SMA, scale(pt.SMA20))
			ch.Upper = append(ch.Upper, scale(pt.BollingerUpper))
			ch.Lower = append(ch.Lower, scale(pt.BollingerLower))
		}
	}
	if fcErr != nil {
		if api.KindOf(fcErr) == api.KindUnavailable {
			d.ForecastErr = p.L.T("currency.fc.none")
		} else {
			d.ForecastErr, _ = s.explain(p.L, fcErr, code)
		}
	} else if len(fc.Forecast) > 0 {
		d.Forecast = &fc
		for _, f := range fc.Forecast {
			ch.Forecast = append(ch.Forecast, chart.Future{Date: f.Date, Rate: f.Rate * u, Lower80: f.Lower80 * u, Upper80: f.Upper80 * u, Lower95: f.Lower95 * u, Upper95: f.Upper95 * u})
		}
		last := fc.Forecast[len(fc.Forecast)-1]
		d.FcWords = p.L.F("currency.fc.words", last.Date, fixed(last.Rate*u, 2), fixed(last.Lower80*u, 2), fixed(last.Upper80*u, 2), fixed(last.Lower95*u, 2), fixed(last.Upper95*u, 2))
		bt := fc.Backtest
		if bt.MAPEPercent != nil && bt.MAE != nil && bt.Coverage80 != nil && bt.Coverage95 != nil && bt.HorizonDays > 0 {
			d.FcError = p.L.F("currency.fc.error", bt.TrainedThrough, bt.HorizonDays, fixed(*bt.MAPEPercent, 2), fixed(*bt.MAE*u, 2), fixed(*bt.Coverage80*100, 0), fixed(*bt.Coverage95*100, 0))
		} else {
			d.FcError = p.L.T("currency.fc.noerror")
		}
	}
	if len(ch.Candles) > 0 {
		d.Chart = chart.SVG(ch)
	}
	p.Data = d
	s.render(c, http.StatusOK, "currency", p)
}

type popularData struct {
	Period    string
	Periods   []string
	Ranking   api.Ranking
	RefreshMS int64
}

// popularLimit is how many countries the popular page lists.
const popularLimit = 20

func (s *Site) popular(c *gin.Context) {
	p := s.newPage(c, "popular", "popular.title")
	period := c.Query("period")
	if !slices.Contains(RankingPeriods, period) {
		period = "daily"
	}
	r, err := s.cfg.API.Rankings(c, period, popularLimit)
	if err != nil {
		s.fail(c, p, err, "")
		return
	}
	p.Data = &popularData{Period: period, Periods: RankingPeriods, Ranking: r, RefreshMS: s.cfg.PopularRefresh.Milliseconds()}
	s.render(c, http.StatusOK, "popular", p)
}

// lagRow is one group's lag on one partition.
type lagRow struct {
	Group, Topic, Partition string
	Messages                int64
}

// dlqRow is one dead-letter topic's count.
type dlqRow struct {
	Topic  string
	Stored *int64 // messages in the topic, when a service measures them
	Sent   int64  // dead-lettered by the running consumers since they started
}

type statusData struct {
	Runs       []api.Run
	RunsErr    string
	Ingest     *api.IngestStatus
	IngestErr  string
	OutboxAge  *float64
	Lag        []lagRow
	DLQ        []dlqRow
	MetricsErr []string
	KafkaUI    string
}

// statusRuns is how many runs the status page lists.
const statusRuns = 10

// Metric families the status page reads from the services.
const (
	metricLag       = "ratewire_consumer_lag_messages"
	metricConsumed  = "ratewire_consumer_messages_total"
	metricDLQStored = "ratewire_dlq_messages"
	metricOutboxAge = "ratewire_outbox_oldest_pending_age_seconds"
)

func (s *Site) status(c *gin.Context) {
	p := s.newPage(c, "status", "status.title")
	ep := s.cfg.API.Endpoints()
	d := &statusData{KafkaUI: s.cfg.KafkaUIURL}
	ctx := c.Request.Context()
	var (
		wg      sync.WaitGroup
		runs    []api.Run
		st      api.IngestStatus
		runsErr error
		stErr   error
	)
	type scrape struct {
		service, base string
		m             promtext.Metrics
		err           error
	}
	scrapes := []*scrape{{service: "ingestor", base: ep.Ingestor}, {service: "currency", base: ep.Currency}, {service: "history", base: ep.History}}
	wg.Add(2 + len(scrapes))
	go func() { defer wg.Done(); runs, runsErr = s.cfg.API.Runs(ctx, statusRuns) }()
	go func() { defer wg.Done(); st, stErr = s.cfg.API.IngestStatus(ctx) }()
	for _, sc := range scrapes {
		go func() {
			defer wg.Done()
			sc.m, sc.err = s.scrape(ctx, sc.service, sc.base)
		}()
	}
	wg.Wait()
	if runsErr != nil {
		d.RunsErr, _ = s.explain(p.L, runsErr, "")
	} else {
		d.Runs = runs
	}
	if stErr != nil {
		d.IngestErr, _ = s.explain(p.L, stErr, "")
	} else {
		d.Ingest = &st
	}
	dlq := map[string]*dlqRow{}
	dlqOf := func(topic string) *dlqRow {
		if dlq[topic] == nil {
			dlq[topic] = &dlqRow{Topic: topic}
		}
		return dlq[topic]
	}
	for _, sc := range scrapes {
		if sc.err != nil {
			d.MetricsErr = append(d.MetricsErr, p.L.F("status.unreachable", p.L.T("svc."+sc.service)))
			continue
		}
		if v, ok := sc.m.Value(metricOutboxAge); ok {
			d.OutboxAge = &v
		}
		for _, smp := range sc.m[metricLag] {
			d.Lag = append(d.Lag, lagRow{Group: smp.Label("group"), Topic: smp.Label("topic"), Partition: smp.Label("partition"), Messages: int64(smp.Value)})
		}
		for _, smp := range sc.m.Where(metricConsumed, map[string]string{"outcome": "dlq"}) {
			dlqOf(smp.Label("topic") + ".dlq").Sent += int64(smp.Value)
		}
		for _, smp := range sc.m[metricDLQStored] {
			// Both consumers may measure the same topic: the largest
			// (latest) reading wins.
			n := int64(smp.Value)
			if r := dlqOf(smp.Label("topic")); r.Stored == nil || *r.Stored < n {
				r.Stored = &n
			}
		}
	}
	sort.Slice(d.Lag, func(i, j int) bool {
		a, b := d.Lag[i], d.Lag[j]
		if a.Group != b.Group {
			return a.Group < b.Group
		}
		if a.Topic != b.Topic {
			return a.Topic < b.Topic
		}
		pa, _ := strconv.Atoi(a.Partition)
		pb, _ := strconv.Atoi(b.Partition)
		return pa < pb
	})
	for _, r := range dlq {
		d.DLQ = append(d.DLQ, *r)
	}
	sort.Slice(d.DLQ, func(i, j int) bool { return d.DLQ[i].Topic < d.DLQ[j].Topic })
	p.Data = d
	s.render(c, http.StatusOK, "status", p)
}

func (s *Site) scrape(ctx context.Context, service, base string) (promtext.Metrics, error) {
	b, err := s.cfg.API.Text(ctx, service, base, "/metrics")
	if err != nil {
		return nil, err
	}
	m, err := promtext.Parse(b, metricLag, metricConsumed, metricDLQStored, metricOutboxAge)
	if err != nil {
		return nil, fmt.Errorf("%s /metrics: %w", service, err)
	}
	return m, nil
}

// ago says how long ago seconds were, roughly, for the outbox's age.
func ago(sec float64) string {
	return (time.Duration(sec) * time.Second).String()
}
