// Package httpapi is the ingestor's HTTP adapter: run now (admin), the run
// history and the ingestion status, over the shared gin engine.
//
// The history and the status are public (the gateway routes them) and show
// each run's and attempt's status and a fixed public reason; the same
// requests with the admin bearer token show the full records, errors
// included, which may name provider URLs, hosts, bodies and driver errors.
package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ratewire/ratewire/ingestor/internal/ingest"
	"github.com/ratewire/ratewire/ingestor/internal/store"
	"github.com/ratewire/ratewire/shared/apperr"
	"github.com/ratewire/ratewire/shared/httpx"
)

// Service is what the API needs from the ingestor.
type Service interface {
	Run(ctx context.Context, trigger string) (store.Run, error)
	Runs(ctx context.Context, limit int) ([]store.Run, error)
	LastRun(ctx context.Context, statuses ...string) (store.Run, bool, error)
	Providers() []string
}

// Schedule describes the cron schedule for the status endpoint.
type Schedule struct {
	Spec     string
	Timezone string
	Next     func() time.Time // zero when not scheduled
}

// Backlog reports the outbox backlog.
type Backlog func(ctx context.Context) (int, time.Time, error)

// Status is the answer of GET /api/v1/ingest/status. LastSuccess and
// LastFailure are PublicRun values, or store.Run ones for the admin.
type Status struct {
	Providers   []string   `json:"providers"`
	Schedule    string     `json:"schedule"`
	Timezone    string     `json:"timezone"`
	NextRun     *time.Time `json:"next_run"`
	LastSuccess any        `json:"last_success"`
	LastFailure any        `json:"last_failure"`
	Outbox      struct {
		Pending       int        `json:"pending"`
		OldestPending *time.Time `json:"oldest_pending"`
	} `json:"outbox"`
}

// PublicRun is a run record as anyone may see it: what happened, never
// why in the words of a provider or a driver.
type PublicRun struct {
	ID         string          `json:"run_id"`
	Trigger    string          `json:"trigger"`
	Status     string          `json:"status"`
	Provider   string          `json:"provider"`
	RateDate   string          `json:"rate_date,omitempty"`
	Fetched    int             `json:"fetched"`
	Rejected   int             `json:"rejected"`
	Changed    int             `json:"changed"`
	Events     int             `json:"events"`
	Attempts   []PublicAttempt `json:"attempts"`
	StartedAt  time.Time       `json:"started_at"`
	FinishedAt time.Time       `json:"finished_at"`
	DurationMS int64           `json:"duration_ms"`
	Reason     string          `json:"reason,omitempty"`
	// CrossCheck is public: which provider the quotes were compared with
	// and the quotes withheld, numbers anyone may see.
	CrossCheck *store.CrossCheck `json:"cross_check,omitempty"`
}

// PublicAttempt is a provider attempt as anyone may see it.
type PublicAttempt struct {
	Provider   string `json:"provider"`
	Attempt    int    `json:"attempt"`
	Outcome    string `json:"outcome"`
	Reason     string `json:"reason,omitempty"`
	DurationMS int64  `json:"duration_ms"`
}

// Public is r without its error fields. Records stored before reasons
// existed get the generic one of their status.
func Public(r store.Run) PublicRun {
	p := PublicRun{ID: r.ID, Trigger: r.Trigger, Status: r.Status, Provider: r.Provider, RateDate: r.RateDate,
		Fetched: r.Fetched, Rejected: r.Rejected, Changed: r.Changed, Events: r.Events,
		StartedAt: r.StartedAt, FinishedAt: r.FinishedAt, DurationMS: r.DurationMS, Reason: r.Reason,
		CrossCheck: r.CrossCheck}
	if p.Reason == "" && r.Status != ingest.StatusSuccess {
		p.Reason = fallback(r.Status)
	}
	if r.Attempts != nil {
		p.Attempts = make([]PublicAttempt, len(r.Attempts))
	}
	for i, a := range r.Attempts {
		p.Attempts[i] = PublicAttempt{Provider: a.Provider, Attempt: a.Attempt, Outcome: a.Outcome, Reason: a.Reason,
			DurationMS: a.DurationMS}
		if a.Reason == "" && a.Outcome != "ok" {
			p.Attempts[i].Reason = fallback(a.Outcome)
		}
	}
	return p
}

