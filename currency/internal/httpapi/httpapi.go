// Package httpapi is the currency service's HTTP adapter: it parses
// requests, calls the rates service and writes the DESIGN.md §8 envelope.
package httpapi

import (
	"net/http"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/shopspring/decimal"

	"github.com/ratewire/ratewire/currency/internal/rates"
	"github.com/ratewire/ratewire/shared/apperr"
	"github.com/ratewire/ratewire/shared/httpx"
)

// maxAge is the Cache-Control max-age of rate answers: rates change at
// most every few minutes, and ETags make revalidation cheap.
const maxAge = 30 * time.Second

// listMaxAge is the max-age of the currency list, which changes only when
// a provider adds a currency.
const listMaxAge = 5 * time.Minute

// MaxSymbols bounds the symbols a single request may ask for.
const MaxSymbols = 200

// Register mounts the currency routes on r; adminToken guards DELETE
// /cache (empty disables it). Services get c.Request.Context(), never the
// *gin.Context itself: gin recycles contexts, and database drivers watch
// the context from goroutines that can outlive the request.
func Register(r gin.IRouter, svc *rates.Service, adminToken string) {
	g := r.Group("/api/v1/currencies")
	g.GET("", func(c *gin.Context) {
		l, err := svc.Currencies(c.Request.Context())
		if err != nil {
			httpx.Error(c, err)
			return
		}
		httpx.Cached(c, l, listMaxAge)
	})
	g.GET("/latest", func(c *gin.Context) {
		base, err := rates.ParseCode(c.DefaultQuery("base", "KRW"))
		if err != nil {
			httpx.Error(c, err)
			return
		}
		symbols, err := ParseSymbols(c.Query("symbols"))
		if err != nil {
			httpx.Error(c, err)
			return
		}
		b, etag, err := svc.LatestJSON(c.Request.Context(), base, symbols)
		if err != nil {
			httpx.Error(c, err)
			return
		}
		httpx.CachedJSON(c, b, etag, maxAge)
	})
	g.GET("/multiple", func(c *gin.Context) {
		symbols, err := ParseSymbols(c.Query("symbols"))
		if err == nil && len(symbols) == 0 {
			err = apperr.Invalid(apperr.CodeInvalidParameter, "symbols is required: a comma-separated list of currency codes",
				map[string]any{"parameter": "symbols"})
		}
		if err != nil {
			httpx.Error(c, err)
			return
		}
		b, etag, err := svc.ManyJSON(c.Request.Context(), symbols)
		if err != nil {
			httpx.Error(c, err)
			return
		}
		httpx.CachedJSON(c, b, etag, maxAge)
	})
	g.GET("/search", func(c *gin.Context) {
		country, err := ParseCountry(c.Query("country"))
		if err != nil {
			httpx.Error(c, err)
			return
		}
		res, err := svc.Search(c.Request.Context(), country)
		if err != nil {
			httpx.Error(c, err)
			return
		}
		httpx.Cached(c, res, maxAge)
	})
	g.GET("/convert", func(c *gin.Context) {
		from, err := rates.ParseCode(c.Query("from"))
		if err != nil {
			httpx.Error(c, err)
			return
		}
		to, err := rates.ParseCode(c.Query("to"))
		if err != nil {
			httpx.Error(c, err)
			return
		}
		amount, err := ParseAmount(c.Query("amount"))
		if err != nil {
			httpx.Error(c, err)
			return
		}
		rt, err := ParseRateType(c.Query("rate_type"))
		if err != nil {
			httpx.Error(c, err)
			return
		}
		channel, err := ParseChannel(c.Query("channel"))
		if err != nil {
			httpx.Error(c, err)
			return
		}
		pref, err := ParsePreferential(c.Query("preferential"))
		if err != nil {
			httpx.Error(c, err)
			return
		}
		conv, err := svc.ConvertHot(c.Request.Context(), from, to, amount, rates.ConvertOptions{RateType: rt, Channel: channel, Preferential: pref})
		if err != nil {
			httpx.Error(c, err)
			return
		}
		httpx.Cached(c, conv, maxAge)
	})
	g.DELETE("/cache", httpx.RequireAdmin(adminToken), func(c *gin.Context) {
		code := ""
		if q, ok := c.GetQuery("currency_code"); ok {
			var err error
			if code, err = rates.ParseCode(q); err != nil {
				httpx.Error(c, err)
				return
			}
		}
		res, err := svc.ClearCache(c.Request.Context(), code)
		if err != nil {
			httpx.Error(c, err)
			return
		}
		httpx.OK(c, http.StatusOK, res)
	})
	g.GET("/:code", func(c *gin.Context) {
		code, err := rates.ParseCode(c.Param("code"))
		if err != nil {
			httpx.Error(c, err)
			return
		}
		if code == "KRW" {
			httpx.Error(c, apperr.NotFound("KRW is the base currency: it has no rate of its own"))
			return
		}
		b, etag, err := svc.RateJSON(c.Request.Context(), code)
		if err != nil {
			httpx.Error(c, err)
			return
		}
		httpx.CachedJSON(c, b, etag, maxAge)
	})
}

