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

// TestReadyURL checks the URL probed without an argument.
func TestReadyURL(t *testing.T) {
	for addr, want := range map[string]string{
		":8001":        "http://127.0.0.1:8001/readyz",
		"0.0.0.0:8004": "http://127.0.0.1:8004/readyz",
		"[::]:8002":    "http://127.0.0.1:8002/readyz",
		"8001":         "",
		"":             "",
		"127.0.0.1:":   "",
	} {
		got, err := readyURL(addr)
		if got != want || (want == "") != (err != nil) {
			t.Errorf("readyURL(%q): expected %q, got %q (%v)", addr, want, got, err)
		}
	}
}
