package stack_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ratewire/ratewire/devstack/internal/stack"
)

// The soak: devstack under an hour (RATEWIRE_SOAK) of mixed load from
// another process — every read endpoint, clicks from many addresses and
// client ids, an ingest run every half minute — with the server process's
// RSS sampled every minute. A devstack whose embedded Redis kept no time
// grew sevenfold in five minutes of clicks; this is what shows it stays
// flat.
const (
	soakEnv     = "RATEWIRE_SOAK"      // duration of the soak; unset skips it
	soakRateEnv = "RATEWIRE_SOAK_RATE" // requests per second of the load (default 400)
	// soakRotateEnv, set, makes every click come with a new client id
	// (see soakPlan.RotateIDs).
	soakRotateEnv = "RATEWIRE_SOAK_ROTATE_IDS"
	soakLoadEnv   = "RATEWIRE_SOAK_LOAD" // set in the load process: its soakPlan as JSON
	// soakHeapEnv names a directory that receives a heap profile of the
	// server process at every sample (heap-<minute>.pprof), to find what
	// grows: go tool pprof -diff_base heap-1.pprof heap-60.pprof.
	soakHeapEnv = "RATEWIRE_SOAK_HEAP"
)

// soakPlan is what the load process is told.
type soakPlan struct {
	Gateway    string        `json:"gateway"`
	AdminToken string        `json:"admin_token"`
	Duration   time.Duration `json:"duration"`
	Rate       int           `json:"rate"`
	// RotateIDs sends every click with a new random X-Client-Id (an
	// abuser rotating ids) instead of one of each address's browsers'.
	RotateIDs bool `json:"rotate_ids"`
}

// soakBrowsers is how many browsers (each with its own stable client id,
// as the web app keeps one) share each loopback address of the load.
const soakBrowsers = 4

// soakReads are the GETs of the mixed load, drawn uniformly.
var soakReads = []string{
	"/api/v1/currencies/USD",
	"/api/v1/currencies/EUR",
	"/api/v1/currencies/JPY",
	"/api/v1/currencies/latest",
	"/api/v1/currencies/latest?base=EUR&symbols=USD,KRW,JPY",
	"/api/v1/currencies/multiple?symbols=USD,EUR,JPY,GBP",
	"/api/v1/currencies/convert?from=USD&to=KRW&amount=100",
	"/api/v1/currencies/convert?from=EUR&to=JPY&amount=3.5",
	"/api/v1/currencies",
	"/api/v1/currencies/search?country=US",
	"/api/v1/history?target=USD&period=1m",
	"/api/v1/history/stats?target=EUR&period=1m",
	"/api/v1/rankings",
	"/api/v1/rankings/stats/US",
}

var soakCountries = []string{"US", "JP", "DE", "GB", "FR", "CN", "AU", "CA", "CH", "KR"}

