package stack_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/ratewire/ratewire/devstack/internal/stack"
	"github.com/ratewire/ratewire/shared/kst"
)

// clientFrom is an HTTP client whose connections leave from ip (any
// 127.0.0.0/8 address is this machine's loopback), so a test can be many
// people at once.
func clientFrom(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
}

// click POSTs a click through the gateway and returns the status and the
// answer's counted flag.
func click(t *testing.T, c *http.Client, gateway, country string, hdr ...string) (int, bool) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, gateway+"/api/v1/rankings/click?country="+country, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("click: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var env struct {
		Data struct {
			Counted *bool `json:"counted"`
		} `json:"data"`
	}
	_ = json.Unmarshal(body, &env)
	return resp.StatusCode, resp.StatusCode == http.StatusCreated || (env.Data.Counted != nil && *env.Data.Counted)
}

// plainConfig is a stack on a fake clock between two of the simulator's
// five-minute steps, with no backfill and no settings.
func plainConfig(t testing.TB) stack.Config {
	return stack.Config{
		DataDir: t.TempDir(), Host: "127.0.0.1",
		Getenv: func(string) string { return "" },
		Out:    &syncBuffer{}, Log: &syncBuffer{},
		Clock: clockwork.NewFakeClockAt(time.Date(2026, 11, 25, 10, 2, 30, 0, kst.Zone)),
	}
}

// runStack runs c until the test ends and returns its addresses once it
// is ready. With a backfill, the returned channel receives its outcome.
func runStack(t testing.TB, c stack.Config) (stack.Addrs, <-chan error) {
	t.Helper()
	ready := make(chan stack.Addrs, 1)
	c.Ready = func(a stack.Addrs) { ready <- a }
	backfilled := make(chan error, 1)
	if c.BackfillDone == nil {
		c.BackfillDone = func(err error) { backfilled <- err }
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- stack.Run(ctx, c) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("stack: %v", err)
		}
	})
	select {
	case a := <-ready:
		return a, backfilled
	case err := <-done:
		t.Fatalf("stack stopped before it was ready: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("stack not ready after 30 s")
	}
	return stack.Addrs{}, nil
}

// waitBackfill waits for the start-up backfill to end without error.
func waitBackfill(t *testing.T, backfilled <-chan error) {
	t.Helper()
	select {
	case err := <-backfilled:
		if err != nil {
			t.Fatalf("backfill: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("backfill not done after 60 s")
	}
}

// TestClicksThroughTheGateway is the ranking behind devstack's gateway:
// 80 people, each from an address of their own, clicking the same country
// are 80 clicks, not one client's.
func TestClicksThroughTheGateway(t *testing.T) {
	a, _ := runStack(t, plainConfig(t))
	counted := 0
	for i := range 80 {
		ip := fmt.Sprintf("127.0.0.%d", i+2)
		status, ok := click(t, clientFrom(ip), a.Gateway, "US")
		if status != http.StatusCreated || !ok {
			t.Errorf("click from %s: expected 201 counted, got %d (counted %v)", ip, status, ok)
		}
		if ok {
			counted++
		}
	}
	status, data := get(t, a.Gateway+"/api/v1/rankings/stats/US?days=1")
	var stats struct {
		Total int `json:"total_clicks"`
	}
	if status != 200 || json.Unmarshal(data, &stats) != nil || stats.Total != 80 || counted != 80 {
		t.Errorf("US after 80 people: expected 80 clicks counted and in the stats, got %d counted, stats %d %s", counted, status, data)
	}
}

// TestRotatingClientIDThroughTheGateway is one person behind the gateway
// sending a fresh X-Client-Id with every click: the ids do not escape the
// address's limits, so 200 clicks count as a handful, not 200.
func TestRotatingClientIDThroughTheGateway(t *testing.T) {
	a, _ := runStack(t, plainConfig(t))
	c := clientFrom("127.0.0.90")
	counted, refused := 0, 0
	for i := range 200 {
		status, ok := click(t, c, a.Gateway, "KR", "X-Client-Id", fmt.Sprintf("rotating-%d", i))
		switch {
		case ok:
			counted++
		case status == http.StatusTooManyRequests:
			refused++
		case status != http.StatusOK:
			t.Fatalf("click %d: unexpected status %d", i, status)
		}
	}
	// Up to 8 ids per address are people of their own; the rest are the
	// address itself, whose repeats within 10 s count once.
	if counted < 1 || counted > 9 {
		t.Errorf("200 clicks with rotating ids from one address: expected at most 9 counted, got %d (%d refused)", counted, refused)
	}
}
