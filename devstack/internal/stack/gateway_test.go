package stack_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ratewire/ratewire/devstack/internal/stack"
	"github.com/ratewire/ratewire/shared/httpx"
)

// TestGatewayRoutes checks that every prefix reaches its own service with
// path, query and method unchanged and the X-Forwarded headers set, that
// /healthz is answered by the gateway itself, and that unknown paths and
// unreachable services get the API's error envelope.
func TestGatewayRoutes(t *testing.T) {
	backend := func(name string) *httptest.Server {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Backend", name)
			w.Header().Set("X-Got", r.Method+" "+r.URL.RequestURI())
			w.Header().Set("X-Got-Forwarded-For", r.Header.Get("X-Forwarded-For"))
			w.WriteHeader(http.StatusTeapot)
		}))
		t.Cleanup(s.Close)
		return s
	}
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close() // a port nothing listens on any more
	a := stack.Addrs{
		Currency: backend("currency").URL, History: backend("history").URL,
		Ranking: backend("ranking").URL, Ingestor: down.URL, Web: backend("web").URL,
	}
	gw, err := stack.NewGateway(a, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gw)
	defer srv.Close()

	tests := []struct {
		method, path string
		wantStatus   int
		wantBackend  string // "" = answered by the gateway itself
		wantCode     string // error code of the envelope, when not proxied
	}{
		{"GET", "/api/v1/currencies", 418, "currency", ""},
		{"GET", "/api/v1/currencies/latest?symbols=USD,JPY&base=KRW", 418, "currency", ""},
		{"DELETE", "/api/v1/currencies/cache?currency_code=USD", 418, "currency", ""},
		{"GET", "/api/v1/history?target=USD&period=1m", 418, "history", ""},
		{"GET", "/api/v1/history/stats?target=USD", 418, "history", ""},
		{"GET", "/api/v1/rankings?period=daily", 418, "ranking", ""},
		{"POST", "/api/v1/rankings/click?country=JP", 418, "ranking", ""},
		{"POST", "/api/v1/ingest/run", 502, "", "SERVICE_UNAVAILABLE"},
		{"GET", "/api/v1/currenciesX", 404, "", "NOT_FOUND"},
		{"GET", "/api/v2/currencies", 404, "", "NOT_FOUND"},
		{"GET", "/api/", 404, "", "NOT_FOUND"},
		{"GET", "/healthz", 200, "", ""},
		// Everything else is the web app's.
		{"GET", "/", 418, "web", ""},
		{"GET", "/currency/JPY?period=3m", 418, "web", ""},
		{"GET", "/static/app.css?v=1", 418, "web", ""},
		{"GET", "/apix", 418, "web", ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, srv.URL+tt.path, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d, want %d (body %s)", resp.StatusCode, tt.wantStatus, body)
			}
			if got := resp.Header.Get("X-Backend"); got != tt.wantBackend {
				t.Fatalf("answered by %q, want %q", got, tt.wantBackend)
			}
			if tt.wantBackend != "" {
				if got, want := resp.Header.Get("X-Got"), tt.method+" "+tt.path; got != want {
					t.Errorf("backend got %q, want %q", got, want)
				}
				if resp.Header.Get("X-Got-Forwarded-For") == "" {
					t.Error("backend got no X-Forwarded-For")
				}
				return
			}
			var env struct {
				Success bool `json:"success"`
				Error   *struct {
					Code string `json:"code"`
				} `json:"error"`
				Timestamp string `json:"timestamp"`
			}
			if err := json.Unmarshal(body, &env); err != nil || env.Timestamp == "" {
				t.Fatalf("body %s is not the API envelope: %v", body, err)
			}
			switch {
			case tt.wantCode == "" && (!env.Success || env.Error != nil):
				t.Errorf("body %s, want success", body)
			case tt.wantCode != "" && (env.Success || env.Error == nil || env.Error.Code != tt.wantCode):
				t.Errorf("body %s, want error code %s", body, tt.wantCode)
			}
		})
	}
}

