package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/ratewire/ratewire/ingestor/internal/rate"
)

// ExchangeRateAPIName is the source label of ExchangeRate-API quotes.
const ExchangeRateAPIName = "exchangerate-api"

// Default base URLs of ExchangeRate-API: the keyed v6 API and the keyless
// open-access endpoint (which updates daily and asks for attribution).
const (
	ExchangeRateAPIKeyedURL = "https://v6.exchangerate-api.com"
	ExchangeRateAPIOpenURL  = "https://open.er-api.com"
)

// ExchangeRateAPI fetches rates from ExchangeRate-API
// (https://www.exchangerate-api.com/docs). With a Key it calls the keyed
// v6 endpoint GET {base}/v6/{key}/latest/USD (field conversion_rates);
// without one the open-access GET {base}/v6/latest/USD (field rates).
// It asks in USD, the base that keeps the most digits: with base KRW the
// API keeps only 3 significant digits for KWD, BHD and OMR (0.000267).
// Values are units per 1 USD and KRW per unit is crossed exactly through
// the KRW entry (see cross): 1384.35 KRW per USD over 0.306847 KWD per USD
// is 4511.53 KRW per KWD, to the 6 digits both carry. The API quotes no
// spread, so TTS and TTB are nil.
// RecordedAt is time_last_update_unix. The key travels in the URL path and
// is redacted from every error.
type ExchangeRateAPI struct {
	// Key is the v6 API key; empty selects the keyless open-access endpoint.
	Key string
	// BaseURL overrides the default host (ExchangeRateAPIKeyedURL or
	// ExchangeRateAPIOpenURL by Key); the path is appended to it.
	BaseURL string
	// Client is the HTTP client; nil means one with DefaultTimeout.
	Client *http.Client
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// ExchangeRateAPIBlock is how long ExchangeRate-API blocks a client that
// went over its limit, as its documentation says: its 429 often carries no
// Retry-After, and that means 20 minutes, not "retry now".
const ExchangeRateAPIBlock = 20 * time.Minute

// exchangeRateAPIBase is the base ExchangeRateAPI asks in.
const exchangeRateAPIBase = "USD"

// errWrongBase marks a body quoted in another base than asked: the URL
// points at something else than we think (a proxy, a fixed-base mirror), a
// misconfiguration that retrying cannot fix.
var errWrongBase = errors.New("wrong base")

// Name implements Provider.
func (p *ExchangeRateAPI) Name() string { return ExchangeRateAPIName }

// Fetch implements Provider.
func (p *ExchangeRateAPI) Fetch(ctx context.Context) (rate.Batch, error) {
	g := getter{name: ExchangeRateAPIName, client: p.Client, now: p.Now, secrets: []string{p.Key}}
	base := p.BaseURL
	var u string
	if p.Key != "" {
		if base == "" {
			base = ExchangeRateAPIKeyedURL
		}
		u = strings.TrimRight(base, "/") + "/v6/" + url.PathEscape(p.Key) + "/latest/" + exchangeRateAPIBase
	} else {
		if base == "" {
			base = ExchangeRateAPIOpenURL
		}
		u = strings.TrimRight(base, "/") + "/v6/latest/" + exchangeRateAPIBase
	}
	fetched := g.clock().UTC()
	r, err := g.get(ctx, u)
	if err != nil {
		return rate.Batch{}, err
	}
	if r.status == http.StatusTooManyRequests {
		e := g.statusError(r)
		if e.RetryAfter <= 0 { // blocked for the documented 20 minutes, said or not
			e.RetryAfter = ExchangeRateAPIBlock
		}
		return rate.Batch{}, e
	}
	if e := g.requireJSON(r); e != nil {
		if r.status/100 != 2 {
			return rate.Batch{}, g.statusError(r)
		}
		return rate.Batch{}, e
	}
	quotes, err := parseExchangeRateAPI(r.body)
	if err != nil {
		var pe *Error
		if errors.As(err, &pe) { // an error-type answer: keep its kind
			pe.Status = r.status
			pe.Err = g.redactErr(pe.Err)
			return rate.Batch{}, pe
		}
		if r.status/100 != 2 {
			return rate.Batch{}, g.statusError(r)
		}
		if errors.Is(err, errWrongBase) {
			return rate.Batch{}, g.fail(Permanent, r.status, fmt.Errorf("check RATEWIRE_EXCHANGERATE_API_URL: %w", err))
		}
		return rate.Batch{}, g.fail(Temporary, r.status, fmt.Errorf("malformed body: %w", err))
	}
	if r.status/100 != 2 {
		return rate.Batch{}, g.statusError(r)
	}
	return rate.Batch{Source: ExchangeRateAPIName, FetchedAt: fetched, Quotes: quotes, NextUpdateAt: exchangeRateAPINext(r.body)}, nil
}

// exchangeRateAPINext is the answer's time_next_update_unix, when the API
// says it will update next; zero when absent or not a positive integer.
func exchangeRateAPINext(body []byte) time.Time {
	var b struct {
		Next json.Number `json:"time_next_update_unix"`
	}
	if json.Unmarshal(body, &b) != nil {
		return time.Time{}
	}
	if n, err := b.Next.Int64(); err == nil && n > 0 && n < 1<<40 {
		return time.Unix(n, 0).UTC()
	}
	return time.Time{}
}

// exchangeRateAPIBody is both answers of ExchangeRate-API: the keyed one
// carries conversion_rates, the open-access one rates.
type exchangeRateAPIBody struct {
	Result          string                 `json:"result"`
	ErrorType       string                 `json:"error-type"`
	BaseCode        string                 `json:"base_code"`
	LastUpdateUnix  json.Number            `json:"time_last_update_unix"`
	ConversionRates map[string]json.Number `json:"conversion_rates"`
	Rates           map[string]json.Number `json:"rates"`
}

// parseExchangeRateAPI turns an ExchangeRate-API body into quotes sorted
// by code. A {"result":"error"} body is a classified *Error (with no
// provider status: the caller fills it in); anything else wrong is a plain
// error for the caller to report as malformed.
func parseExchangeRateAPI(body []byte) ([]rate.Quote, error) {
	var b exchangeRateAPIBody
	if err := json.Unmarshal(body, &b); err != nil {
		return nil, err
	}
	switch b.Result {
	case "success":
	case "error":
		return nil, exchangeRateAPIError(b.ErrorType)
	default:
		return nil, fmt.Errorf("result %q, want success or error", b.Result)
	}
	if b.BaseCode != exchangeRateAPIBase {
		return nil, fmt.Errorf("%w: base_code %.8q, asked for %s", errWrongBase, b.BaseCode, exchangeRateAPIBase)
	}
	unix, err := b.LastUpdateUnix.Int64()
	if err != nil || unix <= 0 {
		return nil, fmt.Errorf("time_last_update_unix %q is not a positive integer", b.LastUpdateUnix)
	}
	recorded := time.Unix(unix, 0).UTC()
	values := b.ConversionRates
	if values == nil {
		values = b.Rates
	}
	if len(values) == 0 {
		return nil, errors.New("no conversion_rates or rates")
	}
	return crossRates(exchangeRateAPIBase, one, values, recorded)
}

// exchangeRateAPIError classifies an ExchangeRate-API error-type. Bad,
// inactive or unknown-plan keys and malformed or unsupported requests are
// Permanent; quota-reached is RateLimited with DefaultQuotaRetryAfter
// (the quota resets on the plan's monthly date, which the answer does not
// say); an error-type we do not know is Temporary, so bounded retries and
// failover still apply.
func exchangeRateAPIError(errorType string) *Error {
	kind := Temporary
	var retry time.Duration
	badKey := false
	switch errorType {
	case "invalid-key", "inactive-account":
		kind, badKey = Permanent, true
	case "unsupported-code", "malformed-request", "base-code-only-on-pro", "plan-upgrade-required":
		kind = Permanent
	case "quota-reached":
		kind, retry = RateLimited, DefaultQuotaRetryAfter
	}
	if len(errorType) > 64 {
		errorType = errorType[:64] + "..."
	}
	e := newError(ExchangeRateAPIName, kind, 0, "error-type %q", errorType)
	e.RetryAfter, e.BadKey = retry, badKey
	return e
}

// crossRates turns one provider table against base, values[c] units of
// c per amount base, into quotes of KRW per unit recorded at recorded,
// sorted by code: each is values[KRW] / values[c] (see cross), and base
// itself is values[KRW] / amount with the digits of values[KRW] (the
// amount is exact). KRW and base entries besides that are skipped.
func crossRates(base string, amount decimal.Decimal, values map[string]json.Number, recorded time.Time) ([]rate.Quote, error) {
	n, ok := values["KRW"]
	if !ok {
		return nil, errors.New("no KRW rate to cross through")
	}
	krw, err := parseJSONNumber(n)
	if err != nil {
		return nil, fmt.Errorf("KRW: %w", err)
	}
	baseRate, err := crossN(krw, amount, sigDigits(krw))
	if err != nil {
		return nil, fmt.Errorf("KRW = %s: %w", n, err)
	}
	quotes := make([]rate.Quote, 0, len(values))
	quotes = append(quotes, rate.Quote{Code: base, Name: KoreanName(base), DealBaseRate: baseRate, RecordedAt: recorded})
	for code, n := range values {
		if code == "KRW" || code == base {
			continue
		}
		if !isCode(code) {
			return nil, fmt.Errorf("currency code %q is not three capitals", code)
		}
		v, err := parseJSONNumber(n)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", code, err)
		}
		mid, err := cross(krw, v)
		if err != nil {
			return nil, fmt.Errorf("%s = %s: %w", code, n, err)
		}
		quotes = append(quotes, rate.Quote{Code: code, Name: KoreanName(code), DealBaseRate: mid, RecordedAt: recorded})
	}
	sort.Slice(quotes, func(i, j int) bool { return quotes[i].Code < quotes[j].Code })
	return quotes, nil
}
