package metrics_test

import (
	"testing"

	"github.com/ratewire/ratewire/shared/metrics"
)

func TestRegistriesAreIndependent(t *testing.T) {
	a, b := metrics.NewRegistry("currency"), metrics.NewRegistry("history")
	fa, err := a.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	found := false
	for _, mf := range fa {
		if mf.GetName() == "ratewire_build_info" {
			found = true
			if got := mf.GetMetric()[0].GetLabel()[0].GetValue(); got != "currency" {
				t.Errorf("service label = %q, want currency", got)
			}
		}
	}
	if !found {
		t.Fatal("ratewire_build_info missing from the registry")
	}
	if _, err := b.Gather(); err != nil {
		t.Fatalf("second registry in the same process: %v", err)
	}
}