// TestGatewayWithoutWeb: a gateway built without a web app answers its
// paths with the API's 404, as before the app existed.
func TestGatewayWithoutWeb(t *testing.T) {
	up := httptest.NewServer(http.NotFoundHandler())
	defer up.Close()
	gw, err := stack.NewGateway(allAt(up.URL), nil)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	gw.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != http.StatusNotFound || !json.Valid(rec.Body.Bytes()) {
		t.Errorf("GET / without a web app = %d %s, want 404 in the envelope", rec.Code, rec.Body)
	}
}

// TestGatewayRejectsBadAddress checks that a service without an address
// stops the gateway from being built rather than proxying to nowhere.
func TestGatewayRejectsBadAddress(t *testing.T) {
	_, err := stack.NewGateway(stack.Addrs{Currency: "http://127.0.0.1:1", History: "http://127.0.0.1:2", Ranking: "127.0.0.1:3"}, nil)
	if err == nil {
		t.Fatal("NewGateway accepted addresses with a missing scheme and an empty ingestor")
	}
}

// TestGatewayKeepsUpstreamConnections: 32 clients sending 40 requests
// each through the gateway reuse the gateway's connections to the service
// instead of dialling one per request (the default Transport kept only 2
// idle connections per host and left thousands of sockets in TIME_WAIT).
func TestGatewayKeepsUpstreamConnections(t *testing.T) {
	var mu sync.Mutex
	dialled := 0
	backend := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, `{"success":true}`)
	}))
	backend.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			mu.Lock()
			dialled++
			mu.Unlock()
		}
	}
	backend.Start()
	defer backend.Close()
	srv := gatewayTo(t, backend.URL)

	const clients, each = 32, 40
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each client keeps its own connection to the gateway.
			c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
			for range each {
				resp, err := c.Get(srv.URL + "/api/v1/currencies/USD")
				if err != nil {
					t.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	// A request that finds no idle connection starts a dial, and takes a
	// connection another request frees meanwhile if that comes first;
	// net/http then keeps the finished dial as one more idle connection
	// (Transport.dialConnFor). So a few more than one per client can be
	// opened: the bound is twice the clients, against the 1,280 dials of
	// a Transport that does not keep them.
	if limit := 2 * clients; dialled > limit {
		t.Errorf("connections the gateway opened to the service for %d requests of %d concurrent clients: expected at most %d, got %d",
			clients*each, clients, limit, dialled)
	}
}

// TestLocalAnswersAsTheReverseProxy: the gateway's call to a service in
// its own process (Local) and httputil.ReverseProxy to the same service's
// port give the client the same answer and the service the same request:
// method, path and query, Host, the peer's address, headers (hop-by-hop
// ones dropped both ways, with those the Connection header names), body
// (sized, chunked or large), HEAD and 304; the client's own X-Forwarded-*
// never reach the service.
func TestLocalAnswersAsTheReverseProxy(t *testing.T) {
	big := strings.Repeat("0123456789abcdef", 1<<16) // 1 MiB
	backend := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		peer, _, _ := net.SplitHostPort(r.RemoteAddr)
		got, _ := json.Marshal(map[string]any{"method": r.Method, "uri": r.RequestURI, "host": r.Host, "peer": peer, "header": r.Header})
		w.Header().Set("X-Got", string(got))
		w.Header().Set("Connection", "X-Conn-Only")
		w.Header().Set("X-Conn-Only", "dropped")
		w.Header().Set("Keep-Alive", "timeout=5")
		w.Header().Add("X-Multi", "a")
		w.Header().Add("X-Multi", "b")
		switch r.URL.Path {
		case "/api/v1/currencies/big":
			w.Header().Set("Content-Type", "application/octet-stream")
			_, _ = io.WriteString(w, big)
		case "/api/v1/currencies/chunked":
			for i := range 3 {
				fmt.Fprintf(w, "part %d\n", i)
				w.(http.Flusher).Flush()
			}
		case "/api/v1/currencies/etag":
			w.Header().Set("ETag", `"v1"`)
			if r.Header.Get("If-None-Match") == `"v1"` {
				w.WriteHeader(http.StatusNotModified)
				return
			}
			_, _ = io.WriteString(w, `{"v":1}`)
		case "/api/v1/currencies/closing":
			w.Header().Set("Connection", "close")
			_, _ = io.WriteString(w, `closing`)
		default:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusTeapot)
			_, _ = io.WriteString(w, `{"ok":true}`)
		}
	})
	url, l := serveLocal(t, backend)
	a := allAt(url)
	serve := func(o stack.GatewayOptions) string {
		gw, err := stack.NewGatewayWith(a, nil, o)
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(gw)
		t.Cleanup(srv.Close)
		return srv.URL
	}
	fast, slow := serve(stack.GatewayOptions{Local: localAll(l)}), serve(stack.GatewayOptions{})

	type answer struct {
		Status int
		Header http.Header
		Sent   map[string]any // the request as the service got it
		Body   string
	}
	// The client comes from another loopback address than the gateway's,
	// so the service's peer and X-Forwarded-For tell the two apart.
	client := &http.Client{Transport: &http.Transport{
		DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}).DialContext,
	}}
	defer client.CloseIdleConnections()
	do := func(base, method, path string, header map[string]string) answer {
		req, _ := http.NewRequest(method, base+path, nil)
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		var sent map[string]any
		_ = json.Unmarshal([]byte(resp.Header.Get("X-Got")), &sent)
		if sent != nil {
			// X-Forwarded-Host is the host the client asked, each gateway's own.
			h, _ := sent["header"].(map[string]any)
			if fmt.Sprint(h["X-Forwarded-Host"]) != "["+strings.TrimPrefix(base, "http://")+"]" {
				t.Errorf("%s %s via %s: X-Forwarded-Host = %v, want the host the client asked", method, path, base, h["X-Forwarded-Host"])
			}
			delete(h, "X-Forwarded-Host")
		}
		h := resp.Header.Clone()
		h.Del("Date")
		h.Del("X-Got")
		if resp.ContentLength >= 0 && resp.Header.Get("Content-Length") == "" && method != "HEAD" {
			h.Set("Content-Length", fmt.Sprint(resp.ContentLength))
		}
		return answer{resp.StatusCode, h, sent, string(body)}
	}
	clientHeaders := map[string]string{
		"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Host": "evil.example", "Forwarded": "for=203.0.113.9",
		"Connection": "X-Hop", "X-Hop": "dropped", "Te": "trailers", "Accept": "application/json",
		"X-Client-Id": "c-1", "User-Agent": "ratewire-test/1",
	}
	for _, tc := range []struct {
		method, path string
		header       map[string]string
	}{
		{"GET", "/api/v1/currencies/USD?x=1&y=%20z", clientHeaders},
		{"HEAD", "/api/v1/currencies/USD", nil},
		{"GET", "/api/v1/currencies/big", nil},
		{"GET", "/api/v1/currencies/chunked", nil},
		{"GET", "/api/v1/currencies/etag", nil},
		{"GET", "/api/v1/currencies/etag", map[string]string{"If-None-Match": `"v1"`}},
		{"GET", "/api/v1/currencies/closing", nil},
		{"GET", "/api/v1/currencies/after-closing", nil},
	} {
		got, want := do(fast, tc.method, tc.path, tc.header), do(slow, tc.method, tc.path, tc.header)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s %s:\nLocal         %+v\nReverseProxy  %+v", tc.method, tc.path, trim(got), trim(want))
		}
		if got.Header.Get("Keep-Alive") != "" || tc.path != "/api/v1/currencies/closing" && got.Header.Get("X-Conn-Only") != "" {
			t.Errorf("%s %s: hop-by-hop answer headers reached the client: %v", tc.method, tc.path, got.Header)
		}
		if got.Sent != nil && got.Sent["peer"] != "127.0.0.1" {
			t.Errorf("%s %s: the service's peer is %v, want the gateway's address", tc.method, tc.path, got.Sent["peer"])
		}
		if h, _ := got.Sent["header"].(map[string]any); h != nil {
			for _, k := range []string{"X-Hop", "Connection", "Forwarded"} {
				if v, ok := h[k]; ok {
					t.Errorf("%s %s: the service got the client's %s: %v", tc.method, tc.path, k, v)
				}
			}
			if fmt.Sprint(h["X-Forwarded-For"]) != "[127.0.0.2]" {
				t.Errorf("%s %s: X-Forwarded-For = %v, want the client's address alone", tc.method, tc.path, h["X-Forwarded-For"])
			}
		}
	}
}

