package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ratewire/ratewire/ingestor/internal/httpapi"
	"github.com/ratewire/ratewire/ingestor/internal/ingest"
	"github.com/ratewire/ratewire/ingestor/internal/provider"
	"github.com/ratewire/ratewire/ingestor/internal/rate"
	"github.com/ratewire/ratewire/ingestor/internal/store"
	"github.com/ratewire/ratewire/shared/httpx"
	"github.com/ratewire/ratewire/shared/logx"
	"github.com/ratewire/ratewire/shared/testinfra"
	"github.com/ratewire/ratewire/shared/testinfra/apitest"
)

var at = time.Date(2026, 11, 23, 3, 0, 0, 0, time.UTC)

// failing is a provider that always fails with err.
type failing struct {
	name string
	err  error
}

func (f failing) Name() string                              { return f.name }
func (f failing) Fetch(context.Context) (rate.Batch, error) { return rate.Batch{}, f.err }

// leaky are provider failures whose messages carry what an operator
// needs and the public must not see: internal hosts and addresses,
// provider URLs, body snippets.
var leaky = []provider.Provider{
	failing{"koreaexim", &provider.Error{Provider: "koreaexim", Kind: provider.Temporary, Err: &url.Error{Op: "Get",
		URL: "https://oapi.koreaexim.go.kr/site/program/financial/exchangeJSON?authkey=REDACTED",
		Err: errors.New("dial tcp 10.20.30.40:443: connect: connection refused")}}},
	failing{"frankfurter", &provider.Error{Provider: "frankfurter", Kind: provider.Temporary, Status: 503,
		Err: errors.New(`server error: body "<html>upstream frankfurter.internal:8443 says secret-body</html>"`)}},
	failing{"exchangerate-api", &provider.Error{Provider: "exchangerate-api", Kind: provider.Permanent, Status: 403,
		Err: errors.New(`access refused: body "{\"result\":\"error\",\"documentation\":\"https://www.exchangerate-api.com/docs\"}"`)}},
}

// secrets must never appear in any answer but the admin's records, and
// public records have no "error" field at all.
var (
	secrets = []string{"http", "10.20.30.40", "koreaexim.go.kr", "frankfurter.internal", "secret-body", "dial tcp",
		"REDACTED", "access refused", "documentation"}
	publicSecrets = append(secrets, `"error"`)
)

type api struct {
	base string
	svc  *ingest.Service
	db   *sqlx.DB
}

