package provider_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/ratewire/ratewire/ingestor/internal/provider"
	"github.com/ratewire/ratewire/ingestor/internal/rate"
)

// serve starts a local server answering with h, closed when the test ends.
func serve(t testing.TB, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// clock returns a fixed clock.
func clock(at time.Time) func() time.Time { return func() time.Time { return at } }

// sample reads a real-format body from testdata.
func sample(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// answer is a handler that replies with a status, content type and body.
func answer(status int, contentType string, body []byte, header ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		w.WriteHeader(status)
		w.Write(body)
	}
}

// sleepy never answers in time for a client with a short timeout.
func sleepy(w http.ResponseWriter, r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-time.After(5 * time.Second):
	}
}

// truncated declares a longer body than it sends, so the connection ends
// mid-body.
func truncated(body []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", "100000")
		w.WriteHeader(http.StatusOK)
		w.Write(body[:len(body)/2])
	}
}

// shortClient is a client whose timeout a sleepy server outlasts.
func shortClient() *http.Client { return &http.Client{Timeout: 100 * time.Millisecond} }

func dec(t testing.TB, s string) decimal.Decimal {
	t.Helper()
	d, err := decimal.NewFromString(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// wantFailure checks that err is a *provider.Error of the given kind and
// provider, that Classify agrees, and that its message has every fragment.
func wantFailure(t testing.TB, err error, name string, kind provider.ErrorKind, fragments ...string) *provider.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want a %s error", kind)
	}
	var pe *provider.Error
	if !errors.As(err, &pe) {
		t.Fatalf("error %v (%T) is not a *provider.Error", err, err)
	}
	if pe.Provider != name {
		t.Errorf("error provider %q, want %q", pe.Provider, name)
	}
	if got, _ := provider.Classify(err); got != kind {
		t.Errorf("Classify(%v) = %s, want %s", err, got, kind)
	}
	for _, f := range fragments {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("error %q does not mention %q", err, f)
		}
	}
	return pe
}

// quoteByCode indexes quotes and fails on duplicates.
func quoteByCode(t testing.TB, quotes []rate.Quote) map[string]rate.Quote {
	t.Helper()
	m := make(map[string]rate.Quote, len(quotes))
	for _, q := range quotes {
		if _, dup := m[q.Code]; dup {
			t.Errorf("currency %s appears twice", q.Code)
		}
		m[q.Code] = q
	}
	return m
}

// wantRate checks a quote's mid and spread; "" means nil.
func wantRate(t testing.TB, quotes map[string]rate.Quote, code, mid, tts, ttb string) {
	t.Helper()
	q, ok := quotes[code]
	if !ok {
		t.Errorf("no quote for %s", code)
		return
	}
	if !q.DealBaseRate.Equal(dec(t, mid)) {
		t.Errorf("%s deal_base_rate = %s, want %s", code, q.DealBaseRate, mid)
	}
	for _, c := range []struct {
		field string
		got   *decimal.Decimal
		want  string
	}{{"tts", q.TTS, tts}, {"ttb", q.TTB, ttb}} {
		switch {
		case c.want == "" && c.got != nil:
			t.Errorf("%s %s = %s, want nil (no spread)", code, c.field, c.got)
		case c.want != "" && c.got == nil:
			t.Errorf("%s %s = nil, want %s", code, c.field, c.want)
		case c.want != "" && !c.got.Equal(dec(t, c.want)):
			t.Errorf("%s %s = %s, want %s", code, c.field, c.got, c.want)
		}
	}
}
