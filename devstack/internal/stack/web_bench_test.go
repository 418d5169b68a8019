package stack_test

import (
	"io"
	"net/http"
	"testing"
	"time"
)

// BenchmarkWebPages measures how long the web app takes to answer each
// page through devstack's gateway (the server's share of the first render:
// its calls to the services, the templates and the SVG chart), with a
// month of backfilled history, and the bytes of each page.
func BenchmarkWebPages(b *testing.B) {
	c := plainConfig(b)
	c.BackfillDays = 30
	a, backfilled := runStack(b, c)
	select {
	case err := <-backfilled:
		if err != nil {
			b.Fatal(err)
		}
	case <-time.After(3 * time.Minute):
		b.Fatal("backfill not done")
	}
	for _, p := range []struct{ name, path string }{
		{"rates", "/"},
		{"convert", "/convert?amount=100&from=USD&to=KRW"},
		{"currency", "/currency/JPY?period=1m"},
		{"currency-1y", "/currency/USD?period=1y"},
		{"popular", "/popular"},
		{"status", "/status"},
	} {
		b.Run(p.name, func(b *testing.B) {
			var n int64
			for b.Loop() {
				resp, err := http.Get(a.Gateway + p.path)
				if err != nil {
					b.Fatal(err)
				}
				m, _ := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Fatalf("GET %s = %d", p.path, resp.StatusCode)
				}
				n = m
			}
			b.ReportMetric(float64(n), "page-bytes")
		})
	}
}
