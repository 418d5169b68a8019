package httpx_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ratewire/ratewire/shared/httpx"
)

// BenchmarkEngineOverhead is the CPU and allocations the engine's
// middleware adds to a read answered from prepared bytes (the hot path of
// GET /currencies/{code}), against bare gin writing the same bytes: the
// per-request cost the client's-eye benchmark (devstack BenchmarkClientView)
// sees as the gap to a bare server.
func BenchmarkEngineOverhead(b *testing.B) {
	gin.SetMode(gin.ReleaseMode)
	data := bytes.Repeat([]byte(`{"currency_code":"USD","deal_base_rate":"1398.4"},`), 12)
	data = append(append([]byte("["), data[:len(data)-1]...), ']')
	etag := httpx.ETagOf(data)
	body := append(append([]byte(`{"success":true,"data":`), data...), `,"timestamp":"2026-11-22T02:00:00.000Z"}`...)

	bare := gin.New()
	bare.GET("/api/v1/currencies/:code", func(c *gin.Context) {
		h := c.Writer.Header()
		h["Etag"] = []string{etag}
		h["Cache-Control"] = []string{"public, max-age=30"}
		c.Data(http.StatusOK, "application/json; charset=utf-8", body)
	})
	engine := httpx.NewEngine(httpx.Options{Service: "bench", Registry: prometheus.NewRegistry()})
	engine.GET("/api/v1/currencies/:code", func(c *gin.Context) { httpx.CachedJSON(c, data, etag, 30*time.Second) })

	for _, tc := range []struct {
		name string
		h    http.Handler
	}{{"bare", bare}, {"engine", engine}} {
		b.Run(tc.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, "/api/v1/currencies/USD", nil)
			req.RemoteAddr = "192.0.2.1:1234"
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				tc.h.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatalf("status %d", w.Code)
				}
			}
		})
	}
}