// trim shortens an answer's body for a failure message.
func trim(a any) string {
	s := fmt.Sprintf("%+v", a)
	if len(s) > 600 {
		s = s[:600] + "…"
	}
	return s
}

// TestLocalWaitsForAStartingService: a request for a service that does
// not serve yet waits for it (as a connection would wait in its listen
// queue); once the service stopped, the gateway answers 502 at once.
func TestLocalWaitsForAStartingService(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := stack.NewLocal(ln)
	defer l.Close()
	gw, err := stack.NewGatewayWith(allAt("http://"+ln.Addr().String()), nil, stack.GatewayOptions{Local: localAll(l)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gw)
	defer srv.Close()
	type result struct {
		status int
		body   string
		err    error
	}
	get := func() result {
		resp, err := http.Get(srv.URL + "/api/v1/currencies/USD")
		if err != nil {
			return result{err: err}
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return result{status: resp.StatusCode, body: string(b)}
	}
	waiting := make(chan result, 1)
	go func() { waiting <- get() }()
	time.Sleep(50 * time.Millisecond) // not a timing assertion: lets the request reach the gateway before the service serves
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() {
		stopped <- httpx.Serve(ctx, l, "", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			_, _ = io.WriteString(w, `{"success":true}`)
		}), nil)
	}()
	if r := <-waiting; r.err != nil || r.status != http.StatusOK || r.body != `{"success":true}` {
		t.Fatalf("request sent while the service started = %d %q %v, want its answer", r.status, r.body, r.err)
	}
	cancel()
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	if r := get(); r.err != nil || r.status != http.StatusBadGateway || !strings.Contains(r.body, "SERVICE_UNAVAILABLE") {
		t.Fatalf("request to a stopped service = %d %q %v, want 502 in the envelope", r.status, r.body, r.err)
	}
}

