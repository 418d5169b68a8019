// Package httpapi is the ranking service's HTTP adapter: it parses
// requests, calls the rank service and writes the DESIGN.md §8 envelope.
package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ratewire/ratewire/ranking/internal/rank"
	"github.com/ratewire/ratewire/shared/apperr"
	"github.com/ratewire/ratewire/shared/httpx"
)

// maxAge is the Cache-Control max-age of ranking answers: they change
// with every click, so clients revalidate often and ETags keep it cheap.
const maxAge = 5 * time.Second

// ClientIDHeader tells apart clients behind one address for the rate
// limit and duplicate window; it refines the address limits, never
// replaces them.
const ClientIDHeader = "X-Client-Id"

// maxClickBody bounds a click's JSON body; {"country": "..."} is tiny.
const maxClickBody = 4 << 10

var validClientID = regexp.MustCompile(`^[A-Za-z0-9._:@-]{1,128}$`)

// Register mounts the ranking routes on r; adminToken guards the reset.
func Register(r gin.IRouter, svc *rank.Service, adminToken string) {
	g := r.Group("/api/v1/rankings")
	g.GET("", func(c *gin.Context) {
		p, day, limit, err := parseRankingQuery(c.Query("period"), c.Query("date"), c.Query("limit"))
		if err != nil {
			httpx.Error(c, err)
			return
		}
		out, err := svc.Rankings(c.Request.Context(), p, day, limit)
		if err != nil {
			httpx.Error(c, err)
			return
		}
		httpx.Cached(c, out, maxAge)
	})
	g.POST("/click", func(c *gin.Context) {
		client, err := clientID(c)
		if err != nil {
			httpx.Error(c, err)
			return
		}
		body, err := io.ReadAll(io.LimitReader(c.Request.Body, maxClickBody+1))
		if err != nil {
			httpx.Error(c, err) // a body over the engine's limit maps to 413
			return
		}
		if len(body) > maxClickBody {
			httpx.Error(c, apperr.Invalid(apperr.CodeInvalidParameter, "click body too large", nil))
			return
		}
		input, err := ParseClick(c.Query("country"), body)
		if err != nil {
			httpx.Error(c, err)
			return
		}
		res, err := svc.Click(c.Request.Context(), client, input)
		if err != nil {
			httpx.Error(c, err)
			return
		}
		status := http.StatusCreated
		if !res.Counted {
			status = http.StatusOK // a repeat inside the window creates nothing
		}
		httpx.OK(c, status, res)
	})
	g.GET("/stats/:country", func(c *gin.Context) {
		days, err := parseIntParam("days", c.Query("days"), rank.DefaultDays, 1, rank.MaxStatsDays)
		if err != nil {
			httpx.Error(c, err)
			return
		}
		ctry, err := svc.LookupCountry(c.Param("country"))
		if err != nil {
			httpx.Error(c, err)
			return
		}
		out, err := svc.Stats(c.Request.Context(), ctry, days)
		if err != nil {
			httpx.Error(c, err)
			return
		}
		httpx.Cached(c, out, maxAge)
	})
	g.POST("/reset", httpx.RequireAdmin(adminToken), func(c *gin.Context) {
		var day rank.Day
		if s := c.Query("date"); s != "" {
			var err error
			if day, err = parseDate(s); err != nil {
				httpx.Error(c, err)
				return
			}
		}
		out, err := svc.Reset(c.Request.Context(), day)
		if err != nil {
			httpx.Error(c, err)
			return
		}
		httpx.OK(c, http.StatusOK, out)
	})
}

// clientID is the client address (c.ClientIP: the peer, or what a
// trusted gateway put in X-Forwarded-For) with the X-Client-Id header
// when present (it must be a short token). The address always limits;
// the id only tells apart people behind it.
func clientID(c *gin.Context) (rank.Client, error) {
	cl := rank.Client{Addr: c.ClientIP()}
	if id := c.GetHeader(ClientIDHeader); id != "" {
		if !validClientID.MatchString(id) {
			return rank.Client{}, apperr.Invalid(apperr.CodeInvalidParameter,
				"X-Client-Id must be 1 to 128 letters, digits or ._:@-", nil)
		}
		cl.ID = id
	}
	return cl, nil
}

// clickBody is the JSON form of a click.
type clickBody struct {
	Country *string `json:"country"`
}

// ParseClick returns the country a click names: the country query
// parameter when given, else the "country" field of a JSON body. It
// checks the shape only; the service decides whether the country exists.
func ParseClick(query string, body []byte) (string, error) {
	if strings.TrimSpace(query) != "" {
		return query, nil
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return "", apperr.Invalid(rank.CodeInvalidCountry, "country is required: ?country= or a JSON body {\"country\": ...}",
			map[string]any{"parameter": "country"})
	}
	var b clickBody
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&b); err != nil {
		return "", apperr.Invalid(apperr.CodeInvalidParameter, "body must be a JSON object {\"country\": \"...\"}", nil)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return "", apperr.Invalid(apperr.CodeInvalidParameter, "body must hold one JSON object", nil)
	}
	if b.Country == nil || strings.TrimSpace(*b.Country) == "" {
		return "", apperr.Invalid(rank.CodeInvalidCountry, "country is required: ?country= or a JSON body {\"country\": ...}",
			map[string]any{"parameter": "country"})
	}
	return *b.Country, nil
}

// parseRankingQuery reads period (default daily), date (default today)
// and limit (default 10, 1..50).
func parseRankingQuery(period, date, limit string) (rank.Period, rank.Day, int, error) {
	p := rank.Daily
	if period != "" {
		var ok bool
		if p, ok = rank.ParsePeriod(period); !ok {
			return "", rank.Day{}, 0, apperr.Invalid(rank.CodeInvalidPeriod,
				"period must be daily, weekly, monthly or all", map[string]any{"period": truncate(period)})
		}
	}
	var day rank.Day
	if date != "" {
		var err error
		if day, err = parseDate(date); err != nil {
			return "", rank.Day{}, 0, err
		}
	}
	n, err := parseIntParam("limit", limit, rank.DefaultLimit, 1, rank.MaxLimit)
	if err != nil {
		return "", rank.Day{}, 0, err
	}
	return p, day, n, nil
}

func parseDate(s string) (rank.Day, error) {
	d, err := rank.ParseDay(s)
	if err != nil {
		return rank.Day{}, apperr.Invalid(apperr.CodeInvalidParameter, "date must be YYYY-MM-DD (a KST day)",
			map[string]any{"date": truncate(s)})
	}
	return d, nil
}

func parseIntParam(name, s string, def, lo, hi int) (int, error) {
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, apperr.Invalid(apperr.CodeInvalidParameter,
			name+" must be a whole number from "+strconv.Itoa(lo)+" to "+strconv.Itoa(hi),
			map[string]any{name: truncate(s)})
	}
	return n, nil
}

// truncate keeps echoed input short.
func truncate(s string) string {
	if len(s) > 64 {
		return s[:64]
	}
	return s
}
