// Package httpapi is the currency service's HTTP adapter: it parses
// requests, calls the rates service and writes the §8 envelope.
package httpapi

import (
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ratewire/ratewire/currency/internal/rates"
	"github.com/ratewire/ratewire/shared/apperr"
	"github.com/ratewire/ratewire/shared/httpx"
)

// maxAge is the Cache-Control max-age of rate answers: rates change at
// most every few minutes, and ETags make revalidation cheap.
const maxAge = 30 * time.Second

// maxSymbols bounds the symbols a single request may ask for.
const maxSymbols = 200

// Register mounts the currency routes on r.
func Register(r gin.IRouter, svc *rates.Service) {
	g := r.Group("/api/v1/currencies")
	g.GET("/latest", func(c *gin.Context) {
		base, err := rates.ParseCode(c.DefaultQuery("base", "KRW"))
		if err != nil {
			httpx.Error(c, err)
			return
		}
		symbols, err := parseSymbols(c.Query("symbols"))
		if err != nil {
			httpx.Error(c, err)
			return
		}
		t, err := svc.Latest(c.Request.Context(), base, symbols)
		if err != nil {
			httpx.Error(c, err)
			return
		}
		httpx.Cached(c, t, maxAge)
	})
	g.GET("/:code", func(c *gin.Context) {
		code, err := rates.ParseCode(c.Param("code"))
		if err != nil {
			httpx.Error(c, err)
			return
		}
		r, err := svc.Get(c.Request.Context(), code)
		if err != nil {
			httpx.Error(c, err)
			return
		}
		httpx.Cached(c, r, maxAge)
	})
}

// parseSymbols reads a comma-separated list of codes; empty means all.
func parseSymbols(s string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	parts := strings.Split(s, ",")
	if len(parts) > maxSymbols {
		return nil, apperr.Invalid("INVALID_PARAMETER", "too many symbols", map[string]any{"max": maxSymbols})
	}
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
