package ranking_test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ratewire/ratewire/ranking"
	"github.com/ratewire/ratewire/shared/country"
	"github.com/ratewire/ratewire/shared/testinfra"
)

// benchClients are the numbers of concurrent clients the benchmark runs
// with, one sub-benchmark each: throughput grows with concurrency (bigger
// group commits) and so does latency, and the curve is the honest answer.
// Each click names a different (client id, country) pair so the duplicate
// window never hides one, and the rate limit is raised so every click is
// counted: the benchmark measures the full path (limit check, SQL, Redis)
// of counted clicks.
var benchClients = []int{16, 48, 128}

// readEvery paces the ranking reader during the click load (about 200
// reads per second).
const readEvery = 5 * time.Millisecond

// BenchmarkClicks drives the real service over HTTP against PostgreSQL and
// Redis (RATEWIRE_TEST_POSTGRES_URL, RATEWIRE_TEST_REDIS_URL; skipped when
// either is unset), once per entry of benchClients: that many clients send
// b.N clicks as fast as they are answered while a reader polls
// GET /api/v1/rankings every readEvery. It reports sustained clicks/s, the
// p99 latency of a click (p99_ms) and of a ranking read during the load
// (rankings_p99_ms). The load generator shares the machine with the
// service, Redis and PostgreSQL.
func BenchmarkClicks(b *testing.B) {
	if os.Getenv(testinfra.EnvPostgresURL) == "" || os.Getenv(testinfra.EnvRedisURL) == "" {
		b.Skipf("%s and %s must both be set: the benchmark runs against real servers", testinfra.EnvPostgresURL, testinfra.EnvRedisURL)
	}
	for _, n := range benchClients {
		b.Run(fmt.Sprintf("clients=%d", n), func(b *testing.B) { benchClicks(b, n) })
	}
}

// benchClicks is one run of BenchmarkClicks with a fixed number of
// concurrent clients, each on its own fresh schema and key namespace.
func benchClicks(b *testing.B, clients int) {
	s := startService(b, testinfra.PostgresURL(b), testinfra.RealRedis(b), noon,
		ranking.Options{RateLimit: 1 << 30, RateWindow: time.Minute})
	codes := []string{}
	for _, c := range country.New().All() {
		codes = append(codes, c.Code)
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2 * clients, MaxConnsPerHost: 2 * clients}}
	defer client.CloseIdleConnections()

	do := func(method, url, clientID string) (int, error) {
		req, err := http.NewRequest(method, url, nil)
		if err != nil {
			return 0, err
		}
		if clientID != "" {
			req.Header.Set("X-Client-Id", clientID)
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, nil
	}

	var next atomic.Int64
	lat := make([][]time.Duration, clients)
	stopReads := make(chan struct{})
	var readLat []time.Duration
	readDone := make(chan struct{})
	var failed atomic.Value
	b.ResetTimer()
	start := time.Now()
	go func() {
		defer close(readDone)
		for {
			select {
			case <-stopReads:
				return
			default:
			}
			t0 := time.Now()
			code, err := do(http.MethodGet, s.base+"/api/v1/rankings?period=daily&limit=10", "")
			if err != nil || code != http.StatusOK {
				failed.Store(fmt.Sprintf("GET rankings: %d %v", code, err))
				return
			}
			readLat = append(readLat, time.Since(t0))
			time.Sleep(readEvery) // a steady stream of readers, not a second load test
		}
	}()
	var wg sync.WaitGroup
	for w := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				url := s.base + "/api/v1/rankings/click?country=" + codes[(i/4096)%int64(len(codes))]
				t0 := time.Now()
				code, err := do(http.MethodPost, url, fmt.Sprintf("bench-%d", i%4096))
				if err != nil || code != http.StatusCreated {
					failed.Store(fmt.Sprintf("click: %d %v", code, err))
					return
				}
				lat[w] = append(lat[w], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(stopReads)
	<-readDone
	b.StopTimer()
	if f := failed.Load(); f != nil {
		b.Fatal(f)
	}
	all := slices.Concat(lat...)
	b.ReportMetric(float64(len(all))/elapsed.Seconds(), "clicks/s")
	b.ReportMetric(p99(all), "p99_ms")
	b.ReportMetric(p99(readLat), "rankings_p99_ms")
}

// p99 is the 99th percentile in milliseconds (0 for no samples).
func p99(d []time.Duration) float64 {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return float64(d[(len(d)*99)/100]) / float64(time.Millisecond)
}
