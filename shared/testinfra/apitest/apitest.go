// Package apitest checks a running service against the OpenAPI document
// it serves: every request a test sends is validated against the document
// (those it allows must pass, those it forbids must fail), every response
// (status, headers, body) must match it, errors must carry the envelope,
// and every documented operation must have been exercised. Each service's
// TestOpenAPI lists its cases; this package is the one checker.
package apitest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// Case is one request and the status it must get.
type Case struct {
	Method, Path string
	// Body is sent as application/json when not empty.
	Body string
	// Header lists name, value pairs.
	Header []string
	// ETag sends If-None-Match with the path's current ETag.
	ETag   bool
	Status int
	// Invalid says the document forbids the request (a malformed
	// parameter, a missing credential): its validation must fail. Every
	// other request must match the document, including well-formed ones
	// the service refuses (an unknown currency, a day that does not exist).
	Invalid bool
}

// Spec is a service's OpenAPI document, loaded from its /openapi.json.
type Spec struct {
	t      testing.TB
	base   string
	doc    *openapi3.T
	router routers.Router
	seen   map[string]bool
}

// Load fetches base/openapi.json, checks that it is a valid OpenAPI
// document served as JSON, and points it at base.
func Load(t testing.TB, base string) *Spec {
	t.Helper()
	resp, err := http.Get(base + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("GET /openapi.json = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	doc, err := openapi3.NewLoader().LoadFromData(raw)
	if err != nil {
		t.Fatalf("load /openapi.json: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("/openapi.json is not a valid OpenAPI document: %v", err)
	}
	doc.Servers = openapi3.Servers{{URL: base}}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return &Spec{t: t, base: base, doc: doc, router: router, seen: map[string]bool{}}
}

// bearerOnly is the document's bearer scheme as a request validator sees
// it: an "Authorization: Bearer <token>" header must be present. Whether
// the token is right is the server's business (403).
func bearerOnly(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	scheme, token, ok := strings.Cut(in.RequestValidationInput.Request.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return errors.New("no Authorization: Bearer header")
	}
	return nil
}

// ETagOf returns the current ETag of a GET of path.
func (s *Spec) ETagOf(path string) string {
	s.t.Helper()
	resp, err := http.Get(s.base + path)
	if err != nil {
		s.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("ETag") == "" {
		s.t.Fatalf("GET %s = %d with ETag %q, want 200 with an ETag", path, resp.StatusCode, resp.Header.Get("ETag"))
	}
	return resp.Header.Get("ETag")
}

func (s *Spec) request(c Case) *http.Request {
	var body io.Reader
	if c.Body != "" {
		body = strings.NewReader(c.Body)
	}
	req, err := http.NewRequest(c.Method, s.base+c.Path, body)
	if err != nil {
		s.t.Fatal(err)
	}
	if c.Body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(c.Header); i += 2 {
		req.Header.Set(c.Header[i], c.Header[i+1])
	}
	return req
}

// Check sends c and checks request and response against the document,
// recording the operation as exercised.
func (s *Spec) Check(c Case) {
	s.t.Helper()
	ctx := context.Background()
	name := c.Method + " " + c.Path
	if c.ETag {
		c.Header = append(c.Header, "If-None-Match", s.ETagOf(c.Path))
	}
	probe := s.request(c)
	route, params, err := s.router.FindRoute(probe)
	if err != nil {
		s.t.Errorf("%s: not in the document: %v", name, err)
		return
	}
	s.seen[c.Method+" "+route.Path] = true
	in := &openapi3filter.RequestValidationInput{Request: probe, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: bearerOnly, MultiError: true}}
	switch err := openapi3filter.ValidateRequest(ctx, in); {
	case !c.Invalid && err != nil:
		s.t.Errorf("%s: request does not match the document: %v", name, err)
	case c.Invalid && err == nil:
		s.t.Errorf("%s: the document allows a request the service must refuse", name)
	}
	resp, err := http.DefaultClient.Do(s.request(c))
	if err != nil {
		s.t.Fatalf("%s: %v", name, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != c.Status {
		s.t.Errorf("%s = %d %.2000s, want %d", name, resp.StatusCode, body, c.Status)
		return
	}
	// ValidateResponse skips 304; the status must be documented all the same.
	if route.Operation.Responses.Status(resp.StatusCode) == nil {
		s.t.Errorf("%s: status %d is not documented", name, resp.StatusCode)
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}}
	out.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		s.t.Errorf("%s: %d response does not match the document: %v\nbody: %.2000s", name, resp.StatusCode, err, body)
	}
	if resp.StatusCode >= 400 && !bytes.Contains(body, []byte(`"success":false`)) {
		s.t.Errorf("%s: error without the envelope: %s", name, body)
	}
}

// CheckAll is Check of each case in turn.
func (s *Spec) CheckAll(cases []Case) {
	s.t.Helper()
	for _, c := range cases {
		s.Check(c)
	}
}

// Exercised reports every documented operation that no Check reached.
func (s *Spec) Exercised() {
	s.t.Helper()
	var missing []string
	for path, item := range s.doc.Paths.Map() {
		for method := range item.Operations() {
			if !s.seen[method+" "+path] {
				missing = append(missing, method+" "+path)
			}
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		s.t.Errorf("operations never exercised: %s", strings.Join(missing, ", "))
	}
}
