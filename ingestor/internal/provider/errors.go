package provider

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrorKind says what a caller should do about a failed fetch. It is the
// one vocabulary the ingest service needs for bounded retries, backoff and
// failover, whatever the provider; String gives a low-cardinality label
// fit for metrics.
type ErrorKind int

const (
	// Temporary failures are worth a retry after a short backoff: timeouts,
	// connection errors, 5xx, truncated, malformed or non-JSON bodies.
	Temporary ErrorKind = iota + 1
	// RateLimited failures are worth a retry only after RetryAfter (or, when
	// that is zero, much later than a backoff): HTTP 429 and quota errors.
	// Fail over to the next provider meanwhile.
	RateLimited
	// Permanent failures will fail again until someone changes the
	// configuration: a bad or inactive key, an unsupported request, a
	// cancelled context. Fail over at once; do not retry.
	Permanent
	// NoData means the provider answered correctly but published nothing
	// for the requested day (Korea Eximbank on weekends, holidays and before
	// about 11:00 KST). It is not a failure of the provider; the run simply
	// has nothing to store from it.
	NoData
)

// String implements fmt.Stringer with snake_case labels.
func (k ErrorKind) String() string {
	switch k {
	case Temporary:
		return "temporary"
	case RateLimited:
		return "rate_limited"
	case Permanent:
		return "permanent"
	case NoData:
		return "no_data"
	default:
		return "none"
	}
}

// ErrNoData is wrapped by every NoData error, so callers may test
// errors.Is(err, provider.ErrNoData) as well as Classify(err) == NoData.
var ErrNoData = errors.New("no data published for the requested day")

// DefaultQuotaRetryAfter is the RetryAfter given to quota errors whose
// reset time the provider does not say (ExchangeRate-API quota-reached):
// an hour, so a retry loop does not hammer an exhausted quota.
const DefaultQuotaRetryAfter = time.Hour

// Error is a classified provider failure. Messages never contain API keys:
// every provider redacts its secrets before building one.
type Error struct {
	Provider   string        // the provider's Name
	Kind       ErrorKind     // what to do about it
	RetryAfter time.Duration // for RateLimited (and 503 with Retry-After); zero if unknown
	Status     int           // HTTP status of the answer, zero if there was none
	// BadKey says the provider refused the configured credentials (a
	// missing, invalid or inactive key, HTTP 401/403): a Permanent failure
	// an operator fixes in the configuration, not at the provider.
	BadKey bool
	Err    error // the cause, redacted
}

// Error implements error, e.g.
// "koreaexim: rate_limited (HTTP 200, retry after 9h): result 4: daily request limit exceeded".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Provider)
	b.WriteString(": ")
	b.WriteString(e.Kind.String())
	var paren []string
	if e.Status != 0 {
		paren = append(paren, "HTTP "+strconv.Itoa(e.Status))
	}
	if e.RetryAfter > 0 {
		paren = append(paren, "retry after "+e.RetryAfter.String())
	}
	if len(paren) > 0 {
		b.WriteString(" (" + strings.Join(paren, ", ") + ")")
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Classify says what kind of failure err is and how long to wait before
// retrying it (zero when the provider did not say). Rules:
//   - a *Error anywhere in the chain: its Kind and RetryAfter;
//   - ErrNoData: NoData;
//   - context.Canceled: Permanent (the caller gave up; retrying cannot help);
//   - nil: kind zero ("none");
//   - anything else (context.DeadlineExceeded, net errors, unknown): Temporary.
func Classify(err error) (ErrorKind, time.Duration) {
	if err == nil {
		return 0, 0
	}
	var pe *Error
	if errors.As(err, &pe) {
		return pe.Kind, pe.RetryAfter
	}
	switch {
	case errors.Is(err, ErrNoData):
		return NoData, 0
	case errors.Is(err, context.Canceled):
		return Permanent, 0
	default:
		return Temporary, 0
	}
}

// newError builds an *Error with a formatted cause.
func newError(name string, kind ErrorKind, status int, format string, args ...any) *Error {
	return &Error{Provider: name, Kind: kind, Status: status, Err: fmt.Errorf(format, args...)}
}

// parseRetryAfter reads a Retry-After header: delay-seconds or an
// HTTP-date (RFC 9110 §10.2.3), relative to now. Absent, unparsable or past
// values give zero.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		const maxSecs = int64(365 * 24 * time.Hour / time.Second) // no overflow of Duration
		return time.Duration(min(secs, maxSecs)) * time.Second
	}
	if t, err := parseHTTPDate(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d.Round(time.Second)
		}
	}
	return 0
}
