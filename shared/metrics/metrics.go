// Package metrics gives every service its own Prometheus registry, so that
// four services in one process (devstack) never collide on the default
// registry, and each /metrics shows only its own service.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// NewRegistry returns a registry with the Go runtime and process collectors
// and a constant `ratewire_build_info{service}` gauge.
func NewRegistry(service string) *prometheus.Registry {
	r := prometheus.NewRegistry()
	r.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "ratewire_build_info",
			Help:        "Always 1; labelled with the service this registry belongs to.",
			ConstLabels: prometheus.Labels{"service": service},
		}, func() float64 { return 1 }),
	)
	return r
}
