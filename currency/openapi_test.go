package currency_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/ratewire/ratewire/shared/testinfra/apitest"
)

// TestOpenAPI fetches /openapi.json from a running service, checks it is a
// valid OpenAPI document, then sends requests covering every route (and
// every documented status that a request can provoke) and validates each
// request (those the document forbids must fail: its parameter patterns
// are the service's) and each response, headers and body, against it. It
// also checks that every operation of the document was exercised.
func TestOpenAPI(t *testing.T) {
	e := start(t)
	spec := apitest.Load(t, e.base)
	bearer := "Bearer " + adminToken
	spec.CheckAll([]apitest.Case{
		{Method: "GET", Path: "/healthz", Status: 200},
		{Method: "GET", Path: "/readyz", Status: 200},
		{Method: "GET", Path: "/metrics", Status: 200},
		{Method: "GET", Path: "/openapi.json", Status: 200},
		{Method: "GET", Path: "/api/v1/currencies", Status: 200},
		{Method: "GET", Path: "/api/v1/currencies", ETag: true, Status: 304},
		{Method: "GET", Path: "/api/v1/currencies/latest", Status: 200},
		{Method: "GET", Path: "/api/v1/currencies/latest?base=USD&symbols=JPY,KRW,USD", Status: 200},
		{Method: "GET", Path: "/api/v1/currencies/latest?base=USD", ETag: true, Status: 304},
		{Method: "GET", Path: "/api/v1/currencies/latest?base=XX", Status: 400, Invalid: true},
		{Method: "GET", Path: "/api/v1/currencies/latest?symbols=CHF", Status: 404},
		{Method: "GET", Path: "/api/v1/currencies/multiple?symbols=usd,JPY", Status: 200},
		{Method: "GET", Path: "/api/v1/currencies/multiple?symbols=USD", ETag: true, Status: 304},
		{Method: "GET", Path: "/api/v1/currencies/multiple?symbols=USD,CHF", Status: 404},
		{Method: "GET", Path: "/api/v1/currencies/multiple?symbols=", Status: 400, Invalid: true},
		{Method: "GET", Path: "/api/v1/currencies/multiple?symbols=US", Status: 400, Invalid: true},
		{Method: "GET", Path: "/api/v1/currencies/search?country=" + url.QueryEscape("일본"), Status: 200},
		{Method: "GET", Path: "/api/v1/currencies/search?country=Japan", Status: 200},
		{Method: "GET", Path: "/api/v1/currencies/search?country=jp", Status: 200},
		{Method: "GET", Path: "/api/v1/currencies/search?country=KOR", Status: 200},
		{Method: "GET", Path: "/api/v1/currencies/search?country=JP", ETag: true, Status: 304},
		{Method: "GET", Path: "/api/v1/currencies/search?country=Narnia", Status: 400},
		{Method: "GET", Path: "/api/v1/currencies/search", Status: 400, Invalid: true},
		{Method: "GET", Path: "/api/v1/currencies/convert?from=USD&to=KRW&amount=100", Status: 200},
		{Method: "GET", Path: "/api/v1/currencies/convert?from=KRW&to=USD&amount=1000000&rate_type=tts", Status: 200},
		{Method: "GET", Path: "/api/v1/currencies/convert?from=USD&to=JPY&amount=12.5&rate_type=mid", Status: 200},
		{Method: "GET", Path: "/api/v1/currencies/convert?from=USD&to=KRW&amount=100&rate_type=bank", Status: 200},
		{Method: "GET", Path: "/api/v1/currencies/convert?from=USD&to=KRW&amount=1", ETag: true, Status: 304},
		{Method: "GET", Path: "/api/v1/currencies/convert?from=KRW&to=JPY&amount=1000", Status: 422},
		{Method: "GET", Path: "/api/v1/currencies/convert?from=USD&to=KRW&amount=1000&channel=cash&preferential=90", Status: 200},
		{Method: "GET", Path: "/api/v1/currencies/convert?from=KRW&to=USD&amount=1000000&channel=CASH&preferential=87.5", Status: 200},
		{Method: "GET", Path: "/api/v1/currencies/convert?from=USD&to=KRW&amount=1000&preferential=50", Status: 200},
		{Method: "GET", Path: "/api/v1/currencies/convert?from=KRW&to=JPY&amount=1000&channel=cash", Status: 422},
		{Method: "GET", Path: "/api/v1/currencies/convert?from=USD&to=KRW&amount=1&preferential=101", Status: 400, Invalid: true},
		{Method: "GET", Path: "/api/v1/currencies/convert?from=USD&to=KRW&amount=1&preferential=-5", Status: 400, Invalid: true},
		{Method: "GET", Path: "/api/v1/currencies/convert?from=USD&to=KRW&amount=1&channel=card", Status: 400, Invalid: true},
		{Method: "GET", Path: "/api/v1/currencies/convert?from=USD&to=KRW&amount=1&channel=cash&rate_type=mid", Status: 400},
		{Method: "GET", Path: "/api/v1/currencies/convert?from=USD&to=CHF&amount=1", Status: 404},
		{Method: "GET", Path: "/api/v1/currencies/convert?from=USD&to=KRW&amount=-1", Status: 400, Invalid: true},
		{Method: "GET", Path: "/api/v1/currencies/convert?from=USD&to=KRW&amount=1e3", Status: 400, Invalid: true},
		{Method: "GET", Path: "/api/v1/currencies/convert?from=USDX&to=KRW&amount=1", Status: 400, Invalid: true},
		{Method: "GET", Path: "/api/v1/currencies/convert?from=USD&to=KRW&amount=1&rate_type=spot", Status: 400, Invalid: true},
		{Method: "GET", Path: "/api/v1/currencies/stream?symbols=US1", Status: 400, Invalid: true},
		{Method: "GET", Path: "/api/v1/currencies/stream?last_event_id=USD-3", Status: 400, Invalid: true},
		{Method: "GET", Path: "/api/v1/currencies/stream?symbols=USD", Header: []string{"Last-Event-ID", "USD:0"}, Status: 400, Invalid: true},
		{Method: "GET", Path: "/api/v1/currencies/stream?symbols=KRW", Status: 404},
		{Method: "GET", Path: "/api/v1/currencies/usd", Status: 200},
		{Method: "GET", Path: "/api/v1/currencies/JPY", Status: 200},
		{Method: "GET", Path: "/api/v1/currencies/USD", ETag: true, Status: 304},
		{Method: "GET", Path: "/api/v1/currencies/US1", Status: 400, Invalid: true},
		{Method: "GET", Path: "/api/v1/currencies/CHF", Status: 404},
		{Method: "DELETE", Path: "/api/v1/currencies/cache?currency_code=usd", Header: []string{"Authorization", bearer}, Status: 200},
		{Method: "DELETE", Path: "/api/v1/currencies/cache", Header: []string{"Authorization", bearer}, Status: 200},
		{Method: "DELETE", Path: "/api/v1/currencies/cache?currency_code=U", Header: []string{"Authorization", bearer}, Status: 400, Invalid: true},
		{Method: "DELETE", Path: "/api/v1/currencies/cache", Status: 401, Invalid: true},
		{Method: "DELETE", Path: "/api/v1/currencies/cache", Header: []string{"Authorization", "Bearer wrong"}, Status: 403},
	})
	spec.Exercised()
	streamMatchesDocument(t, e.base)
}

// streamMatchesDocument checks a 200 of the never-ending stream (which
// apitest cannot read to its end) against the document: its type and
// required headers.
func streamMatchesDocument(t *testing.T, base string) {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromFile("internal/httpapi/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	ok := doc.Paths.Find("/api/v1/currencies/stream").Get.Responses.Status(200).Value
	s := subscribe(t, base+"/api/v1/currencies/stream?symbols=USD&last_event_id=USD:1")
	for ct := range ok.Content {
		if !strings.HasPrefix(s.resp.Header.Get("Content-Type"), ct) {
			t.Errorf("stream Content-Type %q, document says %s", s.resp.Header.Get("Content-Type"), ct)
		}
	}
	for name, h := range ok.Headers {
		got := s.resp.Header.Get(name)
		if h.Value.Required && got == "" {
			t.Errorf("stream answer lacks the documented header %s", name)
		}
		if enum := h.Value.Schema.Value.Enum; len(enum) > 0 && got != enum[0] {
			t.Errorf("stream header %s = %q, document says %v", name, got, enum)
		}
	}
	if ev := s.next(t); ev.ID != "USD:1" {
		t.Errorf("first event %q, want USD:1", ev.ID)
	}
}