// ParseSymbols reads a comma-separated list of codes, upper-cased and
// deduplicated in order; empty means none (all, for /latest).
func ParseSymbols(s string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	if strings.Count(s, ",") >= MaxSymbols {
		return nil, apperr.Invalid(apperr.CodeInvalidParameter, "too many symbols", map[string]any{"max": MaxSymbols})
	}
	parts := strings.Split(s, ",")
	seen := make(map[string]bool, len(parts))
	out := make([]string, 0, len(parts))
	for _, p := range parts {
		code, err := rates.ParseCode(p)
		if err != nil {
			return nil, err
		}
		if !seen[code] {
			seen[code] = true
			out = append(out, code)
		}
	}
	return out, nil
}

// MaxAmount bounds a conversion's amount: a trillion units is more than
// any bank transfer, and it keeps results far inside exact arithmetic.
var MaxAmount = decimal.New(1, 12)

// MaxAmountDecimals is the most decimal places an amount may carry.
const MaxAmountDecimals = 8

var amountPattern = regexp.MustCompile(`^[0-9]{1,13}(\.[0-9]{1,8})?$`)

// ParseAmount reads a conversion amount: a plain positive decimal (no
// sign, exponent, separators or spaces), at most MaxAmount with at most
// MaxAmountDecimals decimals, kept exact.
func ParseAmount(s string) (decimal.Decimal, error) {
	bad := func(msg string) (decimal.Decimal, error) {
		return decimal.Decimal{}, apperr.Invalid(apperr.CodeInvalidParameter, msg,
			map[string]any{"parameter": "amount", "max": MaxAmount.String(), "max_decimals": MaxAmountDecimals})
	}
	if s == "" {
		return bad("amount is required")
	}
	if !amountPattern.MatchString(s) {
		return bad("amount must be a plain decimal number such as 100 or 1234.56, with at most 8 decimals")
	}
	d, err := decimal.NewFromString(s)
	if err != nil {
		return bad("amount is not a number")
	}
	if !d.IsPositive() {
		return bad("amount must be positive")
	}
	if d.GreaterThan(MaxAmount) {
		return bad("amount is too large")
	}
	return d, nil
}

// ParseRateType reads a conversion's rate_type, in any case: bank (also
// when it is omitted: TTB when the bank buys the foreign currency, TTS
// when it sells), mid, tts or ttb.
func ParseRateType(s string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", rates.RateBank:
		return rates.RateBank, nil
	case rates.RateMid:
		return rates.RateMid, nil
	case rates.RateTTS:
		return rates.RateTTS, nil
	case rates.RateTTB:
		return rates.RateTTB, nil
	}
	return "", apperr.Invalid(apperr.CodeInvalidParameter, "rate_type must be bank (the default: TTB when the bank buys, TTS when it sells), mid, tts or ttb",
		map[string]any{"parameter": "rate_type"})
}

// ParseChannel reads a conversion's channel, in any case: cash
// (banknotes: cash_sell when the bank buys, cash_buy when it sells) or
// remittance (ttb/tts); empty means the service's default.
func ParseChannel(s string) (string, error) {
	switch v := strings.ToLower(strings.TrimSpace(s)); v {
	case "", rates.ChannelCash, rates.ChannelRemittance:
		return v, nil
	}
	return "", apperr.Invalid(apperr.CodeInvalidParameter,
		"channel must be cash (banknotes: cash_sell when the bank buys, cash_buy when it sells) or remittance (ttb/tts, the default)",
		map[string]any{"parameter": "channel"})
}

var preferentialPattern = regexp.MustCompile(`^(100(\.0{1,2})?|[0-9]{1,2}(\.[0-9]{1,2})?)$`)

// ParsePreferential reads a preferential rate (환율 우대) in percent: a
// plain number from 0 to 100 with at most two decimals; empty is 0.
func ParsePreferential(s string) (decimal.Decimal, error) {
	if s == "" {
		return decimal.Zero, nil
	}
	bad := apperr.Invalid(apperr.CodeInvalidParameter,
		"preferential must be a percentage from 0 to 100 (such as 90 or 87.5), the share of the bank's margin waived",
		map[string]any{"parameter": "preferential", "min": 0, "max": 100})
	if !preferentialPattern.MatchString(s) {
		return decimal.Decimal{}, bad
	}
	d, err := decimal.NewFromString(s)
	if err != nil || d.GreaterThan(decimal.NewFromInt(100)) {
		return decimal.Decimal{}, bad
	}
	return d, nil
}

// MaxCountryLen bounds a country query in bytes.
const MaxCountryLen = 100

// ParseCountry checks a country query: non-empty after trimming, valid
// UTF-8, no control characters, at most MaxCountryLen bytes. Whether it
// names a country is the service's question.
func ParseCountry(s string) (string, error) {
	t := strings.TrimSpace(s)
	bad := func(msg string) (string, error) {
		return "", apperr.Invalid("INVALID_COUNTRY", msg, map[string]any{"parameter": "country"})
	}
	switch {
	case t == "":
		return bad("country is required: a Korean or English country name or an ISO 3166 code")
	case len(t) > MaxCountryLen:
		return bad("country is too long")
	case !utf8.ValidString(t):
		return bad("country is not valid UTF-8")
	case strings.IndexFunc(t, unicode.IsControl) >= 0:
		return bad("country contains control characters")
	}
	return t, nil
}
