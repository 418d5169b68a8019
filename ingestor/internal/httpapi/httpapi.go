// Package httpapi is the ingestor's HTTP adapter: run now (admin), the run
// history and the ingestion status, over the shared gin engine.
package httpapi

import (
	"context"
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

// Status is the answer of GET /api/v1/ingest/status.
type Status struct {
	Providers   []string   `json:"providers"`
	Schedule    string     `json:"schedule"`
	Timezone    string     `json:"timezone"`
	NextRun     *time.Time `json:"next_run"`
	LastSuccess *store.Run `json:"last_success"`
	LastFailure *store.Run `json:"last_failure"`
	Outbox      struct {
		Pending       int        `json:"pending"`
		OldestPending *time.Time `json:"oldest_pending"`
	} `json:"outbox"`
}

const maxRuns = 100

// Register mounts the ingestor's routes on r.
func Register(r gin.IRouter, svc Service, sched Schedule, backlog Backlog, adminToken string) {
	g := r.Group("/api/v1/ingest")
	g.POST("/run", httpx.RequireAdmin(adminToken), func(c *gin.Context) {
		run, err := svc.Run(c.Request.Context(), "admin")
		if err != nil && run.ID == "" {
			httpx.Error(c, err)
			return
		}
		// A failed run is still a completed request: its record (status
		// "failed", error, attempts) says why, as GET /runs will.
		httpx.OK(c, http.StatusOK, run)
	})
	g.GET("/runs", func(c *gin.Context) {
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
		httpx.OK(c, http.StatusOK, gin.H{"runs": runs, "count": len(runs)})
	})
	g.GET("/status", func(c *gin.Context) {
		ctx := c.Request.Context()
		st := Status{Providers: svc.Providers(), Schedule: sched.Spec, Timezone: sched.Timezone}
		if sched.Next != nil {
			if n := sched.Next(); !n.IsZero() {
				st.NextRun = &n
			}
		}
		var err error
		if st.LastSuccess, err = last(ctx, svc, ingest.StatusSuccess); err != nil {
			httpx.Error(c, apperr.Unavailable("run history unavailable", err))
			return
		}
		if st.LastFailure, err = last(ctx, svc, ingest.StatusFailed); err != nil {
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

func last(ctx context.Context, svc Service, status string) (*store.Run, error) {
	r, ok, err := svc.LastRun(ctx, status)
	if err != nil || !ok {
		return nil, err
	}
	return &r, nil
}
