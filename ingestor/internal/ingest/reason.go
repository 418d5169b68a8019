package ingest

import (
	"context"
	"errors"
	"net"
	"net/http"

	"github.com/ratewire/ratewire/ingestor/internal/provider"
	"github.com/ratewire/ratewire/ingestor/internal/store"
)

// Public reasons: the fixed phrases a run record shows anyone for a failed
// or empty run or attempt. They name the class of failure an operator acts
// on and never carry a URL, host, body or driver error; the full cause
// stays in the record's error fields (admin only) and in the logs.
const (
	ReasonUnreachable   = "provider unreachable"    // no HTTP answer: refused, reset, DNS, TLS
	ReasonTimeout       = "provider timed out"      // no answer in time
	ReasonProviderError = "provider error"          // 5xx, or a failure without classification
	ReasonBadAnswer     = "invalid provider answer" // an answer we could not read: truncated, non-JSON, malformed
	ReasonRateLimited   = "rate limited"            // 429, quota or daily limit
	ReasonBadKey        = "bad key"                 // the provider refused the configured credentials
	ReasonRefused       = "request refused"         // another permanent refusal (4xx, unsupported request)
	ReasonNoData        = "no rates published"      // weekend, holiday, before publication
	ReasonCancelled     = "cancelled"               // the run was stopped (shutdown, caller gone)
	ReasonNoProvider    = "no provider answered"    // providers failed for different reasons: see the attempts
	ReasonRejected      = "rejected by validation"  // every fetched rate failed validation
	ReasonDatabase      = "database unavailable"    // reading or storing failed
	ReasonFailed        = "failed"                  // a failure of no known class (and records older than reasons)
)

// ErrDatabase is wrapped by the error of a run that failed because the
// database did (reading the last rates, committing, or recording the run):
// the HTTP adapter answers 503 for it, where a run the providers failed is
// a completed request.
var ErrDatabase = errors.New("database unavailable")

// dbError marks err as a database failure.
func dbError(err error) error {
	return &reasoned{reason: ReasonDatabase, err: errors.Join(ErrDatabase, err)}
}

// reasoned is an error with its public reason.
type reasoned struct {
	reason string
	err    error
}

func (e *reasoned) Error() string { return e.err.Error() }
func (e *reasoned) Unwrap() error { return e.err }

// reasonOf is the public reason of a run's error.
func reasonOf(err error) string {
	var r *reasoned
	switch {
	case err == nil:
		return ""
	case errors.As(err, &r):
		return r.reason
	case errors.Is(err, context.Canceled):
		return ReasonCancelled
	case errors.Is(err, context.DeadlineExceeded):
		return ReasonTimeout
	}
	return ReasonFailed
}

// providerReason is the public reason of one failed provider attempt, from
// the provider's classification and the HTTP status it saw.
func providerReason(err error) string {
	kind, _ := provider.Classify(err)
	var pe *provider.Error
	status, badKey := 0, false
	if errors.As(err, &pe) {
		status, badKey = pe.Status, pe.BadKey
	}
	var ne net.Error
	switch {
	case kind == provider.NoData:
		return ReasonNoData
	case kind == provider.RateLimited:
		return ReasonRateLimited
	case errors.Is(err, context.Canceled):
		return ReasonCancelled
	case kind == provider.Permanent && (badKey || status == http.StatusUnauthorized || status == http.StatusForbidden):
		return ReasonBadKey
	case kind == provider.Permanent:
		return ReasonRefused
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout():
		return ReasonTimeout
	case status >= 500 || status == http.StatusRequestTimeout || status == http.StatusTooEarly:
		return ReasonProviderError
	case status != 0:
		return ReasonBadAnswer
	case pe != nil || errors.As(err, &ne):
		return ReasonUnreachable // no status: the request got no answer
	}
	return ReasonProviderError
}

// fetchReason is the run's reason when no provider gave data: the one
// reason every provider's last attempt shares, else ReasonNoProvider.
func fetchReason(attempts []store.Attempt) string {
	last := map[string]string{}
	for _, a := range attempts {
		last[a.Provider] = a.Reason
	}
	reason := ""
	for _, r := range last {
		if reason != "" && r != reason {
			return ReasonNoProvider
		}
		reason = r
	}
	if reason == "" {
		return ReasonNoProvider
	}
	return reason
}
