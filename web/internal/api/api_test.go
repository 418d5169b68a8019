package api_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/ratewire/ratewire/web/internal/api"
)

// TestKinds: every way a call fails maps to the kind a page explains.
func TestKinds(t *testing.T) {
	for _, tt := range []struct {
		name   string
		status int
		body   string
		want   api.Kind
	}{
		{"unknown country", 400, `{"success":false,"error":{"code":"INVALID_COUNTRY","message":"x"}}`, api.KindUnknownCountry},
		{"bad parameter", 400, `{"success":false,"error":{"code":"INVALID_PARAMETER","message":"x"}}`, api.KindInvalid},
		{"not found", 404, `{"success":false,"error":{"code":"NOT_FOUND","message":"x"}}`, api.KindNotFound},
		{"no spread", 422, `{"success":false,"error":{"code":"RATE_UNAVAILABLE","message":"x"}}`, api.KindUnavailable},
		{"limited", 429, `{"success":false,"error":{"code":"RATE_LIMIT_EXCEEDED","message":"x"}}`, api.KindLimited},
		{"dependency down", 503, `{"success":false,"error":{"code":"SERVICE_UNAVAILABLE","message":"x"}}`, api.KindDown},
		{"gateway page", 502, `<html>bad gateway</html>`, api.KindDown},
		{"internal", 500, `{"success":false,"error":{"code":"INTERNAL","message":"x"}}`, api.KindInternal},
		{"not json", 200, `hello`, api.KindInternal},
		{"success false", 200, `{"success":false}`, api.KindInternal},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			c := api.New(api.Endpoints{Currency: srv.URL}, time.Second, nil)
			_, err := c.Rate(context.Background(), "USD")
			var e *api.Error
			if !errors.As(err, &e) || e.Kind != tt.want || e.Service != "currency" {
				t.Errorf("err = %v, want kind %d from currency", err, tt.want)
			}
		})
	}
}

// TestTimeoutAndRefusal: a service that does not answer in time, or at
// all, is down.
func TestTimeoutAndRefusal(t *testing.T) {
	block := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(block)
	c := api.New(api.Endpoints{History: slow.URL}, 50*time.Millisecond, nil)
	if _, err := c.History(context.Background(), "USD", "1m"); api.KindOf(err) != api.KindDown {
		t.Errorf("slow service: %v, want down", err)
	}
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	c = api.New(api.Endpoints{Ranking: gone.URL}, time.Second, nil)
	if _, err := c.Rankings(context.Background(), "daily", 10); api.KindOf(err) != api.KindDown {
		t.Errorf("refused connection: %v, want down", err)
	}
}

// TestConvertQuery: channel and preferential are sent only when set.
func TestConvertQuery(t *testing.T) {
	if got := (api.ConvertQuery{From: "USD", To: "KRW", Amount: "10"}).Values().Encode(); got != "amount=10&from=USD&to=KRW" {
		t.Errorf("basic query %q", got)
	}
	if got := (api.ConvertQuery{From: "USD", To: "KRW", Amount: "10", RateType: "bank", Channel: "cash", Preferential: "90"}).Values().Encode(); got != "amount=10&channel=cash&from=USD&preferential=90&rate_type=bank&to=KRW" {
		t.Errorf("full query %q", got)
	}
}

const spec = `{"paths":{"/api/v1/currencies/convert":{"get":{"parameters":[
 {"name":"from","in":"query"},{"$ref":"#/components/parameters/Channel"},{"name":"If-None-Match","in":"header"},
 {"$ref":"#/components/parameters/Missing"}]}}},
 "components":{"parameters":{"Channel":{"name":"channel","in":"query"}}}}`

func TestConvertParamsOf(t *testing.T) {
	got, err := api.ConvertParamsOf([]byte(spec))
	if err != nil {
		t.Fatal(err)
	}
	if !got["from"] || !got["channel"] || got["If-None-Match"] || got["preferential"] || len(got) != 2 {
		t.Errorf("params = %v, want from and channel", got)
	}
	if got, err := api.ConvertParamsOf([]byte(`{"paths":{}}`)); err != nil || len(got) != 0 {
		t.Errorf("no convert path: %v %v", got, err)
	}
	if _, err := api.ConvertParamsOf([]byte(`{`)); err == nil {
		t.Error("broken document accepted")
	}
}

// FuzzConvertParamsOf: the currency service's OpenAPI document is input
// the app does not control; nothing in it panics, and only query
// parameter names come out.
func FuzzConvertParamsOf(f *testing.F) {
	f.Add([]byte(spec))
	f.Add([]byte(`{"paths":{"/api/v1/currencies/convert":{"get":{"parameters":[{"$ref":"#/components/parameters/"}]}}}}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"paths":{"/api/v1/currencies/convert":null}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := api.ConvertParamsOf(b)
		if err != nil {
			return
		}
		if got == nil {
			t.Fatal("nil map without an error")
		}
	})
}
