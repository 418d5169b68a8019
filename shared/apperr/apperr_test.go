package apperr_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/ratewire/ratewire/shared/apperr"
)

func TestConstructors(t *testing.T) {
	cause := errors.New("dial tcp: refused")
	tests := []struct {
		name   string
		err    *apperr.Error
		kind   apperr.Kind
		code   string
		status int
	}{
		{"invalid", apperr.Invalid("INVALID_CURRENCY_CODE", "bad code", map[string]any{"currency_code": "XYZ"}), apperr.KindInvalid, "INVALID_CURRENCY_CODE", 400},
		{"invalid default code", apperr.Invalid("", "bad", nil), apperr.KindInvalid, "INVALID_PARAMETER", 400},
		{"not found", apperr.NotFound("no such currency"), apperr.KindNotFound, "NOT_FOUND", 404},
		{"unavailable", apperr.Unavailable("db down", cause), apperr.KindUnavailable, "SERVICE_UNAVAILABLE", 503},
		{"unauthorized", apperr.Unauthorized("no token"), apperr.KindUnauthorized, "UNAUTHORIZED", 401},
		{"forbidden", apperr.Forbidden("wrong token"), apperr.KindForbidden, "FORBIDDEN", 403},
		{"rate limited", apperr.RateLimited(3 * time.Second), apperr.KindRateLimited, "RATE_LIMIT_EXCEEDED", 429},
		{"unprocessable", apperr.Unprocessable("INSUFFICIENT_HISTORY", "need more data", nil), apperr.KindUnprocessable, "INSUFFICIENT_HISTORY", 422},
		{"conflict", apperr.Conflict("ALREADY_RUNNING", "a run is in progress"), apperr.KindConflict, "ALREADY_RUNNING", 409},
		{"internal", apperr.Internal(cause), apperr.KindInternal, "INTERNAL_ERROR", 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.err.Kind != tt.kind {
				t.Errorf("Kind: expected %v, got %v", tt.kind, tt.err.Kind)
			}
			if tt.err.Code != tt.code {
				t.Errorf("Code: expected %q, got %q", tt.code, tt.err.Code)
			}
			if got := apperr.HTTPStatus(tt.err.Kind); got != tt.status {
				t.Errorf("HTTPStatus: expected %d, got %d", tt.status, got)
			}
			wrapped := fmt.Errorf("handler: %w", tt.err)
			if got := apperr.KindOf(wrapped); got != tt.kind {
				t.Errorf("KindOf(wrapped): expected %v, got %v", tt.kind, got)
			}
			if tt.err.Error() == "" {
				t.Error("Error(): expected non-empty message, got empty")
			}
		})
	}
	if got := apperr.RateLimited(3 * time.Second).RetryAfter; got != 3*time.Second {
		t.Errorf("RetryAfter: expected 3s, got %v", got)
	}
}

func TestUnwrapAndAs(t *testing.T) {
	e := apperr.Unavailable("cache down", io.ErrUnexpectedEOF)
	wrapped := fmt.Errorf("get rates: %w", e)
	if !errors.Is(wrapped, io.ErrUnexpectedEOF) {
		t.Errorf("errors.Is: expected the cause to be found through *Error, got not found")
	}
	got, ok := apperr.As(wrapped)
	if !ok || got != e {
		t.Errorf("As: expected (%p, true), got (%p, %v)", e, got, ok)
	}
	if _, ok := apperr.As(errors.New("plain")); ok {
		t.Error("As(plain): expected false, got true")
	}
}

func TestKindOfUnknown(t *testing.T) {
	tests := []struct {
		name string
		err  error
	}{
		{"nil", nil},
		{"plain", errors.New("boom")},
		{"wrapped plain", fmt.Errorf("x: %w", io.EOF)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := apperr.KindOf(tt.err); got != apperr.KindInternal {
				t.Errorf("expected KindInternal, got %v", got)
			}
		})
	}
}

func TestHTTPStatusUnknownKind(t *testing.T) {
	if got := apperr.HTTPStatus(apperr.Kind(99)); got != http.StatusInternalServerError {
		t.Errorf("expected 500, got %d", got)
	}
}

func TestErrorString(t *testing.T) {
	tests := []struct {
		name string
		err  *apperr.Error
		want string
	}{
		{"code and message", apperr.NotFound("no USD"), "NOT_FOUND: no USD"},
		{"with cause", apperr.Unavailable("db", errors.New("refused")), "SERVICE_UNAVAILABLE: db: refused"},
		{"empty", &apperr.Error{}, "internal error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("expected %q, got %q", tt.want, got)
			}
		})
	}
}
