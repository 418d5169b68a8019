package ranking_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ratewire/ratewire/ranking"
	"github.com/ratewire/ratewire/shared/apperr"
	"github.com/ratewire/ratewire/shared/config"
	"github.com/ratewire/ratewire/shared/httpx"
	"github.com/ratewire/ratewire/shared/testinfra"
)

// TestRunServesProbes starts the service on SQLite and miniredis, checks
// that it becomes healthy and ready, that readiness follows Redis going
// away, that it exposes its metrics, and that it stops cleanly.
func TestRunServesProbes(t *testing.T) {
	r := testinfra.MiniRedis(t)
	env := map[string]string{
		"RATEWIRE_DATABASE_URL": testinfra.SQLiteURL(t),
		"RATEWIRE_REDIS_URL":    r.URL,
	}
	cfg, err := config.Load(func(k string) string { return env[k] }, config.DefaultRankingAddr)
	if err != nil {
		t.Fatalf("load config: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	base := "http://" + ln.Addr().String()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- ranking.Run(ctx, cfg, ranking.Options{Listener: ln, Now: func() time.Time { return noon }})
	}()

	waitHealthy(t, base, done)

	if status, body := get(t, base+"/readyz"); status != http.StatusOK || !body.Success || body.Timestamp != "2026-11-18T03:00:00.000Z" {
		t.Errorf("/readyz with database and Redis up = %d %+v, want 200 success=true stamped by the service clock, 2026-11-18T03:00:00.000Z", status, body)
	}

	r.Mini.Close()
	status, body := get(t, base+"/readyz")
	if status != http.StatusServiceUnavailable {
		t.Errorf("/readyz with Redis down = %d, want %d", status, http.StatusServiceUnavailable)
	}
	if body.Success || body.Error == nil || body.Error.Code != apperr.CodeUnavailable {
		t.Errorf("/readyz with Redis down = %+v, want success=false with error code %s", body, apperr.CodeUnavailable)
	}

	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(raw), "ratewire_http_requests_total") {
		t.Errorf("/metrics does not expose ratewire_http_requests_total; got:\n%.2000s", raw)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run after cancel = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return within 10s of its context ending")
	}
}

// TestRunRequiresConfig checks that Run refuses to start without the
// settings it cannot run without, and names them.
func TestRunRequiresConfig(t *testing.T) {
	err := ranking.Run(t.Context(), config.Config{}, ranking.Options{})
	if err == nil {
		t.Fatal("Run with an empty config = nil, want an error naming RATEWIRE_DATABASE_URL")
	}
	for _, name := range []string{"RATEWIRE_DATABASE_URL", "RATEWIRE_REDIS_URL"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("Run with an empty config = %q, want it to name %s", err, name)
		}
	}
}

// waitHealthy polls /healthz until it answers 200 with success, Run fails,
// or a deadline passes.
func waitHealthy(t testing.TB, base string, done <-chan error) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case err := <-done:
			t.Fatalf("Run returned before becoming healthy: %v", err)
		default:
		}
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && strings.Contains(string(raw), `"success":true`) {
				return
			}
			err = fmt.Errorf("status %d, body %s", resp.StatusCode, raw)
		}
		if time.Now().After(deadline) {
			t.Fatalf("/healthz did not answer 200 with \"success\":true within 10s; last: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// get fetches url and decodes the response envelope.
func get(t testing.TB, url string) (int, httpx.Envelope) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	var env httpx.Envelope
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		t.Fatalf("GET %s: decode envelope: %v", url, err)
	}
	return resp.StatusCode, env
}
