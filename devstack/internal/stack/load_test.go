package stack_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ratewire/ratewire/devstack/internal/stack"
	"github.com/ratewire/ratewire/shared/httpx"
)

// The client's-eye benchmark (`make bench`): the load comes from another
// process, over real TCP with keep-alive connections, against the whole
// HTTP stack of a running devstack, and against a bare gin server that
// answers the same bytes with the same headers, interleaved in one run.
// An in-process load generator shares the scheduler, the allocator and the
// garbage collector with the server it measures, and flatters it.

// Environment of the load process: the test binary re-executed with
// loadURLEnv set runs the load instead of the tests (see TestMain).
const (
	loadURLEnv      = "RATEWIRE_BENCH_LOAD_URL"
	loadClientsEnv  = "RATEWIRE_BENCH_LOAD_CLIENTS"
	loadDurationEnv = "RATEWIRE_BENCH_LOAD_DURATION"
)

func TestMain(m *testing.M) {
	if plan := os.Getenv(soakLoadEnv); plan != "" {
		var p soakPlan
		if err := json.Unmarshal([]byte(plan), &p); err != nil {
			fmt.Fprintf(os.Stderr, "soak load: %v\n", err)
			os.Exit(2)
		}
		runSoakLoad(p)
		os.Exit(0)
	}
	if url := os.Getenv(loadURLEnv); url != "" {
		clients, _ := strconv.Atoi(os.Getenv(loadClientsEnv))
		d, _ := time.ParseDuration(os.Getenv(loadDurationEnv))
		res := runLoad(url, max(clients, 1), max(d, 100*time.Millisecond))
		_ = json.NewEncoder(os.Stdout).Encode(res)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// loadResult is what one load process reports.
type loadResult struct {
	Requests int     `json:"requests"`
	Errors   int     `json:"errors"`
	FirstErr string  `json:"first_error,omitempty"`
	Seconds  float64 `json:"seconds"`
	P50ms    float64 `json:"p50_ms"`
	P99ms    float64 `json:"p99_ms"`
}

func (r loadResult) rate() float64 { return float64(r.Requests) / r.Seconds }

// runLoad sends GETs to url from clients connections for d and reports
// the requests answered 200 or 304, the failures and the latencies.
func runLoad(url string, clients int, d time.Duration) loadResult {
	var (
		mu   sync.Mutex
		res  loadResult
		lats []time.Duration
		wg   sync.WaitGroup
	)
	start := time.Now()
	stop := start.Add(d)
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1, DisableCompression: true}}
			defer c.CloseIdleConnections()
			var mine []time.Duration
			errs, first := 0, ""
			for time.Now().Before(stop) {
				t0 := time.Now()
				resp, err := c.Get(url)
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNotModified {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				if err != nil {
					errs++
					if first == "" {
						first = err.Error()
					}
					continue
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lats = append(lats, mine...)
			res.Errors += errs
			if res.FirstErr == "" {
				res.FirstErr = first
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.Seconds = time.Since(start).Seconds()
	res.Requests = len(lats)
	slices.Sort(lats)
	if n := len(lats); n > 0 {
		res.P50ms = float64(lats[n/2].Microseconds()) / 1000
		res.P99ms = float64(lats[max((n*99+99)/100-1, 0)].Microseconds()) / 1000
	}
	return res
}

// loadFrom runs the load against url in a separate process.
func loadFrom(b *testing.B, url string, clients int, d time.Duration) loadResult {
	b.Helper()
	self, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(self, "-test.run=^$")
	cmd.Env = append(os.Environ(), loadURLEnv+"="+url, loadClientsEnv+"="+strconv.Itoa(clients), loadDurationEnv+"="+d.String())
	out, err := cmd.Output()
	if err != nil {
		b.Fatalf("load process on %s: %v", url, err)
	}
	var res loadResult
	if err := json.Unmarshal(out, &res); err != nil {
		b.Fatalf("load process on %s printed %q: %v", url, out, err)
	}
	if res.Errors > 0 || res.Requests == 0 {
		b.Fatalf("load on %s: %d requests, %d errors (first: %s)", url, res.Requests, res.Errors, res.FirstErr)
	}
	return res
}

// bareTwin serves, for each path, the bytes and headers that ratewire
// answered it with, from gin with no middleware: the ceiling.
func bareTwin(b *testing.B, base string, paths []string) string {
	b.Helper()
	bare := gin.New()
	for _, p := range paths {
		resp, err := http.Get(base + p)
		if err != nil {
			b.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("GET %s: %d %s", p, resp.StatusCode, body)
		}
		// Every header but Date, Content-Length included: an answer
		// over 2 KiB without one goes chunked, which would handicap the
		// twin.
		header := resp.Header.Clone()
		header.Del("Date")
		route, _, _ := strings.Cut(p, "?")
		bare.GET(route, func(c *gin.Context) {
			for k, v := range header {
				c.Writer.Header()[k] = v
			}
			c.Data(http.StatusOK, header.Get("Content-Type"), body)
		})
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: bare, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	b.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String()
}

// extraGateway serves a second gateway over a's services, built with o:
// the designs devstack's gateway is measured against.
func extraGateway(b *testing.B, a stack.Addrs, o stack.GatewayOptions) string {
	b.Helper()
	gw, err := stack.NewGatewayWith(a, nil, o)
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	// Served as devstack serves its gateway.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = httpx.Serve(ctx, ln, "", gw, slog.New(slog.DiscardHandler)); close(done) }()
	b.Cleanup(func() { cancel(); <-done })
	return "http://" + ln.Addr().String()
}

// benchStack runs devstack for a benchmark, on the real clock, with
// embedded infrastructure (Redis: RATEWIRE_REDIS_URL when set) and
// error-level logs, until the benchmark ends.
// With backfillDays, the stack backfills that many days of history at
// start (devstack's default is stack.DefaultConfig().BackfillDays) and
// benchStack returns once the backfill is done.
func benchStack(b *testing.B, backfillDays ...int) stack.Addrs {
	b.Helper()
	c := stack.Config{
		DataDir: b.TempDir(), Host: "127.0.0.1",
		Getenv: func(k string) string {
			switch k {
			case "RATEWIRE_LOG_LEVEL":
				return "error"
			case "RATEWIRE_REDIS_URL":
				// A real Redis instead of the embedded one, to tell
				// the two apart.
				return os.Getenv(k)
			}
			return ""
		},
		Out: io.Discard, Log: io.Discard,
	}
	ready := make(chan stack.Addrs, 1)
	c.Ready = func(a stack.Addrs) { ready <- a }
	backfilled := make(chan error, 1)
	if len(backfillDays) > 0 {
		c.BackfillDays = backfillDays[0]
		c.BackfillDone = func(err error) { backfilled <- err }
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- stack.Run(ctx, c) }()
	b.Cleanup(func() { cancel(); <-done })
	var a stack.Addrs
	select {
	case a = <-ready:
	case err := <-done:
		b.Fatalf("devstack: %v", err)
	case <-time.After(60 * time.Second):
		b.Fatal("devstack not ready after 60 s")
	}
	if c.BackfillDays > 0 {
		select {
		case err := <-backfilled:
			if err != nil {
				b.Fatalf("backfill: %v", err)
			}
		case err := <-done:
			b.Fatalf("devstack: %v", err)
		case <-time.After(10 * time.Minute):
			b.Fatal("backfill not done after 10 minutes")
		}
	}
	return a
}

// BenchmarkClientView measures /USD, /latest and /convert as a client
// sees them: req/s of a bare gin server answering the same bytes, of the
// currency service directly and of the same through devstack's gateway,
// in interleaved rounds (the order rotates), with the median of the
// rounds, p99 latencies and the ratios ratewire/bare and gateway/direct.
func BenchmarkClientView(b *testing.B) {
	const (
		clients = 32
		rounds  = 3
		each    = 2 * time.Second
	)
	a := benchStack(b)
	paths := []string{
		"/api/v1/currencies/USD",
		"/api/v1/currencies/latest",
		"/api/v1/currencies/convert?from=USD&to=KRW&amount=100",
	}
	deadline := time.Now().Add(60 * time.Second)
	for _, p := range paths {
		for {
			resp, err := http.Get(a.Currency + p)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			if time.Now().After(deadline) {
				b.Fatalf("%s not served within 60 s", p)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	// Reads are answered from the in-process view once it follows the
	// stream; measure that, not the start-up path through the cache.
	for {
		resp, err := http.Get(a.Currency + "/metrics")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if strings.Contains(string(body), "\nratewire_currency_live_current 1\n") {
				break
			}
		}
		if time.Now().After(deadline) {
			b.Fatal("the currency service's live view not current within 60 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	bare := bareTwin(b, a.Currency, paths)
	targets := []struct{ name, base string }{{"bare", bare}, {"direct", a.Currency}, {"gateway", a.Gateway},
		{"tcp-gateway", extraGateway(b, a, stack.GatewayOptions{})}}

	b.ResetTimer()
	for range b.N {
		fmt.Printf("\nclient's view: %d keep-alive clients in another process, %v per measurement, median of %d interleaved rounds\n", clients, each, rounds)
		fmt.Printf("(tcp-gateway: in the same run, a gateway proxying over TCP to the services' ports through httputil.ReverseProxy, as to services in other processes)\n")
		fmt.Printf("%-54s %8s %8s %8s %11s %8s %7s %7s %8s\n", "endpoint", "bare", "direct", "gateway", "tcp-gateway",
			"dir/bare", "gw/dir", "tcp/dir", "p99 dir")
		for _, p := range paths {
			got := map[string][]loadResult{}
			for r := range rounds {
				for i := range targets {
					t := targets[(i+r)%len(targets)]
					got[t.name] = append(got[t.name], loadFrom(b, t.base+p, clients, each))
				}
			}
			med := func(name string) loadResult {
				rs := slices.Clone(got[name])
				slices.SortFunc(rs, func(x, y loadResult) int { return int(x.rate() - y.rate()) })
				return rs[len(rs)/2]
			}
			bareR, dir, gw, tcp := med("bare"), med("direct"), med("gateway"), med("tcp-gateway")
			fmt.Printf("%-54s %8.0f %8.0f %8.0f %11.0f %8.2f %7.2f %7.2f %7.2fms\n", p, bareR.rate(), dir.rate(), gw.rate(), tcp.rate(),
				dir.rate()/bareR.rate(), gw.rate()/dir.rate(), tcp.rate()/dir.rate(), dir.P99ms)
			name := strings.TrimPrefix(strings.SplitN(p, "?", 2)[0], "/api/v1/currencies/")
			b.ReportMetric(dir.rate()/bareR.rate(), name+"_ratio")
			b.ReportMetric(gw.rate()/dir.rate(), name+"_gw/direct")
			b.ReportMetric(tcp.rate()/dir.rate(), name+"_tcp-gateway/direct")
		}
	}
}
