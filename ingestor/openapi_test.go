package ingestor_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/jonboulle/clockwork"

	"github.com/ratewire/ratewire/ingestor"
	"github.com/ratewire/ratewire/shared/testinfra"
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

	resp, err := http.Get(base + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	doc, err := openapi3.NewLoader().LoadFromData(raw)
	if err != nil {
		t.Fatalf("load /openapi.json: %v", err)
	}
	if err := doc.Validate(ctx); err != nil {
		t.Fatalf("/openapi.json is not a valid OpenAPI document: %v", err)
	}
	doc.Servers = openapi3.Servers{{URL: base}}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		method, path, auth string
		status             int
	}{
		{"GET", "/healthz", "", 200},
		{"GET", "/readyz", "", 200},
		{"GET", "/metrics", "", 200},
		{"GET", "/openapi.json", "", 200},
		{"POST", "/api/v1/ingest/run", "Bearer tok", 200},
		{"POST", "/api/v1/ingest/run", "", 401},
		{"POST", "/api/v1/ingest/run", "Bearer nope", 403},
		{"GET", "/api/v1/ingest/runs", "", 200},
		{"GET", "/api/v1/ingest/runs?limit=1", "", 200},
		{"GET", "/api/v1/ingest/runs?limit=0", "", 400},
		{"GET", "/api/v1/ingest/runs?limit=many", "", 400},
		{"GET", "/api/v1/ingest/status", "", 200},
	}
	seen := map[string]bool{}
	for _, tc := range cases {
		req, _ := http.NewRequest(tc.method, base+tc.path, nil)
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		route, params, err := router.FindRoute(req)
		if err != nil {
			t.Errorf("%s %s: not in the document: %v", tc.method, tc.path, err)
			continue
		}
		seen[tc.method+" "+route.Path] = true
		in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
		if tc.status < 400 {
			if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
				t.Errorf("%s %s: request does not match the document: %v", tc.method, tc.path, err)
			}
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s %s = %d %s, want %d", tc.method, tc.path, resp.StatusCode, body, tc.status)
			continue
		}
		out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
			Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}}
		out.SetBodyBytes(body)
		if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
			t.Errorf("%s %s: %d response does not match the document: %v\nbody: %s", tc.method, tc.path, resp.StatusCode, err, body)
		}
	}
	var missing []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			if !seen[method+" "+path] {
				missing = append(missing, method+" "+path)
			}
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("operations never exercised: %s", strings.Join(missing, ", "))
	}
}