// TestLocalLetsGoWhenTheClientDoes: a client that gives up on a read the
// service is slow to answer ends the service's request too.
func TestLocalLetsGoWhenTheClientDoes(t *testing.T) {
	release := make(chan struct{})
	left := make(chan struct{})
	url, l := serveLocal(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
			close(left)
		}
	}))
	defer close(release)
	gw, err := stack.NewGatewayWith(allAt(url), nil, stack.GatewayOptions{Local: localAll(l)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gw)
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/api/v1/currencies/USD", nil)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
	}()
	time.Sleep(50 * time.Millisecond) // not a timing assertion: lets the request reach the service first
	cancel()
	select {
	case <-left:
	case <-time.After(10 * time.Second):
		t.Fatal("the service still works on a request 10 s after its client left")
	}
}

// allAt is a stack whose four services are all at url.
func allAt(url string) stack.Addrs {
	return stack.Addrs{Currency: url, History: url, Ranking: url, Ingestor: url}
}

// localAll names l as the local listener of every service of allAt.
func localAll(l *stack.Local) map[string]*stack.Local {
	return map[string]*stack.Local{"currency": l, "history": l, "ranking": l, "ingestor": l}
}

// serveLocal serves h with httpx.Serve on a Local listener until the test
// ends, and returns the listener's URL and the listener.
func serveLocal(t *testing.T, h http.Handler) (string, *stack.Local) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := stack.NewLocal(ln)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- httpx.Serve(ctx, l, "", h, nil) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return "http://" + ln.Addr().String(), l
}

// gatewayTo serves, until the test ends, a gateway to services all at url.
func gatewayTo(t *testing.T, url string) *httptest.Server {
	t.Helper()
	gw, err := stack.NewGateway(allAt(url), nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)
	return srv
}

// TestLocalAbortsACutAnswer: an answer the service cuts midway (here a
// chunked one) reaches the client as a failed read, never as a shorter
// whole answer.
func TestLocalAbortsACutAnswer(t *testing.T) {
	url, l := serveLocal(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, `{"rates":[`)
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	}))
	gw, err := stack.NewGatewayWith(allAt(url), nil, stack.GatewayOptions{Local: localAll(l)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gw)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/api/v1/currencies/latest")
	if err != nil {
		return // cut before the head: a failed read too
	}
	defer resp.Body.Close()
	if body, err := io.ReadAll(resp.Body); err == nil {
		t.Errorf("a cut answer reached the client whole: %d %q", resp.StatusCode, body)
	}
}
