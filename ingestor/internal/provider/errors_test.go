package provider_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ratewire/ratewire/ingestor/internal/provider"
)

func TestClassify(t *testing.T) {
	rl := &provider.Error{Provider: "koreaexim", Kind: provider.RateLimited, RetryAfter: time.Minute, Err: errors.New("limit")}
	tests := []struct {
		name  string
		err   error
		kind  provider.ErrorKind
		retry time.Duration
	}{
		{"nil", nil, 0, 0},
		{"provider error", rl, provider.RateLimited, time.Minute},
		{"wrapped provider error", fmt.Errorf("run 7: %w", rl), provider.RateLimited, time.Minute},
		{"ErrNoData", fmt.Errorf("x: %w", provider.ErrNoData), provider.NoData, 0},
		{"caller cancelled", context.Canceled, provider.Permanent, 0},
		{"deadline", context.DeadlineExceeded, provider.Temporary, 0},
		{"anything else", errors.New("connection reset"), provider.Temporary, 0},
	}
	for _, tt := range tests {
		kind, retry := provider.Classify(tt.err)
		if kind != tt.kind || retry != tt.retry {
			t.Errorf("%s: Classify = %s, %s; want %s, %s", tt.name, kind, retry, tt.kind, tt.retry)
		}
	}
}

func TestErrorMessage(t *testing.T) {
	e := &provider.Error{Provider: "koreaexim", Kind: provider.RateLimited, RetryAfter: 9 * time.Hour, Status: 200, Err: errors.New("result 4")}
	if got, want := e.Error(), "koreaexim: rate_limited (HTTP 200, retry after 9h0m0s): result 4"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	for k, want := range map[provider.ErrorKind]string{provider.Temporary: "temporary", provider.RateLimited: "rate_limited", provider.Permanent: "permanent", provider.NoData: "no_data", 0: "none"} {
		if k.String() != want {
			t.Errorf("kind %d String() = %q, want %q", int(k), k, want)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"120", 2 * time.Minute},
		{" 7 ", 7 * time.Second},
		{"0", 0},
		{"-5", 0},
		{"soon", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(90 * time.Second).Format(time.RFC850), 90 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0}, // in the past
		{"99999999999999999", 365 * 24 * time.Hour},      // capped, no overflow
	}
	for _, tt := range tests {
		if got := provider.ParseRetryAfter(tt.in, now); got != tt.want {
			t.Errorf("Retry-After %q = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestParseAmount(t *testing.T) {
	tests := []struct{ in, want string }{
		{"1,134.5", "1134.5"},
		{"4,551.5", "4551.5"},
		{"1,234,567.891", "1234567.891"},
		{"912.34", "912.34"},
		{" 8.72 ", "8.72"},
		{"0", "0"},
		{"1,134", "1134"},
	}
	for _, tt := range tests {
		got, err := provider.ParseAmount(tt.in)
		if err != nil || !got.Equal(dec(t, tt.want)) {
			t.Errorf("ParseAmount(%q) = %s, %v; want %s", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "1.134,5", "11,34.5", ",134", "1,,134", "1,134,5", "abc", "1e-50", "NaN", "1,13"} {
		if got, err := provider.ParseAmount(bad); err == nil {
			t.Errorf("ParseAmount(%q) = %s, want an error", bad, got)
		}
	}
}

func TestBodyLimit(t *testing.T) {
	huge := []byte(`{"result":"success","pad":"` + strings.Repeat("x", provider.MaxBodyBytes) + `"}`)
	srv := serve(t, answer(200, "application/json", huge))
	p := &provider.Frankfurter{BaseURL: srv.URL}
	_, err := p.Fetch(context.Background())
	wantFailure(t, err, "frankfurter", provider.Temporary, "exceeds")
}

func TestCancelledContextIsPermanent(t *testing.T) {
	srv := serve(t, sleepy)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := (&provider.Frankfurter{BaseURL: srv.URL}).Fetch(ctx)
	wantFailure(t, err, "frankfurter", provider.Permanent)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v does not wrap context.Canceled", err)
	}
}

func TestKoreanName(t *testing.T) {
	for code, want := range map[string]string{"USD": "미국 달러", "JPY": "일본 옌", "CNH": "위안화", "XAU": "XAU", "FOK": "FOK"} {
		if got := provider.KoreanName(code); got != want {
			t.Errorf("KoreanName(%s) = %q, want %q", code, got, want)
		}
	}
}
