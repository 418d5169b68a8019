package httpx_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/ratewire/ratewire/shared/httpx"
)

func TestServeListenerShutsDownOnCancel(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	f := newFixture(t, httpx.Options{})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- httpx.ServeListener(ctx, ln, f.engine, nil) }()

	resp, err := http.Get("http://" + ln.Addr().String() + "/healthz")
	if err != nil {
		t.Fatalf("GET /healthz: %v", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("status: expected 200, got %d", resp.StatusCode)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("ServeListener: expected nil after cancel, got %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ServeListener: expected return after cancel, got still running after 5s")
	}
	if _, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		t.Errorf("dial after shutdown: expected refused, got connected")
	}
}

func TestServeBindError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer ln.Close()
	done := make(chan error, 1)
	go func() { done <- httpx.Serve(t.Context(), ln.Addr().String(), http.NotFoundHandler(), nil) }()
	select {
	case err := <-done:
		if err == nil {
			t.Errorf("Serve on a used port: expected an error, got nil")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve on a used port: expected an immediate error, got still running")
	}
}