// runSoakLoad is the load process: rate requests a second through the
// gateway, three in four a read, one in four a click from one of 256
// loopback addresses with the client id of one of its soakBrowsers (or a
// new one every time, RotateIDs), plus an ingest run every 30 s; it prints
// the counts by status class every minute.
func runSoakLoad(p soakPlan) {
	var counts sync.Map // "kind status" -> *atomic.Int64
	count := func(kind string, status int) {
		k := kind + " " + strconv.Itoa(status)
		v, _ := counts.LoadOrStore(k, new(atomic.Int64))
		v.(*atomic.Int64).Add(1)
	}
	clients := make([]*http.Client, 256)
	for i := range clients {
		ip := net.IPv4(127, 1, byte(i/250), byte(2+i%250))
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}, Timeout: 5 * time.Second}
		clients[i] = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 2}}
	}
	ctx, cancel := context.WithTimeout(context.Background(), p.Duration)
	defer cancel()
	do := func(kind string, req *http.Request, c *http.Client) {
		resp, err := c.Do(req.WithContext(ctx))
		if err != nil {
			if ctx.Err() == nil {
				count(kind, 0)
			}
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 400 {
			kind += "(" + req.URL.RequestURI() + ")" // which request failed, in the counts
		}
		count(kind, resp.StatusCode)
	}
	report := func() {
		var parts []string
		counts.Range(func(k, v any) bool {
			parts = append(parts, fmt.Sprintf("%s=%d", k, v.(*atomic.Int64).Load()))
			return true
		})
		slices.Sort(parts)
		fmt.Fprintf(os.Stderr, "soak load: %s\n", strings.Join(parts, " "))
	}
	defer report()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // ingest runs
		defer wg.Done()
		t := time.NewTicker(30 * time.Second)
		defer t.Stop()
		for {
			req, _ := http.NewRequest(http.MethodPost, p.Gateway+"/api/v1/ingest/run", nil)
			req.Header.Set("Authorization", "Bearer "+p.AdminToken)
			do("ingest", req, clients[0])
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	wg.Add(1)
	go func() { // a minute's counts
		defer wg.Done()
		t := time.NewTicker(time.Minute)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			report()
		}
	}()
	const workers = 16
	interval := time.Duration(float64(time.Second) * workers / float64(max(p.Rate, 1)))
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
			t := time.NewTicker(interval)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
				i := rng.IntN(len(clients))
				c := clients[i]
				if rng.IntN(4) == 0 {
					country := soakCountries[rng.IntN(len(soakCountries))]
					req, _ := http.NewRequest(http.MethodPost, p.Gateway+"/api/v1/rankings/click", bytes.NewReader([]byte(`{"country":"`+country+`"}`)))
					req.Header.Set("Content-Type", "application/json")
					id := fmt.Sprintf("soak-%d-%d", i, rng.IntN(soakBrowsers))
					if p.RotateIDs {
						id = "soak-" + strconv.Itoa(rng.IntN(1<<20))
					}
					req.Header.Set("X-Client-Id", id)
					do("click", req, c)
					continue
				}
				req, _ := http.NewRequest(http.MethodGet, p.Gateway+soakReads[rng.IntN(len(soakReads))], nil)
				do("read", req, c)
			}
		}()
	}
	wg.Wait()
}

// rssOf is a process's resident set in kB, in total and by kind
// (/proc/self/status): anonymous memory (the heaps, Go's and SQLite's, and
// the stacks) and file pages, which are mostly the executable's code as
// far as it has run and may be dropped by the kernel at any time.
type rssOf struct{ total, anon, file int64 }

func vmRSS() (rssOf, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return rssOf{}, err
	}
	defer f.Close()
	var r rssOf
	fields := map[string]*int64{"VmRSS:": &r.total, "RssAnon:": &r.anon, "RssFile:": &r.file}
	s := bufio.NewScanner(f)
	for s.Scan() {
		for k, dst := range fields {
			if v, ok := strings.CutPrefix(s.Text(), k); ok {
				if *dst, err = strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64); err != nil {
					return rssOf{}, err
				}
			}
		}
	}
	if r.total == 0 {
		return rssOf{}, fmt.Errorf("no VmRSS in /proc/self/status")
	}
	return r, nil
}

