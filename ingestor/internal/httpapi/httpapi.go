// Package httpapi is the ingestor's HTTP adapter: the admin endpoint that
// runs a collection now, over the shared gin engine.
package httpapi

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/ratewire/ratewire/ingestor/internal/ingest"
	"github.com/ratewire/ratewire/shared/apperr"
	"github.com/ratewire/ratewire/shared/httpx"
)

// Runner is what the API needs from the ingest service.
type Runner interface {
	Run(ctx context.Context, trigger string) (ingest.Summary, error)
}

// Register mounts the ingestor's routes on r.
func Register(r gin.IRouter, svc Runner, adminToken string) {
	g := r.Group("/api/v1/ingest")
	g.POST("/run", httpx.RequireAdmin(adminToken), func(c *gin.Context) {
		sum, err := svc.Run(c.Request.Context(), "admin")
		if err != nil {
			// The summary says what failed; the run itself was recorded.
			httpx.Error(c, apperr.Unavailable("ingestion run failed: "+sum.Error, err))
			return
		}
		httpx.OK(c, http.StatusOK, sum)
	})
}
