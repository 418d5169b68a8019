package httpx_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ratewire/ratewire/shared/httpx"
)

func TestServeShutsDownOnCancel(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	f := newFixture(t, httpx.Options{})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- httpx.Serve(ctx, ln, "", f.engine, nil) }()

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
			t.Errorf("Serve: expected nil after cancel, got %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve: expected return after cancel, got still running after 5s")
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
	go func() { done <- httpx.Serve(t.Context(), nil, ln.Addr().String(), http.NotFoundHandler(), nil) }()
	select {
	case err := <-done:
		if err == nil {
			t.Errorf("Serve on a used port: expected an error, got nil")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve on a used port: expected an immediate error, got still running")
	}
}

// TestServeStopsWorkersAfterHTTP checks the order a service stops in: the
// workers' context ends only once the server has stopped, Serve waits for
// every worker, and a worker's error reaches the caller under its name.
func TestServeStopsWorkersAfterHTTP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	addr := ln.Addr().String()
	ctx, cancel := context.WithCancel(t.Context())
	var httpDownAtStop bool
	workerErr := errors.New("commit failed")
	started := make(chan struct{})
	worker := httpx.Worker{Name: "consumer", Run: func(wctx context.Context) error {
		close(started)
		<-wctx.Done()
		_, err := net.DialTimeout("tcp", addr, time.Second)
		httpDownAtStop = err != nil
		return workerErr
	}}
	done := make(chan error, 1)
	go func() { done <- httpx.Serve(ctx, ln, "", http.NotFoundHandler(), nil, worker) }()
	<-started
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, workerErr) || !strings.Contains(err.Error(), "consumer: commit failed") {
			t.Errorf("Serve: expected the worker's error under its name, got %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve: expected return after cancel, got still running after 5s")
	}
	if !httpDownAtStop {
		t.Error("worker stopped while the HTTP server still accepted connections")
	}
}