// BenchmarkSoak runs devstack for RATEWIRE_SOAK (e.g. 60m) under the mixed
// load of runSoakLoad from another process and prints, every minute, the
// RSS of the process serving it, the Go heap and the embedded Redis's key
// count, then the last RSS against the one after start-up (the issue's
// bound is 20 %) and after the first minute of load. The stack starts as
// devstack does by default, with months of history backfilled; start-up
// ends when that is done and the rates are served. Run:
//
//	RATEWIRE_SOAK=60m GIN_MODE=release go test -run '^$' -bench BenchmarkSoak -benchtime 1x -timeout 0 ./devstack/internal/stack/
func BenchmarkSoak(b *testing.B) {
	d, err := time.ParseDuration(os.Getenv(soakEnv))
	if err != nil || d <= 0 {
		b.Skipf("set %s to a duration (e.g. 60m) to run the soak", soakEnv)
	}
	rate, _ := strconv.Atoi(os.Getenv(soakRateEnv))
	if rate <= 0 {
		rate = 400
	}
	// devstack as a user starts it: with its default months of history
	// backfilled, which is part of its start-up.
	a := benchStack(b, stack.DefaultConfig().BackfillDays)
	// Start-up ends when the services answer from their data.
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if resp, err := http.Get(a.Gateway + "/api/v1/currencies/USD"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			b.Fatal("USD not served within 60 s")
		}
	}
	opts, err := redis.ParseURL(a.RedisURL)
	if err != nil {
		b.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()

	plan, _ := json.Marshal(soakPlan{Gateway: a.Gateway, AdminToken: a.AdminToken, Duration: d, Rate: rate,
		RotateIDs: os.Getenv(soakRotateEnv) != ""})
	self, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	load := exec.Command(self, "-test.run=^$")
	load.Env = append(os.Environ(), soakLoadEnv+"="+string(plan))
	load.Stdout, load.Stderr = os.Stdout, os.Stdout
	if err := load.Start(); err != nil {
		b.Fatal(err)
	}
	loaded := make(chan error, 1)
	go func() { loaded <- load.Wait() }()

	start := time.Now()
	var first, warm, last rssOf
	sample := func() {
		rss, err := vmRSS()
		if err != nil {
			b.Fatal(err)
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		keys, _ := rdb.DBSize(context.Background()).Result()
		if first.total == 0 {
			first = rss
		}
		if dir := os.Getenv(soakHeapEnv); dir != "" {
			runtime.GC()
			f, err := os.Create(fmt.Sprintf("%s/heap-%.0f.pprof", dir, time.Since(start).Minutes()))
			if err != nil {
				b.Fatal(err)
			}
			if err := pprof.WriteHeapProfile(f); err != nil {
				b.Fatal(err)
			}
			f.Close()
		}
		if warm.total == 0 && time.Since(start) > 50*time.Second {
			warm = rss
		}
		last = rss
		// The live heap after the last collection and the goal of the
		// next: a leak moves the first; garbage and its pacing the rest.
		gcm := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/gc/heap/goal:bytes"}}
		metrics.Read(gcm)
		fmt.Printf("soak t=%3.0fmin rss=%6.1fMB (anon %6.1f, file %5.1f) go_mapped=%6.1fMB heap_live=%5.1fMB heap_goal=%5.1fMB heap_inuse=%5.1fMB idle_kept=%5.1fMB stacks=%4.1fMB goroutines=%d redis_keys=%d rss/start=%.2f\n",
			time.Since(start).Minutes(), mb(rss.total), mb(rss.anon), mb(rss.file), float64(ms.Sys-ms.HeapReleased)/(1<<20),
			float64(gcm[0].Value.Uint64())/(1<<20), float64(gcm[1].Value.Uint64())/(1<<20),
			float64(ms.HeapInuse)/(1<<20), float64(ms.HeapIdle-ms.HeapReleased)/(1<<20), float64(ms.StackInuse)/(1<<20),
			runtime.NumGoroutine(), keys, float64(rss.total)/float64(first.total))
	}
	ids := fmt.Sprintf("%d browsers with stable client ids on each", soakBrowsers)
	if os.Getenv(soakRotateEnv) != "" {
		ids = "a new client id on every click"
	}
	fmt.Printf("soak: %v of mixed load at %d req/s through %s (reads, clicks from 256 addresses with %s, an ingest run every 30 s)\n",
		d, rate, a.Gateway, ids)
	// The start-up figure is the settled one: what the backfill's peak
	// left behind is returned to the system first, as the runtime does by
	// itself within minutes, so the baseline is not flattered by it.
	debug.FreeOSMemory()
	sample()
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case err := <-loaded:
			if err != nil {
				b.Errorf("load process: %v", err)
			}
			sample()
			fmt.Printf("soak done: rss at start-up %.1f MB, after the first minute of load %.1f MB, at the end %.1f MB: end/start-up %.2f, end/first-minute %.2f (bound 1.20)\n",
				mb(first.total), mb(warm.total), mb(last.total), ratio(last.total, first.total), ratio(last.total, warm.total))
			fmt.Printf("soak done: anonymous memory (heaps and stacks) %.1f MB after the first minute, %.1f MB at the end: %.2f\n",
				mb(warm.anon), mb(last.anon), ratio(last.anon, warm.anon))
			b.ReportMetric(ratio(last.total, first.total), "rss_end/start")
			b.ReportMetric(ratio(last.total, warm.total), "rss_end/first-minute")
			b.ReportMetric(ratio(last.anon, warm.anon), "anon_end/first-minute")
			return
		case <-t.C:
			sample()
		}
	}
}

func mb(kb int64) float64 { return float64(kb) / 1024 }

func ratio(a, b int64) float64 { return float64(a) / float64(max(b, 1)) }
