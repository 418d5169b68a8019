package main

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestCheck checks that only a 2xx answer counts as healthy and that a
// closed port is unhealthy rather than a hang.
func TestCheck(t *testing.T) {
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(status) }))
	if err := check(srv.URL + "/readyz"); err != nil {
		t.Errorf("200: %v, want healthy", err)
	}
	status = http.StatusServiceUnavailable
	if err := check(srv.URL + "/readyz"); err == nil {
		t.Error("503: healthy, want unhealthy")
	}
	srv.Close()
	if err := check(srv.URL + "/readyz"); err == nil {
		t.Error("closed port: healthy, want unhealthy")
	}
}
