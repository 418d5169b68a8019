package ingest_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/ratewire/ratewire/ingestor/internal/ingest"
	"github.com/ratewire/ratewire/ingestor/internal/provider"
	"github.com/ratewire/ratewire/ingestor/internal/rate"
	"github.com/ratewire/ratewire/ingestor/internal/store"
	"github.com/ratewire/ratewire/shared/event"
	"github.com/ratewire/ratewire/shared/logx"
)

// TestRunReasons: every class of failure gives its run (and its last
// attempt) the fixed public reason the API shows.
func TestRunReasons(t *testing.T) {
	usd := rate.Batch{Source: "p", FetchedAt: at, Quotes: []rate.Quote{{Code: "USD", Name: "미국 달러", DealBaseRate: d("1398.4"), RecordedAt: at}}}
	pe := func(kind provider.ErrorKind, status int, badKey bool, cause error) error {
		return &provider.Error{Provider: "p", Kind: kind, Status: status, BadKey: badKey, Err: cause}
	}
	refused := &url.Error{Op: "Get", URL: "https://p.example/latest", Err: errors.New("dial tcp 10.0.0.1:443: connection refused")}
	for _, tc := range []struct {
		name   string
		errs   []error
		batch  rate.Batch
		status string
		reason string
	}{
		{"connection refused", []error{pe(provider.Temporary, 0, false, refused), refused, refused}, usd, ingest.StatusFailed, ingest.ReasonUnreachable},
		{"timeouts", []error{context.DeadlineExceeded, context.DeadlineExceeded, context.DeadlineExceeded}, usd, ingest.StatusFailed, ingest.ReasonTimeout},
		{"5xx", []error{pe(provider.Temporary, 502, false, errors.New("bad gateway")), pe(provider.Temporary, 502, false, errors.New("x")),
			pe(provider.Temporary, 503, false, errors.New("x"))}, usd, ingest.StatusFailed, ingest.ReasonProviderError},
		{"malformed answers", []error{pe(provider.Temporary, 200, false, errors.New("malformed body")), pe(provider.Temporary, 200, false, errors.New("x")),
			pe(provider.Temporary, 200, false, errors.New("x"))}, usd, ingest.StatusFailed, ingest.ReasonBadAnswer},
		{"quota", []error{pe(provider.RateLimited, 429, false, errors.New("too many requests"))}, usd, ingest.StatusFailed, ingest.ReasonRateLimited},
		{"bad key in an HTTP 200 body", []error{pe(provider.Permanent, 0, true, errors.New(`error-type "invalid-key"`))}, usd, ingest.StatusFailed, ingest.ReasonBadKey},
		{"HTTP 401", []error{pe(provider.Permanent, 401, false, errors.New("access refused"))}, usd, ingest.StatusFailed, ingest.ReasonBadKey},
		{"HTTP 400", []error{pe(provider.Permanent, 400, false, errors.New("unexpected status"))}, usd, ingest.StatusFailed, ingest.ReasonRefused},
		{"cancelled", []error{context.Canceled}, usd, ingest.StatusFailed, ingest.ReasonCancelled},
		{"nothing published", []error{fmt.Errorf("weekend: %w", provider.ErrNoData)}, usd, ingest.StatusNoData, ingest.ReasonNoData},
		{"every rate rejected", nil, rate.Batch{Source: "p", FetchedAt: at, Quotes: []rate.Quote{{Code: "USD", Name: "미국 달러",
			DealBaseRate: d("-1"), RecordedAt: at}}}, ingest.StatusFailed, ingest.ReasonRejected},
		{"success", nil, usd, ingest.StatusSuccess, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, &fixed{name: "p", errs: tc.errs, batch: tc.batch})
			run, err := h.svc.Run(context.Background(), "test")
			if run.Status != tc.status || run.Reason != tc.reason || errors.Is(err, ingest.ErrDatabase) {
				t.Fatalf("run = %s %q (%v), want %s %q and no database error", run.Status, run.Reason, err, tc.status, tc.reason)
			}
			if last := run.Attempts[len(run.Attempts)-1]; tc.status != ingest.StatusSuccess && last.Reason != tc.reason && tc.reason != ingest.ReasonRejected {
				t.Errorf("last attempt %+v, want reason %q", last, tc.reason)
			}
			runs, _ := h.svc.Runs(context.Background(), 1)
			if len(runs) != 1 || runs[0].Reason != tc.reason {
				t.Errorf("stored runs %+v, want one with reason %q", runs, tc.reason)
			}
		})
	}

	t.Run("providers failing differently", func(t *testing.T) {
		h := newHarness(t, &fixed{name: "a", errs: []error{pe(provider.RateLimited, 429, false, errors.New("x"))}},
			&fixed{name: "b", errs: []error{pe(provider.Permanent, 403, false, errors.New("x"))}})
		if run, _ := h.svc.Run(context.Background(), "test"); run.Reason != ingest.ReasonNoProvider {
			t.Errorf("run reason %q, want %q", run.Reason, ingest.ReasonNoProvider)
		}
	})
	t.Run("database down", func(t *testing.T) {
		h := newHarness(t, &fixed{name: "p", batch: usd})
		h.svc = mustService(t, ingest.Config{Providers: []provider.Provider{&fixed{name: "p", batch: usd}}, Store: brokenStore{h.st}})
		run, err := h.svc.Run(context.Background(), "test")
		if run.Status != ingest.StatusFailed || run.Reason != ingest.ReasonDatabase || !errors.Is(err, ingest.ErrDatabase) {
			t.Errorf("run = %s %q (%v), want failed %q wrapping ErrDatabase", run.Status, run.Reason, err, ingest.ReasonDatabase)
		}
	})
}

// brokenStore is a store whose reads and writes fail, as with the
// database down.
type brokenStore struct{ *store.Store }

var errDown = errors.New("dial tcp 10.0.0.9:5432: connect: connection refused")

func (brokenStore) Latest(context.Context) ([]event.Rate, error) { return nil, errDown }
func (brokenStore) RecordRun(context.Context, store.Run) error   { return errDown }

func mustService(t *testing.T, c ingest.Config) *ingest.Service {
	t.Helper()
	c.Logger, c.Now = logx.Discard(), func() time.Time { return at }
	svc, err := ingest.New(c)
	if err != nil {
		t.Fatal(err)
	}
	return svc
}
