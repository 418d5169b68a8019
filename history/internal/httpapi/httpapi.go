// Package httpapi is the history service's HTTP adapter: it parses query
// parameters, calls the series service and writes the §8 envelope with
// ETag and Cache-Control.
package httpapi

import (
	"net/http"
	"strconv"
	"strings"
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
		return svc.HistoryJSON(c.Request.Context(), t, b, w)
	}))
	g := r.Group("/api/v1/history")
	g.GET("/stats", pair(svc, func(c *gin.Context, t, b string, w series.Window) (series.Encoded, error) {
		return svc.StatsJSON(c.Request.Context(), t, b, w)
	}))
	g.GET("/analysis", pair(svc, func(c *gin.Context, t, b string, w series.Window) (series.Encoded, error) {
		return svc.AnalysisJSON(c.Request.Context(), t, b, w)
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
		answer(c, func() (series.Encoded, error) { return svc.CompareJSON(c.Request.Context(), targets, base, w) })
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
		answer(c, func() (series.Encoded, error) { return svc.ForecastJSON(c.Request.Context(), target, base, days) })
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
// cached) so a cache hit is served without decoding it.
func answer(c *gin.Context, fn func() (series.Encoded, error)) {
	v, err := fn()
	if err != nil {
		httpx.Error(c, err)
		return
	}
	writeCached(c, v)
}

// writeCached does what httpx.Cached does (strong ETag of the data,
// Cache-Control, 304 on a matching If-None-Match, the success envelope)
// for data that is already JSON, without re-encoding it: httpx.Cached
// takes a value and marshals it, which for a 50 kB cached answer costs
// more than the Redis round trip. shared/httpx could offer this as
// CachedRaw; until then it lives here.
func writeCached(c *gin.Context, e series.Encoded) {
	raw, etag := e.JSON, e.ETag
	c.Header("ETag", etag)
	c.Header("Cache-Control", "public, max-age="+strconv.Itoa(int(maxAge/time.Second)))
	if etagMatches(c.GetHeader("If-None-Match"), etag) {
		c.Status(http.StatusNotModified)
		c.Writer.WriteHeaderNow()
		return
	}
	ts := httpx.Timestamp(c)
	body := make([]byte, 0, len(raw)+64)
	body = append(body, `{"success":true,"data":`...)
	body = append(body, raw...)
	body = append(body, `,"timestamp":"`...)
	body = append(body, ts...)
	body = append(body, `"}`...)
	c.Data(http.StatusOK, "application/json; charset=utf-8", body)
}

// etagMatches applies RFC 9110's weak comparison for If-None-Match to a
// comma-separated list of tags or "*", as httpx does.
func etagMatches(header, etag string) bool {
	for tag := range strings.SplitSeq(header, ",") {
		tag = strings.TrimSpace(tag)
		if tag == "*" || (tag != "" && strings.TrimPrefix(tag, "W/") == etag) {
			return true
		}
	}
	return false
}
