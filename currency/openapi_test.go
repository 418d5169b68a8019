package currency_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// TestOpenAPI fetches /openapi.json from a running service, checks it is a
// valid OpenAPI document, then sends requests covering every route (and
// every documented status that a request can provoke) and validates each
// request and each response, headers and body, against it. It also checks
// that every operation of the document was exercised.
func TestOpenAPI(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	resp, err := http.Get(e.base + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(raw)
	if err != nil {
		t.Fatalf("load /openapi.json: %v", err)
	}
	if err := doc.Validate(ctx); err != nil {
		t.Fatalf("/openapi.json is not a valid OpenAPI document: %v", err)
	}
	doc.Servers = openapi3.Servers{{URL: e.base}}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}

	// The rate's ETag, for the conditional requests.
	etagOf := func(path string) string {
		resp, err := http.Get(e.base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.Header.Get("ETag")
	}
	bearer := "Bearer " + adminToken
	cases := []struct {
		method, path string
		hdr          []string
		status       int
	}{
		{"GET", "/healthz", nil, 200},
		{"GET", "/readyz", nil, 200},
		{"GET", "/metrics", nil, 200},
		{"GET", "/openapi.json", nil, 200},
		{"GET", "/api/v1/currencies", nil, 200},
		{"GET", "/api/v1/currencies", []string{"If-None-Match", etagOf("/api/v1/currencies")}, 304},
		{"GET", "/api/v1/currencies/latest", nil, 200},
		{"GET", "/api/v1/currencies/latest?base=USD&symbols=JPY,KRW,USD", nil, 200},
		{"GET", "/api/v1/currencies/latest?base=USD", []string{"If-None-Match", etagOf("/api/v1/currencies/latest?base=USD")}, 304},
		{"GET", "/api/v1/currencies/latest?base=XX", nil, 400},
		{"GET", "/api/v1/currencies/latest?symbols=CHF", nil, 404},
		{"GET", "/api/v1/currencies/multiple?symbols=usd,JPY", nil, 200},
		{"GET", "/api/v1/currencies/multiple?symbols=USD", []string{"If-None-Match", etagOf("/api/v1/currencies/multiple?symbols=USD")}, 304},
		{"GET", "/api/v1/currencies/multiple?symbols=USD,CHF", nil, 404},
		{"GET", "/api/v1/currencies/multiple?symbols=", nil, 400},
		{"GET", "/api/v1/currencies/multiple?symbols=US", nil, 400},
		{"GET", "/api/v1/currencies/search?country=" + url.QueryEscape("일본"), nil, 200},
		{"GET", "/api/v1/currencies/search?country=Japan", nil, 200},
		{"GET", "/api/v1/currencies/search?country=jp", nil, 200},
		{"GET", "/api/v1/currencies/search?country=KOR", nil, 200},
		{"GET", "/api/v1/currencies/search?country=JP", []string{"If-None-Match", etagOf("/api/v1/currencies/search?country=JP")}, 304},
		{"GET", "/api/v1/currencies/search?country=Narnia", nil, 400},
		{"GET", "/api/v1/currencies/search", nil, 400},
		{"GET", "/api/v1/currencies/convert?from=USD&to=KRW&amount=100", nil, 200},
		{"GET", "/api/v1/currencies/convert?from=KRW&to=USD&amount=1000000&rate_type=tts", nil, 200},
		{"GET", "/api/v1/currencies/convert?from=USD&to=JPY&amount=12.5&rate_type=mid", nil, 200},
		{"GET", "/api/v1/currencies/convert?from=USD&to=KRW&amount=1", []string{"If-None-Match", etagOf("/api/v1/currencies/convert?from=USD&to=KRW&amount=1")}, 304},
		{"GET", "/api/v1/currencies/convert?from=KRW&to=JPY&amount=1000", nil, 422},
		{"GET", "/api/v1/currencies/convert?from=USD&to=CHF&amount=1", nil, 404},
		{"GET", "/api/v1/currencies/convert?from=USD&to=KRW&amount=-1", nil, 400},
		{"GET", "/api/v1/currencies/convert?from=USD&to=KRW&amount=1e3", nil, 400},
		{"GET", "/api/v1/currencies/convert?from=USDX&to=KRW&amount=1", nil, 400},
		{"GET", "/api/v1/currencies/convert?from=USD&to=KRW&amount=1&rate_type=spot", nil, 400},
		{"GET", "/api/v1/currencies/usd", nil, 200},
		{"GET", "/api/v1/currencies/JPY", nil, 200},
		{"GET", "/api/v1/currencies/USD", []string{"If-None-Match", etagOf("/api/v1/currencies/USD")}, 304},
		{"GET", "/api/v1/currencies/US1", nil, 400},
		{"GET", "/api/v1/currencies/CHF", nil, 404},
		{"DELETE", "/api/v1/currencies/cache?currency_code=usd", []string{"Authorization", bearer}, 200},
		{"DELETE", "/api/v1/currencies/cache", []string{"Authorization", bearer}, 200},
		{"DELETE", "/api/v1/currencies/cache?currency_code=U", []string{"Authorization", bearer}, 400},
		{"DELETE", "/api/v1/currencies/cache", nil, 401},
		{"DELETE", "/api/v1/currencies/cache", []string{"Authorization", "Bearer wrong"}, 403},
	}
	seen := map[string]bool{}
	for _, tc := range cases {
		req, _ := http.NewRequest(tc.method, e.base+tc.path, nil)
		for i := 0; i+1 < len(tc.hdr); i += 2 {
			req.Header.Set(tc.hdr[i], tc.hdr[i+1])
		}
		route, params, err := router.FindRoute(req)
		if err != nil {
			t.Errorf("%s %s: not in the document: %v", tc.method, tc.path, err)
			continue
		}
		seen[tc.method+" "+route.Path] = true
		in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
		if tc.status < 400 {
			if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
				t.Errorf("%s %s: request does not match the document: %v", tc.method, tc.path, err)
			}
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s %s = %d %s, want %d", tc.method, tc.path, resp.StatusCode, body, tc.status)
			continue
		}
		out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
			Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}}
		out.SetBodyBytes(body)
		if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
			t.Errorf("%s %s: %d response does not match the document: %v\nbody: %s", tc.method, tc.path, resp.StatusCode, err, body)
		}
		if resp.StatusCode >= 400 && !bytes.Contains(body, []byte(`"success":false`)) {
			t.Errorf("%s %s: error without the envelope: %s", tc.method, tc.path, body)
		}
	}
	var missing []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			if !seen[method+" "+path] {
				missing = append(missing, method+" "+path)
			}
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("operations never exercised: %s", strings.Join(missing, ", "))
	}
}
