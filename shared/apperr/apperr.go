// Package apperr is ratewire's one error vocabulary. Services and stores
// return *Error values (or wrap them) so that the HTTP edge can map any
// failure to a status code and a client-safe envelope in one place, while
// internal causes stay in the logs.
package apperr

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Kind classifies an error by what the caller can do about it. The zero
// value is KindInternal so that an unclassified error is never reported as
// the client's fault.
type Kind int

// The kinds of error the API distinguishes; HTTPStatus maps each to a status.
const (
	// KindInternal is a bug or an unexpected failure; details are never sent.
	KindInternal Kind = iota
	// KindInvalid is a malformed or out-of-range request parameter.
	KindInvalid
	// KindNotFound is a well-formed request for something that does not exist.
	KindNotFound
	// KindConflict is a request that clashes with the current state.
	KindConflict
	// KindUnavailable is a dependency (database, cache, upstream) that is down.
	KindUnavailable
	// KindUnauthorized is a missing or malformed credential.
	KindUnauthorized
	// KindForbidden is a credential that does not grant the request.
	KindForbidden
	// KindRateLimited is a client that exceeded its request budget.
	KindRateLimited
	// KindUnprocessable is a valid request that cannot be answered, such as
	// a forecast without enough history.
	KindUnprocessable
)

// String returns a lower-case name of the kind for logs.
func (k Kind) String() string {
	switch k {
	case KindInternal:
		return "internal"
	case KindInvalid:
		return "invalid"
	case KindNotFound:
		return "not_found"
	case KindConflict:
		return "conflict"
	case KindUnavailable:
		return "unavailable"
	case KindUnauthorized:
		return "unauthorized"
	case KindForbidden:
		return "forbidden"
	case KindRateLimited:
		return "rate_limited"
	case KindUnprocessable:
		return "unprocessable"
	default:
		return fmt.Sprintf("kind(%d)", int(k))
	}
}

// Error codes used by the constructors; services may add their own codes
// (INVALID_CURRENCY_CODE, INVALID_PERIOD, ...) through Invalid and friends.
const (
	CodeInvalidParameter = "INVALID_PARAMETER"
	CodeNotFound         = "NOT_FOUND"
	CodeUnavailable      = "SERVICE_UNAVAILABLE"
	CodeUnauthorized     = "UNAUTHORIZED"
	CodeForbidden        = "FORBIDDEN"
	CodeRateLimited      = "RATE_LIMIT_EXCEEDED"
	CodeInternal         = "INTERNAL_ERROR"
)

// Error is a classified application error. Code and Message are safe to
// send to clients for every kind except KindInternal and KindUnavailable,
// whose Err is logged at the edge and replaced by a generic message.
type Error struct {
	// Kind decides the HTTP status.
	Kind Kind
	// Code is the stable machine-readable code of the envelope.
	Code string
	// Message is the human-readable explanation.
	Message string
	// Details is optional structured context (e.g. the offending parameter).
	Details map[string]any
	// RetryAfter tells a rate-limited client when to try again.
	RetryAfter time.Duration
	// Err is the underlying cause, if any.
	Err error
}

// Error returns the code, message and cause, for logs.
func (e *Error) Error() string {
	msg := e.Code
	if e.Message != "" {
		if msg != "" {
			msg += ": "
		}
		msg += e.Message
	}
	if e.Err != nil {
		if msg != "" {
			msg += ": "
		}
		msg += e.Err.Error()
	}
	if msg == "" {
		msg = e.Kind.String() + " error"
	}
	return msg
}

// Unwrap returns the cause so errors.Is and errors.As see through an Error.
func (e *Error) Unwrap() error { return e.Err }

// Invalid reports a bad request parameter, e.g. code INVALID_CURRENCY_CODE
// with details {"currency_code": "XYZ"}.
func Invalid(code, msg string, details map[string]any) *Error {
	if code == "" {
		code = CodeInvalidParameter
	}
	return &Error{Kind: KindInvalid, Code: code, Message: msg, Details: details}
}

// NotFound reports that the requested resource does not exist.
func NotFound(msg string) *Error {
	return &Error{Kind: KindNotFound, Code: CodeNotFound, Message: msg}
}

// Unavailable reports a failed dependency; err is logged, never sent.
func Unavailable(msg string, err error) *Error {
	return &Error{Kind: KindUnavailable, Code: CodeUnavailable, Message: msg, Err: err}
}

// Unauthorized reports a missing or malformed credential.
func Unauthorized(msg string) *Error {
	return &Error{Kind: KindUnauthorized, Code: CodeUnauthorized, Message: msg}
}

// Forbidden reports a credential that does not allow the request.
func Forbidden(msg string) *Error {
	return &Error{Kind: KindForbidden, Code: CodeForbidden, Message: msg}
}

// RateLimited reports an exhausted request budget; retryAfter becomes the
// Retry-After header.
func RateLimited(retryAfter time.Duration) *Error {
	return &Error{
		Kind:       KindRateLimited,
		Code:       CodeRateLimited,
		Message:    "rate limit exceeded, retry later",
		RetryAfter: retryAfter,
	}
}

// Unprocessable reports a well-formed request that cannot be answered.
func Unprocessable(code, msg string, details map[string]any) *Error {
	return &Error{Kind: KindUnprocessable, Code: code, Message: msg, Details: details}
}

// Conflict reports a request that clashes with the current state.
func Conflict(code, msg string) *Error {
	return &Error{Kind: KindConflict, Code: code, Message: msg}
}

// Internal wraps an unexpected failure; err is logged, never sent.
func Internal(err error) *Error {
	return &Error{Kind: KindInternal, Code: CodeInternal, Message: "internal server error", Err: err}
}

// As finds the first *Error in err's chain.
func As(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) && e != nil {
		return e, true
	}
	return nil, false
}

// KindOf classifies err; an error without an *Error in its chain (and nil)
// is KindInternal.
func KindOf(err error) Kind {
	if e, ok := As(err); ok {
		return e.Kind
	}
	return KindInternal
}

// HTTPStatus is the status code the REST envelope uses for k.
func HTTPStatus(k Kind) int {
	switch k {
	case KindInvalid:
		return http.StatusBadRequest
	case KindUnauthorized:
		return http.StatusUnauthorized
	case KindForbidden:
		return http.StatusForbidden
	case KindNotFound:
		return http.StatusNotFound
	case KindConflict:
		return http.StatusConflict
	case KindUnprocessable:
		return http.StatusUnprocessableEntity
	case KindRateLimited:
		return http.StatusTooManyRequests
	case KindUnavailable:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}
