package stack_test

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/ratewire/ratewire/devstack/internal/stack"
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
	gw, err := stack.NewGateway(stack.Addrs{Currency: up.URL, History: up.URL, Ranking: up.URL, Ingestor: up.URL}, nil)
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
	gw, err := stack.NewGateway(stack.Addrs{Currency: backend.URL, History: backend.URL, Ranking: backend.URL, Ingestor: backend.URL}, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gw)
	defer srv.Close()

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