func newAPI(t *testing.T, ps ...provider.Provider) api {
	t.Helper()
	db := testinfra.OpenDB(t, testinfra.SQLiteURL(t))
	st := store.New(db)
	if err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	svc, err := ingest.New(ingest.Config{Providers: ps, Store: st, Logger: logx.Discard(),
		Now: func() time.Time { return at }, Sleep: func(context.Context, time.Duration) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	engine := httpx.NewEngine(httpx.Options{Service: "ingestor", Registry: prometheus.NewRegistry(), Now: func() time.Time { return at }})
	httpapi.RegisterOpenAPI(engine)
	httpapi.Register(engine, svc, httpapi.Schedule{Spec: "0 * * * *", Timezone: "Asia/Seoul"}, st.OutboxBacklog, "tok")
	srv := httptest.NewServer(engine)
	t.Cleanup(srv.Close)
	return api{base: srv.URL, svc: svc, db: db}
}

// get sends method path with the bearer token tok (none when empty) and
// returns the status and body.
func (a api) do(t *testing.T, method, path, tok string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, a.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

type attempt struct {
	Provider, Outcome, Reason string
	Error                     *string
}

type record struct {
	Status, Provider, Reason string
	Error                    *string
	Attempts                 []attempt
}

// TestPublicRunRecordsHideInternals: anyone sees each run's and each
// attempt's status and a fixed public reason; only the admin token shows
// the errors with their hosts, URLs and bodies.
func TestPublicRunRecordsHideInternals(t *testing.T) {
	a := newAPI(t, leaky...)
	if _, err := a.svc.Run(context.Background(), "schedule"); err == nil {
		t.Fatal("a run with every provider failing succeeded")
	}
	wantReasons := map[string]string{"koreaexim": "provider unreachable", "frankfurter": "provider error", "exchangerate-api": "bad key"}

	for _, path := range []string{"/api/v1/ingest/runs", "/api/v1/ingest/status"} {
		status, body := a.do(t, "GET", path, "")
		if status != http.StatusOK {
			t.Fatalf("GET %s = %d %s, want 200", path, status, body)
		}
		for _, s := range publicSecrets {
			if strings.Contains(body, s) {
				t.Errorf("public GET %s shows %q: %s", path, s, body)
			}
		}
		r := failure(t, path, body)
		if r.Status != ingest.StatusFailed || r.Reason != "no provider answered" || r.Error != nil {
			t.Errorf("public %s record = %+v, want failed, reason %q and no error", path, r, "no provider answered")
		}
		if len(r.Attempts) != 7 { // 3 + 3 + 1 (a bad key is not retried)
			t.Fatalf("public %s attempts = %+v, want 7", path, r.Attempts)
		}
		for _, at := range r.Attempts {
			if at.Outcome != "failed" || at.Reason != wantReasons[at.Provider] || at.Error != nil {
				t.Errorf("public %s attempt %+v, want failed with reason %q and no error", path, at, wantReasons[at.Provider])
			}
		}

		// The admin sees everything, as the logs do.
		status, body = a.do(t, "GET", path, "tok")
		if status != http.StatusOK {
			t.Fatalf("admin GET %s = %d %s, want 200", path, status, body)
		}
		r = failure(t, path, body)
		if r.Error == nil || !strings.Contains(*r.Error, "10.20.30.40:443") || r.Reason != "no provider answered" {
			t.Errorf("admin %s record = %+v, want the full error and the reason", path, r)
		}
		for _, at := range r.Attempts {
			if at.Error == nil || at.Reason != wantReasons[at.Provider] {
				t.Errorf("admin %s attempt %+v, want its error and reason", path, at)
			}
		}
		// A wrong token is refused, not silently downgraded.
		if status, body := a.do(t, "GET", path, "guess"); status != http.StatusForbidden {
			t.Errorf("GET %s with a wrong token = %d %s, want 403", path, status, body)
		}
	}

	spec := apitest.Load(t, a.base)
	spec.CheckAll([]apitest.Case{
		{Method: "GET", Path: "/api/v1/ingest/runs", Status: 200},
		{Method: "GET", Path: "/api/v1/ingest/runs", Header: []string{"Authorization", "Bearer tok"}, Status: 200},
		{Method: "GET", Path: "/api/v1/ingest/runs", Header: []string{"Authorization", "Bearer guess"}, Status: 403},
		{Method: "GET", Path: "/api/v1/ingest/status", Status: 200},
		{Method: "GET", Path: "/api/v1/ingest/status", Header: []string{"Authorization", "Bearer tok"}, Status: 200},
		{Method: "POST", Path: "/api/v1/ingest/run", Header: []string{"Authorization", "Bearer tok"}, Status: 200},
	})
}

// failure returns the failed run of a /runs or /status answer.
func failure(t *testing.T, path, body string) record {
	t.Helper()
	var env struct {
		Data struct {
			Runs        []record
			LastFailure *record `json:"last_failure"`
		}
	}
	if err := json.Unmarshal([]byte(body), &env); err != nil {
		t.Fatalf("%s: %v in %s", path, err, body)
	}
	switch {
	case env.Data.LastFailure != nil:
		return *env.Data.LastFailure
	case len(env.Data.Runs) > 0:
		return env.Data.Runs[0]
	}
	t.Fatalf("%s: no failed run in %s", path, body)
	return record{}
}

// TestRunNowStatuses: a run that failed for the providers' reasons is a
// completed request (200 with its record); a run the database failed is
// 503 with no driver error in the answer.
func TestRunNowStatuses(t *testing.T) {
	t.Run("providers failed", func(t *testing.T) {
		a := newAPI(t, leaky...)
		status, body := a.do(t, "POST", "/api/v1/ingest/run", "tok")
		var env struct {
			Success bool
			Data    record
		}
		if err := json.Unmarshal([]byte(body), &env); err != nil || status != http.StatusOK || !env.Success {
			t.Fatalf("POST /run = %d %s (%v), want 200 with the record", status, body, err)
		}
		if env.Data.Status != ingest.StatusFailed || env.Data.Error == nil || env.Data.Reason != "no provider answered" {
			t.Errorf("record = %+v, want failed with its error and reason", env.Data)
		}
	})
	for _, tc := range []struct {
		name string
		p    provider.Provider
	}{
		{"database down, provider answers", &provider.Simulated{Now: func() time.Time { return at }}},
		{"database down, provider fails", leaky[0]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newAPI(t, tc.p)
			spec := apitest.Load(t, a.base)
			if err := a.db.Close(); err != nil {
				t.Fatal(err)
			}
			status, body := a.do(t, "POST", "/api/v1/ingest/run", "tok")
			if status != http.StatusServiceUnavailable || !strings.Contains(body, `"success":false`) ||
				!strings.Contains(body, `"SERVICE_UNAVAILABLE"`) {
				t.Errorf("POST /run with the database down = %d %s, want 503 SERVICE_UNAVAILABLE", status, body)
			}
			for _, s := range append(secrets, "sql", "closed") {
				if strings.Contains(body, s) {
					t.Errorf("POST /run with the database down shows %q: %s", s, body)
				}
			}
			spec.Check(apitest.Case{Method: "POST", Path: "/api/v1/ingest/run", Header: []string{"Authorization", "Bearer tok"}, Status: 503})
		})
	}
}
