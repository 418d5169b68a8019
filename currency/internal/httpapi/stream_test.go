package httpapi_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ratewire/ratewire/currency/internal/httpapi"
	"github.com/ratewire/ratewire/currency/internal/live"
	"github.com/ratewire/ratewire/shared/httpx"
)

// TestStreamThroughMiddleware serves the stream behind every httpx
// middleware on httpx's own server (its timeouts included) and reads it
// line by line: each event and heartbeat must arrive as it is written, not
// when a buffer fills or the response ends. The heartbeat ticker is ticked
// by hand.
func TestStreamThroughMiddleware(t *testing.T) {
	v := live.New(live.Options{})
	v.Seed([]live.Change{{Code: "USD", Version: 1, JSON: []byte(`{"currency_code":"USD","version":1}`)}})
	v.MarkReady()
	ticks := make(chan time.Time)
	var asked time.Duration
	e := httpx.NewEngine(httpx.Options{Service: "currency"})
	httpapi.RegisterStream(e, v, httpapi.StreamOptions{NewTicker: func(d time.Duration) (<-chan time.Time, func()) {
		asked = d
		return ticks, func() {}
	}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- httpx.Serve(ctx, ln, "", e, nil) }()
	defer func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()

	req, _ := http.NewRequest(http.MethodGet, "http://"+ln.Addr().String()+"/api/v1/currencies/stream?symbols=USD", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "" || resp.Header.Get("X-Accel-Buffering") != "no" {
		t.Fatalf("status %d, Content-Encoding %q, X-Accel-Buffering %q", resp.StatusCode, resp.Header.Get("Content-Encoding"), resp.Header.Get("X-Accel-Buffering"))
	}
	br := bufio.NewReader(resp.Body)
	lines := make(chan string, 64)
	go func() {
		defer close(lines)
		for {
			l, err := br.ReadString('\n')
			if err != nil {
				return
			}
			lines <- strings.TrimSuffix(l, "\n")
		}
	}()
	expect := func(want ...string) {
		t.Helper()
		for _, w := range want {
			select {
			case got, ok := <-lines:
				if !ok {
					t.Fatalf("stream ended, want %q", w)
				}
				if got != w {
					t.Fatalf("line %q, want %q", got, w)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("no line within 10 s, want %q", w)
			}
		}
	}
	expect("retry: 2000", "", "id: USD:1", `data: {"currency_code":"USD","version":1}`, "")
	if asked != httpapi.DefaultHeartbeat {
		t.Errorf("heartbeat interval %v, want %v", asked, httpapi.DefaultHeartbeat)
	}
	ticks <- time.Time{}
	expect(": heartbeat", "")
	v.Apply(live.Change{Code: "JPY", Version: 1, JSON: []byte(`{}`)}) // not subscribed
	v.Apply(live.Change{Code: "USD", Version: 2, JSON: []byte(`{"currency_code":"USD","version":2}`)})
	expect("id: USD:2", `data: {"currency_code":"USD","version":2}`, "")

	// Closing the view ends the stream.
	v.Close()
	select {
	case l, ok := <-lines:
		if ok {
			t.Fatalf("after Close: line %q, want the end of the stream", l)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("stream did not end after the view closed")
	}
}

// Before the view is seeded, a request waits ReadyWait, then is refused
// with a 503 in the envelope.
func TestStreamBeforeTheSeed(t *testing.T) {
	v := live.New(live.Options{})
	e := httpx.NewEngine(httpx.Options{Service: "currency"})
	httpapi.RegisterStream(e, v, httpapi.StreamOptions{ReadyWait: time.Nanosecond})
	srv := httptest.NewServer(e)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/api/v1/currencies/stream")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" ||
		!strings.Contains(string(body), `"code":"SERVICE_UNAVAILABLE"`) {
		t.Errorf("before the seed: %d Retry-After %q %s, want 503 SERVICE_UNAVAILABLE with Retry-After",
			resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
}
