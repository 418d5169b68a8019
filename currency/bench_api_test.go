package currency_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/jonboulle/clockwork"

	"github.com/ratewire/ratewire/currency"
	"github.com/ratewire/ratewire/ingestor"
	"github.com/ratewire/ratewire/shared/embedded"
	"github.com/ratewire/ratewire/shared/testinfra"
)

// benchStack is an in-process stack on embedded infrastructure: kfake,
// miniredis and a SQLite file, as devstack runs it (without importing
// devstack, which depends on this module).
type benchStack struct {
	brokers []string
	redis   string
	dbURL   string
	getenv  func(string) string
}

func newBenchStack(b *testing.B, extra map[string]string) benchStack {
	b.Helper()
	k, err := embedded.StartKafka(embedded.KafkaOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(k.Close)
	r := testinfra.MiniRedis(b)
	s := benchStack{brokers: k.Brokers(), redis: r.URL, dbURL: testinfra.SQLiteURL(b)}
	env := map[string]string{
		"RATEWIRE_DATABASE_URL": s.dbURL, "RATEWIRE_REDIS_URL": s.redis,
		"RATEWIRE_KAFKA_BROKERS": strings.Join(s.brokers, ","), "RATEWIRE_ADMIN_TOKEN": adminToken,
		"RATEWIRE_LOG_LEVEL": "error",
	}
	for k, v := range extra {
		env[k] = v
	}
	s.getenv = func(k string) string { return env[k] }
	return s
}

// run starts a service's Run on a fresh listener and returns its base URL;
// the service stops when the benchmark ends.
func (s benchStack) run(b *testing.B, run func(ctx context.Context, cfg ingestor.Config, ln net.Listener) error) string {
	b.Helper()
	cfg, err := ingestor.LoadConfig(s.getenv, ":0")
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, cfg, ln) }()
	b.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			b.Errorf("service stopped with %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}

func runCurrency(ctx context.Context, cfg ingestor.Config, ln net.Listener) error {
	return currency.Run(ctx, cfg.Config, currency.Options{Listener: ln})
}

// rateVersion GETs a rate and returns its version (-1 when not 200).
func rateVersion(c *http.Client, url string) (int64, error) {
	resp, err := c.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		_, _ = io.Copy(io.Discard, resp.Body)
		return -1, nil
	}
	var env struct {
		Data struct {
			Version int64 `json:"version"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		return 0, err
	}
	return env.Data.Version, nil
}

func waitUntil(b *testing.B, what string, ok func() bool) {
	b.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			b.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// BenchmarkFreshness measures how long the ingestor's new rate takes to
// reach the API, on an in-process stack (ingestor.Run and currency.Run over
// kfake, miniredis and SQLite). Each update is a POST /api/v1/ingest/run
// of the simulated provider with the injected clock five minutes later;
// once it answers (its transaction has committed by then), USD's new
// version is read from latest_rates and GET /api/v1/currencies/USD is
// polled without pause until it answers that version. Runs whose USD quote
// did not change publish nothing for USD and are skipped.
//
// It reports p50/p99 of that delay ("commit_p50_ms", "commit_p99_ms": from
// the run's response, a lower bound on the time since commit) and of the
// delay from the run's request ("request_p99_ms": an upper bound that also
// counts collection and the commit itself). The figures cover the outbox
// relay, Kafka through kfake, the consumer runtime, the handler and the
// cache, end to end.
func BenchmarkFreshness(b *testing.B) {
	const updates = 200
	s := newBenchStack(b, map[string]string{
		"RATEWIRE_PROVIDERS": "simulated", "RATEWIRE_INGEST_SCHEDULE": "0 0 1 1 *", // no scheduled runs in the window
	})
	clock := clockwork.NewFakeClockAt(time.Date(2026, 11, 23, 1, 0, 0, 0, time.UTC))
	ing := s.run(b, func(ctx context.Context, cfg ingestor.Config, ln net.Listener) error {
		return ingestor.Run(ctx, cfg, ingestor.Options{Listener: ln, Clock: clock})
	})
	cur := s.run(b, runCurrency)
	db := testinfra.OpenDB(b, s.dbURL)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	usd := cur + "/api/v1/currencies/USD"
	waitUntil(b, "the currency service to answer USD", func() bool {
		v, err := rateVersion(client, usd)
		return err == nil && v > 0
	})
	dbVersion := func() int64 {
		var v int64
		if err := db.Get(&v, `SELECT version FROM latest_rates WHERE currency_code = 'USD'`); err != nil {
			b.Fatal(err)
		}
		return v
	}
	waitUntil(b, "the startup run to reach the API", func() bool {
		v, err := rateVersion(client, usd)
		return err == nil && v == dbVersion()
	})

	b.ResetTimer()
	for range b.N {
		var fromCommit, fromRequest []time.Duration
		last := dbVersion()
		for tries := 0; len(fromCommit) < updates && tries < 4*updates; tries++ {
			clock.Advance(5 * time.Minute)
			req, _ := http.NewRequest(http.MethodPost, ing+"/api/v1/ingest/run", nil)
			req.Header.Set("Authorization", "Bearer "+adminToken)
			t0 := time.Now()
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			committed := time.Now()
			if resp.StatusCode != 200 {
				b.Fatalf("POST /run = %d", resp.StatusCode)
			}
			want := dbVersion()
			if want == last {
				continue // USD did not move in this run
			}
			last = want
			for {
				v, err := rateVersion(client, usd)
				if err != nil {
					b.Fatal(err)
				}
				if v >= want {
					break
				}
				if time.Since(committed) > 30*time.Second {
					b.Fatalf("USD version %d never reached the API (at %d)", want, v)
				}
			}
			seen := time.Now()
			fromCommit = append(fromCommit, seen.Sub(committed))
			fromRequest = append(fromRequest, seen.Sub(t0))
		}
		if len(fromCommit) < updates {
			b.Fatalf("only %d of %d runs changed USD", len(fromCommit), updates)
		}
		b.ReportMetric(ms(pct(fromCommit, 50)), "commit_p50_ms")
		b.ReportMetric(ms(pct(fromCommit, 99)), "commit_p99_ms")
		b.ReportMetric(ms(pct(fromRequest, 50)), "request_p50_ms")
		b.ReportMetric(ms(pct(fromRequest, 99)), "request_p99_ms")
		b.ReportMetric(float64(len(fromCommit)), "updates")
	}
}

// BenchmarkThroughputUSD drives GET /api/v1/currencies/USD on currency.Run
// (a rate:USD cache hit on miniredis, through the full middleware) and a
// bare gin handler that returns the same bytes, with the same load
// generator in the same run: loadClients concurrent keep-alive clients over
// real TCP sending loadRequests requests in total to each. It reports
// req/s and p99 of both and the ratio of their req/s.
func BenchmarkThroughputUSD(b *testing.B) {
	const (
		loadClients  = 32
		loadRequests = 40000
	)
	s := newBenchStack(b, nil)
	db := testinfra.OpenDB(b, s.dbURL)
	if err := ingestor.Migrate(context.Background(), db); err != nil {
		b.Fatal(err)
	}
	if _, err := db.Exec(db.Rebind(`INSERT INTO latest_rates (currency_code, currency_name, deal_base_rate, tts, ttb,
		source, recorded_at, updated_at, version) VALUES ('USD', '미국 달러', '1398.4', '1412.38', '1384.42', 'koreaexim', ?, ?, 1)`), at, at); err != nil {
		b.Fatal(err)
	}
	cur := s.run(b, runCurrency) + "/api/v1/currencies/USD"
	var body []byte
	waitUntil(b, "USD", func() bool {
		resp, err := http.Get(cur)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		body, _ = io.ReadAll(resp.Body)
		return resp.StatusCode == 200
	})

	// The ceiling: gin with no middleware answering the same bytes.
	bare := gin.New()
	bare.GET("/api/v1/currencies/USD", func(c *gin.Context) { c.Data(200, "application/json; charset=utf-8", body) })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: bare, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	b.Cleanup(func() { srv.Close() })
	bareURL := "http://" + ln.Addr().String() + "/api/v1/currencies/USD"

	b.ResetTimer()
	for range b.N {
		bareRate, bareP99 := load(b, bareURL, loadClients, loadRequests)
		curRate, curP99 := load(b, cur, loadClients, loadRequests)
		b.ReportMetric(curRate, "req/s")
		b.ReportMetric(ms(curP99), "p99_ms")
		b.ReportMetric(bareRate, "bare_req/s")
		b.ReportMetric(ms(bareP99), "bare_p99_ms")
		b.ReportMetric(curRate/bareRate, "ratio")
	}
}

// load sends total GETs to url from clients goroutines, each with its own
// keep-alive connection, and returns requests per second and the p99
// latency.
func load(b *testing.B, url string, clients, total int) (float64, time.Duration) {
	b.Helper()
	var next atomic.Int64
	lat := make([][]time.Duration, clients)
	var wg sync.WaitGroup
	var failed atomic.Value
	start := time.Now()
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1, DisableCompression: true}}
			defer c.CloseIdleConnections()
			for next.Add(1) <= int64(total) {
				t0 := time.Now()
				resp, err := c.Get(url)
				if err != nil {
					failed.Store(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					failed.Store(fmt.Errorf("status %d", resp.StatusCode))
					return
				}
				lat[i] = append(lat[i], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := failed.Load(); err != nil {
		b.Fatalf("load on %s: %v", url, err)
	}
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	return float64(len(all)) / elapsed.Seconds(), pct(all, 99)
}

// pct is the p-th percentile (nearest rank) of ds.
func pct(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (len(s)*p+99)/100 - 1
	return s[max(i, 0)]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