func fallback(status string) string {
	if status == ingest.StatusNoData {
		return ingest.ReasonNoData
	}
	return ingest.ReasonFailed
}

const (
	maxRuns  = 100
	ctxAdmin = "ingestor.admin"
)

// adminView lets anyone through, and marks the request as the admin's when
// it carries the right bearer token. A request that carries an
// Authorization header is held to it (401/403 as on admin endpoints)
// rather than silently answered as the public.
func adminView(token string) gin.HandlerFunc {
	require := httpx.RequireAdmin(token)
	return func(c *gin.Context) {
		// The answer depends on the credential: no shared cache may mix them.
		c.Writer.Header().Add("Vary", "Authorization")
		if c.GetHeader("Authorization") == "" {
			c.Next()
			return
		}
		c.Set(ctxAdmin, true)
		c.Header("Cache-Control", "no-store")
		require(c) // aborts with 401/403, or runs the handler
	}
}

// view is r as the caller may see it.
func view(c *gin.Context, r store.Run) any {
	if c.GetBool(ctxAdmin) {
		return r
	}
	return Public(r)
}

// Register mounts the ingestor's routes on r.
func Register(r gin.IRouter, svc Service, sched Schedule, backlog Backlog, adminToken string) {
	g := r.Group("/api/v1/ingest")
	g.POST("/run", httpx.RequireAdmin(adminToken), func(c *gin.Context) {
		run, err := svc.Run(c.Request.Context(), "admin")
		switch {
		case errors.Is(err, ingest.ErrDatabase):
			// The run could not read, store or record: the cause is logged,
			// the answer is a generic 503.
			httpx.Error(c, apperr.Unavailable("ingestion database unavailable", err))
			return
		case err != nil && run.ID == "":
			httpx.Error(c, err)
			return
		}
		// A run the providers failed (status "failed") or that found
		// nothing published ("no_data") is still a completed request: its
		// full record (reason, error, attempts) says why, as GET /runs
		// does for the admin.
		c.Header("Cache-Control", "no-store")
		httpx.OK(c, http.StatusOK, run)
	})
	g.GET("/runs", adminView(adminToken), func(c *gin.Context) {
		limit := 20
		if v := c.Query("limit"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > maxRuns {
				httpx.Error(c, apperr.Invalid("INVALID_PARAMETER", "limit must be a whole number from 1 to 100",
					map[string]any{"limit": v}))
				return
			}
			limit = n
		}
		runs, err := svc.Runs(c.Request.Context(), limit)
		if err != nil {
			httpx.Error(c, apperr.Unavailable("run history unavailable", err))
			return
		}
		out := make([]any, len(runs))
		for i, r := range runs {
			out[i] = view(c, r)
		}
		httpx.OK(c, http.StatusOK, gin.H{"runs": out, "count": len(runs)})
	})
	g.GET("/status", adminView(adminToken), func(c *gin.Context) {
		ctx := c.Request.Context()
		st := Status{Providers: svc.Providers(), Schedule: sched.Spec, Timezone: sched.Timezone}
		if sched.Next != nil {
			if n := sched.Next(); !n.IsZero() {
				st.NextRun = &n
			}
		}
		var err error
		if st.LastSuccess, err = last(c, svc, ingest.StatusSuccess); err != nil {
			httpx.Error(c, apperr.Unavailable("run history unavailable", err))
			return
		}
		if st.LastFailure, err = last(c, svc, ingest.StatusFailed); err != nil {
			httpx.Error(c, apperr.Unavailable("run history unavailable", err))
			return
		}
		n, oldest, err := backlog(ctx)
		if err != nil {
			httpx.Error(c, apperr.Unavailable("outbox unavailable", err))
			return
		}
		st.Outbox.Pending = n
		if n > 0 {
			st.Outbox.OldestPending = &oldest
		}
		httpx.OK(c, http.StatusOK, st)
	})
}

// last is the latest run with status as the caller may see it, nil when
// there is none.
func last(c *gin.Context, svc Service, status string) (any, error) {
	r, ok, err := svc.LastRun(c.Request.Context(), status)
	if err != nil || !ok {
		return nil, err
	}
	return view(c, r), nil
}
