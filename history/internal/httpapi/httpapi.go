// Package httpapi is the history service's HTTP adapter: it parses query
// parameters, calls the series service and writes the DESIGN.md §8 envelope with
// ETag and Cache-Control.
package httpapi

import (
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ratewire/ratewire/history/internal/series"
	"github.com/ratewire/ratewire/shared/httpx"
)

// maxAge is the Cache-Control max-age of history answers: they move at
// most with each ingestion run, and ETags make revalidation cheap.
const maxAge = 60 * time.Second

// Register mounts the history routes on r.
func Register(r gin.IRouter, svc *series.Service) {
	r.GET("/api/v1/history", pair(svc, func(c *gin.Context, t, b string, w series.Window) (series.Encoded, error) {
		return svc.History(c.Request.Context(), t, b, w)
	}))
	g := r.Group("/api/v1/history")
	g.GET("/stats", pair(svc, func(c *gin.Context, t, b string, w series.Window) (series.Encoded, error) {
		return svc.Stats(c.Request.Context(), t, b, w)
	}))
	g.GET("/analysis", pair(svc, func(c *gin.Context, t, b string, w series.Window) (series.Encoded, error) {
		return svc.Analysis(c.Request.Context(), t, b, w)
	}))
	g.GET("/compare", func(c *gin.Context) {
		base, err := series.ParseCode("base", c.DefaultQuery("base", series.Home))
		if err != nil {
			httpx.Error(c, err)
			return
		}
		targets, err := series.ParseTargets(c.Query("targets"), base)
		if err != nil {
			httpx.Error(c, err)
			return
		}
		w, err := window(c, svc)
		if err != nil {
			httpx.Error(c, err)
			return
		}
		if c.Query("interval") == "" {
			w = series.CompareWindow(w)
		}
		answer(c, func() (series.Encoded, error) { return svc.Compare(c.Request.Context(), targets, base, w) })
	})
	g.GET("/forecast/:code", func(c *gin.Context) {
		target, base, err := series.ParsePair(c.Param("code"), c.Query("base"))
		if err != nil {
			httpx.Error(c, err)
			return
		}
		days, err := series.ParseDays(c.Query("days"))
		if err != nil {
			httpx.Error(c, err)
			return
		}
		answer(c, func() (series.Encoded, error) { return svc.Forecast(c.Request.Context(), target, base, days) })
	})
}

// pair handles the endpoints of one target in one base over a window.
func pair(svc *series.Service, fn func(c *gin.Context, target, base string, w series.Window) (series.Encoded, error)) gin.HandlerFunc {
	return func(c *gin.Context) {
		target, base, err := series.ParsePair(c.Query("target"), c.Query("base"))
		if err != nil {
			httpx.Error(c, err)
			return
		}
		w, err := window(c, svc)
		if err != nil {
			httpx.Error(c, err)
			return
		}
		answer(c, func() (series.Encoded, error) { return fn(c, target, base, w) })
	}
}

func window(c *gin.Context, svc *series.Service) (series.Window, error) {
	return series.ParseWindow(c.Query("period"), c.Query("interval"), c.Query("from"), c.Query("to"), svc.Now())
}

// answer writes an answer's JSON, which the service keeps encoded (and
// cached) with its ETag, so a cache hit is served without decoding,
// re-encoding or hashing it.
func answer(c *gin.Context, fn func() (series.Encoded, error)) {
	e, err := fn()
	if err != nil {
		httpx.Error(c, err)
		return
	}
	httpx.CachedJSON(c, e.JSON, e.ETag, maxAge)
}
