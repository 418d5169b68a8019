package ingestor_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/ratewire/ratewire/ingestor"
	"github.com/ratewire/ratewire/shared/testinfra"
	"github.com/ratewire/ratewire/shared/testinfra/apitest"
)

// TestOpenAPI checks /openapi.json is a valid document, then sends
// requests covering every route and validates each request and response
// against it, and that every documented operation was exercised.
func TestOpenAPI(t *testing.T) {
	brokers := testinfra.Kafka(t)
	cfg, err := ingestor.LoadConfig(func(k string) string {
		return map[string]string{"RATEWIRE_DATABASE_URL": testinfra.SQLiteURL(t),
			"RATEWIRE_KAFKA_BROKERS": strings.Join(brokers, ","), "RATEWIRE_ADMIN_TOKEN": "tok"}[k]
	}, ":0")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	// 00:30 KST on a Sunday: nothing here depends on the hour.
	clk := clockwork.NewFakeClockAt(time.Date(2026, 11, 28, 15, 30, 0, 0, time.UTC))
	go func() { done <- ingestor.Run(ctx, cfg, ingestor.Options{Listener: ln, Clock: clk}) }()
	defer func() { cancel(); <-done }()
	base := "http://" + ln.Addr().String()
	waitFor(t, "the start-up run", func() bool {
		resp, err := http.Get(base + "/api/v1/ingest/status")
		if err != nil {
			return false
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return bytes.Contains(b, []byte(`"last_success":{`))
	})

	spec := apitest.Load(t, base)
	bearer := func(tok string) []string { return []string{"Authorization", "Bearer " + tok} }
	spec.CheckAll([]apitest.Case{
		{Method: "GET", Path: "/healthz", Status: 200},
		{Method: "GET", Path: "/readyz", Status: 200},
		{Method: "GET", Path: "/metrics", Status: 200},
		{Method: "GET", Path: "/openapi.json", Status: 200},
		{Method: "POST", Path: "/api/v1/ingest/run", Header: bearer("tok"), Status: 200},
		{Method: "POST", Path: "/api/v1/ingest/run", Status: 401, Invalid: true},
		{Method: "POST", Path: "/api/v1/ingest/run", Header: bearer("nope"), Status: 403},
		{Method: "GET", Path: "/api/v1/ingest/runs", Status: 200},
		{Method: "GET", Path: "/api/v1/ingest/runs?limit=1", Status: 200},
		{Method: "GET", Path: "/api/v1/ingest/runs?limit=0", Status: 400, Invalid: true},
		{Method: "GET", Path: "/api/v1/ingest/runs?limit=many", Status: 400, Invalid: true},
		{Method: "GET", Path: "/api/v1/ingest/runs", Header: bearer("tok"), Status: 200},
		{Method: "GET", Path: "/api/v1/ingest/runs", Header: bearer("nope"), Status: 403},
		{Method: "GET", Path: "/api/v1/ingest/runs", Header: []string{"Authorization", "Basic dG9r"}, Status: 401},
		{Method: "GET", Path: "/api/v1/ingest/status", Status: 200},
		{Method: "GET", Path: "/api/v1/ingest/status", Header: bearer("tok"), Status: 200},
		{Method: "GET", Path: "/api/v1/ingest/status", Header: bearer("nope"), Status: 403},
	})
	// The answers with the database down (503 on POST /run) and the
	// public and admin records of failed runs are checked against this
	// document in internal/httpapi's tests.
	spec.Exercised()
}
