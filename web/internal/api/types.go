package api

import (
	"context"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Rate is the currency service's /{code} object (DESIGN.md §4): decimals
// stay strings, exactly as the service sent them.
type Rate struct {
	CurrencyCode   string  `json:"currency_code"`
	CurrencyName   string  `json:"currency_name"`
	CurrencyNameEn string  `json:"currency_name_en"`
	Symbol         string  `json:"symbol"`
	DealBaseRate   string  `json:"deal_base_rate"`
	TTS            *string `json:"tts"`
	TTB            *string `json:"ttb"`
	// CashBuy and CashSell are absent until a source quotes cash rates.
	CashBuy       *string   `json:"cash_buy,omitempty"`
	CashSell      *string   `json:"cash_sell,omitempty"`
	Source        string    `json:"source"`
	RecordedAt    time.Time `json:"recorded_at"`
	RateDate      string    `json:"rate_date"`
	QuotedAs      string    `json:"quoted_as,omitempty"`
	Version       int64     `json:"version"`
	DisplayUnit   int       `json:"display_unit"`
	Change        *string   `json:"change"`
	ChangePercent *string   `json:"change_percent"`
	CarriedOver   bool      `json:"carried_over"`
}

// Currency is one supported currency of GET /api/v1/currencies.
type Currency struct {
	Code        string   `json:"currency_code"`
	Name        string   `json:"currency_name"`
	NameEn      string   `json:"currency_name_en"`
	Symbol      string   `json:"symbol"`
	Countries   []string `json:"countries"`
	DisplayUnit int      `json:"display_unit"`
	MinorUnits  int      `json:"minor_units"`
}

// Currencies lists the supported currencies.
func (c *Client) Currencies(ctx context.Context) ([]Currency, error) {
	var out struct {
		Currencies []Currency `json:"currencies"`
	}
	err := c.get(ctx, "currency", c.ep.Currency, "/api/v1/currencies", nil, &out)
	return out.Currencies, err
}

// Rates returns the current rate of each code (GET /multiple).
func (c *Client) Rates(ctx context.Context, codes []string) ([]Rate, error) {
	var out struct {
		Rates []Rate `json:"rates"`
	}
	err := c.get(ctx, "currency", c.ep.Currency, "/api/v1/currencies/multiple", url.Values{"symbols": {strings.Join(codes, ",")}}, &out)
	return out.Rates, err
}

// Rate returns one currency's current rate.
func (c *Client) Rate(ctx context.Context, code string) (Rate, error) {
	var out Rate
	err := c.get(ctx, "currency", c.ep.Currency, "/api/v1/currencies/"+url.PathEscape(code), nil, &out)
	return out, err
}

// SearchResult is GET /search: a country, its currency and its rate.
type SearchResult struct {
	CountryCode    string `json:"country_code"`
	CountryName    string `json:"country_name"`
	CountryNameEn  string `json:"country_name_en"`
	CurrencyCode   string `json:"currency_code"`
	CurrencyName   string `json:"currency_name"`
	CurrencyNameEn string `json:"currency_name_en"`
	DisplayUnit    int    `json:"display_unit"`
	Rate           *Rate  `json:"rate"`
}

// Search resolves a country by Korean or English name or ISO code.
func (c *Client) Search(ctx context.Context, country string) (SearchResult, error) {
	var out SearchResult
	err := c.get(ctx, "currency", c.ep.Currency, "/api/v1/currencies/search", url.Values{"country": {country}}, &out)
	return out, err
}

// ConvertQuery is one conversion request. Channel and Preferential are
// sent only when set (and only when the service offers them).
type ConvertQuery struct {
	From, To, Amount, RateType string
	Channel                    string
	Preferential               string
}

// Values is the query string of q.
func (q ConvertQuery) Values() url.Values {
	v := url.Values{"from": {q.From}, "to": {q.To}, "amount": {q.Amount}}
	if q.RateType != "" {
		v.Set("rate_type", q.RateType)
	}
	if q.Channel != "" {
		v.Set("channel", q.Channel)
	}
	if q.Preferential != "" {
		v.Set("preferential", q.Preferential)
	}
	return v
}

// Conversion is GET /convert's answer. Fields the service adds (a cost
// breakdown) are kept in Raw so that the page shows what the API returns.
type Conversion struct {
	From            string `json:"from"`
	To              string `json:"to"`
	Amount          string `json:"amount"`
	RateType        string `json:"rate_type"`
	Rate            string `json:"rate"`
	Result          string `json:"result"`
	ResultUnrounded string `json:"result_unrounded"`
	MinorUnits      int    `json:"minor_units"`
	Legs            []struct {
		CurrencyCode string `json:"currency_code"`
		Direction    string `json:"direction"`
		RateType     string `json:"rate_type"`
		Rate         string `json:"rate"`
		QuotedAs     string `json:"quoted_as,omitempty"`
	} `json:"legs"`
	Source string     `json:"source"`
	AsOf   *time.Time `json:"as_of"`
	// Channel and Preferential echo what was applied, where the service
	// offers them.
	Channel      string `json:"channel,omitempty"`
	Preferential string `json:"preferential,omitempty"`
	// Breakdown is what the conversion costs, where the service says
	// (amount_at_mid, margin, margin_preferential, preferential_saving,
	// effective_rate, currency); kept raw, so fields the service adds are
	// shown too.
	Breakdown map[string]json.RawMessage `json:"breakdown,omitempty"`
}

// Convert converts q.Amount of q.From into q.To.
func (c *Client) Convert(ctx context.Context, q ConvertQuery) (Conversion, error) {
	var out Conversion
	err := c.get(ctx, "currency", c.ep.Currency, "/api/v1/currencies/convert", q.Values(), &out)
	return out, err
}

// ConvertParams returns the query parameters /convert declares in the
// currency service's OpenAPI document, so the converter offers channel and
// preferential only where the service takes them.
func (c *Client) ConvertParams(ctx context.Context) (map[string]bool, error) {
	b, err := c.Bytes(ctx, "currency", c.ep.Currency, "/openapi.json")
	if err != nil {
		return nil, err
	}
	return ConvertParamsOf(b)
}

// ConvertParamsOf reads the names of /api/v1/currencies/convert's query
// parameters from an OpenAPI 3 document, following local $refs to
// components/parameters.
func ConvertParamsOf(doc []byte) (map[string]bool, error) {
	var spec struct {
		Paths map[string]map[string]struct {
			Parameters []struct {
				Ref  string `json:"$ref"`
				Name string `json:"name"`
				In   string `json:"in"`
			} `json:"parameters"`
		} `json:"paths"`
		Components struct {
			Parameters map[string]struct {
				Name string `json:"name"`
				In   string `json:"in"`
			} `json:"parameters"`
		} `json:"components"`
	}
	if err := json.Unmarshal(doc, &spec); err != nil {
		return nil, &Error{Kind: KindInternal, Service: "currency", Err: err}
	}
	out := map[string]bool{}
	op, ok := spec.Paths["/api/v1/currencies/convert"]["get"]
	if !ok {
		return out, nil
	}
	for _, p := range op.Parameters {
		if p.Ref != "" {
			name := strings.TrimPrefix(p.Ref, "#/components/parameters/")
			if cp, ok := spec.Components.Parameters[name]; ok && cp.In == "query" {
				out[cp.Name] = true
			}
			continue
		}
		if p.In == "query" {
			out[p.Name] = true
		}
	}
	return out, nil
}

// Point is one bucket of GET /api/v1/history.
type Point struct {
	Date          time.Time `json:"date"`
	Rate          float64   `json:"rate"`
	Open          float64   `json:"open"`
	High          float64   `json:"high"`
	Low           float64   `json:"low"`
	Change        float64   `json:"change"`
	ChangePercent float64   `json:"change_percent"`
	Samples       int       `json:"samples"`
}

// Stats is the statistics of a history window.
type Stats struct {
	Current       *float64 `json:"current"`
	Average       *float64 `json:"average"`
	Min           *float64 `json:"min"`
	Max           *float64 `json:"max"`
	Change        *float64 `json:"change"`
	ChangePercent *float64 `json:"change_percent"`
	Volatility    *float64 `json:"volatility"`
	DataPoints    int      `json:"data_points"`
	Trend         struct {
		Direction string `json:"direction"`
	} `json:"trend"`
}

// History is GET /api/v1/history.
type History struct {
	Target     string    `json:"target"`
	Period     string    `json:"period"`
	Interval   string    `json:"interval"`
	From       time.Time `json:"from"`
	To         time.Time `json:"to"`
	Results    []Point   `json:"results"`
	Statistics Stats     `json:"statistics"`
}

// History returns target's daily candles (KRW per unit) over period.
func (c *Client) History(ctx context.Context, target, period string) (History, error) {
	var out History
	err := c.get(ctx, "history", c.ep.History, "/api/v1/history", url.Values{"target": {target}, "period": {period}, "interval": {"1d"}}, &out)
	return out, err
}

// AnalysisPoint is one day of the analysis series.
type AnalysisPoint struct {
	Date           time.Time `json:"date"`
	Close          float64   `json:"close"`
	SMA20          *float64  `json:"sma_20"`
	SMA50          *float64  `json:"sma_50"`
	BollingerUpper *float64  `json:"bollinger_upper"`
	BollingerLower *float64  `json:"bollinger_lower"`
}

// Analysis is GET /api/v1/history/analysis.
type Analysis struct {
	SMA20     *float64 `json:"sma_20"`
	SMA50     *float64 `json:"sma_50"`
	EMA20     *float64 `json:"ema_20"`
	RSI14     *float64 `json:"rsi_14"`
	Bollinger *struct {
		Middle *float64 `json:"middle"`
		Upper  *float64 `json:"upper"`
		Lower  *float64 `json:"lower"`
	} `json:"bollinger"`
	Support    *float64 `json:"support"`
	Resistance *float64 `json:"resistance"`
	Trend      struct {
		Direction string `json:"direction"`
	} `json:"trend"`
	Series []AnalysisPoint `json:"series"`
}

// Analysis returns target's indicators over period.
func (c *Client) Analysis(ctx context.Context, target, period string) (Analysis, error) {
	var out Analysis
	err := c.get(ctx, "history", c.ep.History, "/api/v1/history/analysis", url.Values{"target": {target}, "period": {period}}, &out)
	return out, err
}

// ForecastPoint is one forecast day with its 80 % and 95 % intervals.
type ForecastPoint struct {
	Date    string  `json:"date"`
	Rate    float64 `json:"rate"`
	Lower80 float64 `json:"lower_80"`
	Upper80 float64 `json:"upper_80"`
	Lower95 float64 `json:"lower_95"`
	Upper95 float64 `json:"upper_95"`
}

// Forecast is GET /api/v1/history/forecast/{code}.
type Forecast struct {
	Method        string          `json:"method"`
	Days          int             `json:"days"`
	HistoryPoints int             `json:"history_points"`
	LastRate      float64         `json:"last_rate"`
	Forecast      []ForecastPoint `json:"forecast"`
	Backtest      struct {
		HorizonDays    int      `json:"horizon_days"`
		TrainedThrough string   `json:"trained_through"`
		MAPEPercent    *float64 `json:"mape_percent"`
		MAE            *float64 `json:"mae"`
		Coverage80     *float64 `json:"coverage_80"`
		Coverage95     *float64 `json:"coverage_95"`
	} `json:"backtest"`
}

// Forecast returns the forecast of code over days.
func (c *Client) Forecast(ctx context.Context, code string, days int) (Forecast, error) {
	var out Forecast
	err := c.get(ctx, "history", c.ep.History, "/api/v1/history/forecast/"+url.PathEscape(code), url.Values{"days": {strconv.Itoa(days)}}, &out)
	return out, err
}

// Ranked is one row of the popularity ranking.
type Ranked struct {
	Rank          int    `json:"rank"`
	CountryCode   string `json:"country_code"`
	CountryName   string `json:"country_name"`
	CountryNameEn string `json:"country_name_en"`
	CurrencyCode  string `json:"currency_code"`
	Clicks        int64  `json:"clicks"`
}

// Ranking is GET /api/v1/rankings.
type Ranking struct {
	Period      string   `json:"period"`
	StartDate   string   `json:"start_date"`
	EndDate     string   `json:"end_date"`
	TotalClicks int64    `json:"total_clicks"`
	Rankings    []Ranked `json:"rankings"`
}

// Rankings returns the most clicked countries of period.
func (c *Client) Rankings(ctx context.Context, period string, limit int) (Ranking, error) {
	var out Ranking
	err := c.get(ctx, "ranking", c.ep.Ranking, "/api/v1/rankings", url.Values{"period": {period}, "limit": {strconv.Itoa(limit)}}, &out)
	return out, err
}

// Run is one ingestion run record (public view).
type Run struct {
	RunID      string     `json:"run_id"`
	Trigger    string     `json:"trigger"`
	Status     string     `json:"status"`
	Provider   string     `json:"provider"`
	Reason     string     `json:"reason"`
	RateDate   string     `json:"rate_date"`
	Fetched    int        `json:"fetched"`
	Rejected   int        `json:"rejected"`
	Changed    int        `json:"changed"`
	Events     int        `json:"events"`
	StartedAt  time.Time  `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at"`
	DurationMS int64      `json:"duration_ms"`
}

// Runs returns the latest ingestion runs, newest first.
func (c *Client) Runs(ctx context.Context, limit int) ([]Run, error) {
	var out struct {
		Runs []Run `json:"runs"`
	}
	err := c.get(ctx, "ingestor", c.ep.Ingestor, "/api/v1/ingest/runs", url.Values{"limit": {strconv.Itoa(limit)}}, &out)
	return out.Runs, err
}

// IngestStatus is GET /api/v1/ingest/status.
type IngestStatus struct {
	Providers   []string   `json:"providers"`
	Schedule    string     `json:"schedule"`
	Timezone    string     `json:"timezone"`
	NextRun     *time.Time `json:"next_run"`
	LastSuccess *Run       `json:"last_success"`
	LastFailure *Run       `json:"last_failure"`
	Outbox      struct {
		Pending       int64      `json:"pending"`
		OldestPending *time.Time `json:"oldest_pending"`
	} `json:"outbox"`
}

// IngestStatus returns the ingestor's schedule, last runs and outbox.
func (c *Client) IngestStatus(ctx context.Context) (IngestStatus, error) {
	var out IngestStatus
	err := c.get(ctx, "ingestor", c.ep.Ingestor, "/api/v1/ingest/status", nil, &out)
	return out, err
}
