package ingest

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type serviceMetrics struct {
	runs     *prometheus.CounterVec
	duration prometheus.Histogram
	provider *prometheus.HistogramVec
}

func newServiceMetrics(reg prometheus.Registerer) (*serviceMetrics, error) {
	m := &serviceMetrics{
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ratewire_ingest_runs_total", Help: "Ingestion runs by outcome (success, no_data, failed).",
		}, []string{"outcome"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "ratewire_ingest_run_duration_seconds", Help: "Duration of ingestion runs, provider calls included.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
		}),
		provider: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ratewire_ingest_provider_request_duration_seconds", Help: "Latency of provider calls by provider and outcome.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 12),
		}, []string{"provider", "outcome"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.runs, m.duration, m.provider} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("ingest: register metrics: %w", err)
			}
		}
	}
	return m, nil
}
