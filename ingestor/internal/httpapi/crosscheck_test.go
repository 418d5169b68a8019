package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/ratewire/ratewire/ingestor/internal/provider"
	"github.com/ratewire/ratewire/ingestor/internal/rate"
	"github.com/ratewire/ratewire/shared/testinfra/apitest"
)

// answering is a provider that answers its batch, after failing with errs
// in turn.
type answering struct {
	name  string
	batch rate.Batch
	errs  []error
}

func (a *answering) Name() string { return a.name }
func (a *answering) Fetch(context.Context) (rate.Batch, error) {
	if len(a.errs) > 0 {
		err := a.errs[0]
		a.errs = a.errs[1:]
		return rate.Batch{}, err
	}
	return a.batch, nil
}

func batchOf(src string, pairs ...string) rate.Batch {
	b := rate.Batch{Source: src, FetchedAt: at}
	for i := 0; i+1 < len(pairs); i += 2 {
		b.Quotes = append(b.Quotes, rate.Quote{Code: pairs[i], Name: pairs[i], DealBaseRate: decimal.RequireFromString(pairs[i+1]), RecordedAt: at})
	}
	return b
}

// TestRunsShowTheCrossCheck: the public and admin run records carry the
// cross-check (its reference, the quotes withheld, whose and against
// whom) in the documented shape, as do skipped attempts of a provider that
// an earlier run found rate limited.
func TestRunsShowTheCrossCheck(t *testing.T) {
	limited := &answering{name: "koreaexim", batch: batchOf("koreaexim", "USD", "1470.5"), errs: []error{
		&provider.Error{Provider: "koreaexim", Kind: provider.RateLimited, Status: 200, RetryAfter: provider.ExchangeRateAPIBlock,
			Err: errors.New("result 4: daily request limit exceeded")}}}
	primary := &answering{name: "exchangerate-api", batch: batchOf("exchangerate-api", "USD", "1466.1", "JPY", "9.8751")}
	ref := &answering{name: "frankfurter", batch: batchOf("frankfurter", "USD", "1471.7", "JPY", "9.34")}
	a := newAPI(t, limited, primary, ref)
	for range 2 { // the second run skips the rate-limited provider
		if _, err := a.svc.Run(context.Background(), "schedule"); err != nil {
			t.Fatal(err)
		}
	}
	status, body := a.do(t, "GET", "/api/v1/ingest/runs?limit=2", "")
	var env struct {
		Data struct {
			Runs []struct {
				Attempts []struct {
					Provider, Outcome, Reason string
				}
				CrossCheck struct {
					Reference string
					Compared  int
					Rejected  []struct {
						Code      string `json:"currency_code"`
						Source    string
						Reference string
					}
				} `json:"cross_check"`
			}
		}
	}
	if status != 200 || json.Unmarshal([]byte(body), &env) != nil || len(env.Data.Runs) != 2 {
		t.Fatalf("runs = %d %s", status, body)
	}
	for i, r := range env.Data.Runs {
		if r.CrossCheck.Reference != "frankfurter" || r.CrossCheck.Compared != 2 || len(r.CrossCheck.Rejected) != 1 || r.CrossCheck.Rejected[0].Code != "JPY" ||
			r.CrossCheck.Rejected[0].Source != "exchangerate-api" || r.CrossCheck.Rejected[0].Reference != "frankfurter" {
			t.Errorf("run %d public cross-check %+v, want JPY withheld against frankfurter", i, r.CrossCheck)
		}
	}
	// Both runs share the test's instant, so their order is the ids':
	// tell them apart by their attempts. Both asked exchangerate-api and
	// frankfurter (every provider is a source, and the reference is the
	// other's answer in the same run); the second skipped koreaexim.
	var first, second map[string]string
	for _, r := range env.Data.Runs {
		m := map[string]string{}
		for _, at := range r.Attempts {
			m[at.Provider] = at.Outcome
		}
		if m["koreaexim"] == "skipped" {
			second = m
		} else {
			first = m
		}
	}
	if second == nil || second["exchangerate-api"] != "ok" || second["frankfurter"] != "ok" {
		t.Errorf("second run's attempts %+v, want koreaexim skipped, exchangerate-api and frankfurter ok", second)
	}
	if first == nil || first["koreaexim"] != "failed" || first["exchangerate-api"] != "ok" || first["frankfurter"] != "ok" {
		t.Errorf("first run's attempts %+v, want koreaexim failed (rate limited), the others ok", first)
	}
	spec := apitest.Load(t, a.base)
	spec.CheckAll([]apitest.Case{
		{Method: "GET", Path: "/api/v1/ingest/runs", Status: 200},
		{Method: "GET", Path: "/api/v1/ingest/runs", Header: []string{"Authorization", "Bearer tok"}, Status: 200},
		{Method: "GET", Path: "/api/v1/ingest/status", Status: 200},
		{Method: "GET", Path: "/api/v1/ingest/status", Header: []string{"Authorization", "Bearer tok"}, Status: 200},
	})
}
