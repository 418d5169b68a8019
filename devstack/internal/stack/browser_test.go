package stack_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/jonboulle/clockwork"

	"github.com/ratewire/ratewire/devstack/internal/stack"
	"github.com/ratewire/ratewire/shared/kst"
)

// chromiumPath is Debian's chromium, which .ci/run installs.
const chromiumPath = "/usr/bin/chromium"

// browserWidths are the phone and desktop widths every page is shot at.
var browserWidths = []int{390, 1280}

// artifactsDir is where screenshots go: RATEWIRE_TEST_ARTIFACTS when set
// (CI keeps it), else the test's temporary directory.
func artifactsDir(t *testing.T) string {
	dir := os.Getenv("RATEWIRE_TEST_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	dir = filepath.Join(dir, "browser")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("artifacts dir: %v", err)
	}
	return dir
}

// requireChromium skips without a browser locally and fails in CI, like
// the other infrastructure suites.
func requireChromium(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and no browser at %s (.ci/run installs Debian's chromium): %v", chromiumPath, err)
		}
		t.Skipf("no browser at %s (apt-get install chromium); CI fails here instead", chromiumPath)
	}
}

// browserLog collects what a page must never do: log a console error,
// throw, fail to load something, or contact a host other than the app's.
type browserLog struct {
	mu       sync.Mutex
	allowed  string // host:port of the gateway
	problems []string
	page     string
	// expected is a document URL whose error status is the point (the
	// unknown country page is a 404): the browser's note of it is no
	// problem.
	expected string
}

func (b *browserLog) add(format string, args ...any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.problems = append(b.problems, fmt.Sprintf("[%s] ", b.page)+fmt.Sprintf(format, args...))
}

func (b *browserLog) at(page, expected string) {
	b.mu.Lock()
	b.page, b.expected = page, expected
	b.mu.Unlock()
}

func (b *browserLog) take() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	p := b.problems
	b.problems = nil
	return p
}

func (b *browserLog) listen(ev any) {
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			var args []string
			for _, a := range ev.Args {
				args = append(args, string(a.Value)+a.Description)
			}
			b.add("console.%s: %s", ev.Type, strings.Join(args, " "))
		}
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		msg := d.Text
		if d.Exception != nil {
			msg += " " + d.Exception.Description
		}
		b.add("exception: %s", msg)
	case *cdplog.EventEntryAdded:
		b.mu.Lock()
		expected := b.expected != "" && ev.Entry.URL == b.expected
		b.mu.Unlock()
		if ev.Entry.Level == cdplog.EntryLevelError && !expected {
			b.add("log %s: %s %s", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL)
		}
	case *network.EventRequestWillBeSent:
		u, err := url.Parse(ev.Request.URL)
		if err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != b.allowed {
			b.add("request to another host: %s", ev.Request.URL)
		}
	}
}

// TestBrowser drives the web app in headless Chromium against the whole
// devstack (simulated rates, a month of backfilled history, a fake clock):
// every page at 390 and 1280 px with screenshots and no console errors, the
// language switch, human error pages, search -> click -> ranking, the
// converter against the API, the chart's candles, the popular list
// refreshing by itself, and the board changing live after an ingest run.
func TestBrowser(t *testing.T) {
	requireChromium(t)
	clock := clockwork.NewFakeClockAt(time.Date(2026, 11, 25, 10, 2, 30, 0, kst.Zone))
	c := stack.Config{
		DataDir: t.TempDir(), Host: "127.0.0.1",
		Getenv: func(k string) string {
			if k == "RATEWIRE_ADMIN_TOKEN" {
				return "browser-token"
			}
			return ""
		},
		Out: &syncBuffer{}, Log: &syncBuffer{},
		Clock:          clock,
		BackfillDays:   30,
		PopularRefresh: time.Second,
	}
	a, backfilled := runStack(t, c)
	waitBackfill(t, backfilled)
	gw := a.Gateway
	shots := artifactsDir(t)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.NoSandbox,
		chromedp.Flag("headless", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	defer cancelTab()
	host := strings.TrimPrefix(gw, "http://")
	blog := &browserLog{allowed: host}
	// The first call starts the browser and must not carry a timeout.
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	if err := chromedp.Listen(ctx, blog.listen); err != nil {
		t.Fatal(err)
	}
	run := func(t *testing.T, what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		actx, cancel := context.WithTimeout(ctx, 45*time.Second)
		defer cancel()
		if err := chromedp.Do(actx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	noProblems := func(t *testing.T) {
		t.Helper()
		for _, p := range blog.take() {
			t.Error(p)
		}
	}

	t.Run("every page at phone and desktop width", func(t *testing.T) {
		pages := []struct{ name, path, ready string }{
			{"rates", "/", "#board tbody tr"},
			{"convert", "/convert?amount=100&from=USD&to=KRW", "#result"},
			{"search", "/search?q=%EC%9D%BC%EB%B3%B8", "#found"},
			{"currency", "/currency/JPY?period=1m&country=JP", "#chart svg"},
			{"popular", "/popular", "#popular"},
			{"status", "/status", "#lag tbody tr"},
			{"error-country", "/search?q=atlantis", "#error"},
		}
		for _, w := range browserWidths {
			for _, p := range pages {
				expected := ""
				if strings.HasPrefix(p.name, "error") {
					expected = gw + p.path
				}
				blog.at(fmt.Sprintf("%s@%d", p.path, w), expected)
				var png []byte
				var overflow bool
				var timing map[string]float64
				run(t, p.name,
					chromedp.EmulateViewport(int64(w), 900, chromedp.EmulateScale(1)),
					chromedp.Navigate(gw+p.path),
					chromedp.WaitVisible(chromedp.CSS(p.ready)),
					// The page itself never scrolls sideways: wide tables
					// scroll inside their own box.
					into(chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`), &overflow),
					into(chromedp.Evaluate[map[string]float64](`(() => { const n = performance.getEntriesByType("navigation")[0];
						return {dom: n.domContentLoadedEventEnd, load: n.loadEventEnd, bytes: n.transferSize}; })()`), &timing),
					into(chromedp.FullScreenshot(100), &png),
				)
				// A figure for the report, not a pass mark (timings belong in
				// benchmarks): DOMContentLoaded and load, from navigation start.
				t.Logf("%s at %d px: DOMContentLoaded %.0f ms, load %.0f ms, document %.0f bytes", p.path, w, timing["dom"], timing["load"], timing["bytes"])
				if overflow {
					t.Errorf("%s at %d px scrolls sideways", p.path, w)
				}
				file := filepath.Join(shots, fmt.Sprintf("%s-%d.png", p.name, w))
				if err := os.WriteFile(file, png, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
		t.Logf("screenshots in %s", shots)
		noProblems(t)
	})

	t.Run("language switch and human errors", func(t *testing.T) {
		blog.at("lang", "")
		var h1, h1Again, errText, errCur string
		run(t, "switch",
			chromedp.Navigate(gw+"/?lang=en"), into(chromedp.Text(chromedp.CSS("main h1")), &h1),
			chromedp.Navigate(gw+"/popular"), into(chromedp.Text(chromedp.CSS("main h1")), &h1Again),
			chromedp.Navigate(gw+"/currency/XXX"), into(chromedp.Text(chromedp.CSS("#error")), &errCur),
			chromedp.Navigate(gw+"/search?q=atlantis&lang=ko"), into(chromedp.Text(chromedp.CSS("#error")), &errText),
		)
		if h1 != "Today's rates" || h1Again != "Popular destinations" {
			t.Errorf("English pages titled %q and %q, want Today's rates and Popular destinations (the cookie keeps English)", h1, h1Again)
		}
		if !strings.Contains(errCur, "XXX") || strings.Contains(errCur, "{") {
			t.Errorf("unknown currency page says %q, want words naming XXX", errCur)
		}
		if !strings.Contains(errText, "atlantis") || !strings.Contains(errText, "나라를 찾지 못했습니다") {
			t.Errorf("unknown country page says %q, want the Korean sentence naming atlantis", errText)
		}
		// The error pages are 404s, which the browser notes; that is their
		// point, and nothing else may have gone wrong.
		for _, p := range blog.take() {
			if !strings.Contains(p, "status of 404") {
				t.Error(p)
			}
		}
	})

	t.Run("search 일본, the click counts, Japan tops the popular list", func(t *testing.T) {
		blog.at("search", "")
		var loc string
		run(t, "search",
			chromedp.Navigate(gw+"/"),
			chromedp.WaitVisible(chromedp.CSS("#q")),
			chromedp.SendKeys(chromedp.CSS("#q"), "일본"),
			chromedp.WaitVisible(chromedp.CSS(`#suggestions li[data-country="JP"]`)),
			chromedp.Click(chromedp.CSS(`#suggestions li[data-country="JP"]`)),
			chromedp.WaitVisible(chromedp.CSS("#chart svg")),
			into(chromedp.Location(), &loc),
		)
		if !strings.HasSuffix(loc, "/currency/JPY?country=JP") {
			t.Errorf("choosing Japan opened %s, want /currency/JPY?country=JP", loc)
		}
		status, data := get(t, gw+"/api/v1/rankings?period=daily")
		var r struct {
			Rankings []struct {
				Country string `json:"country_code"`
				Clicks  int    `json:"clicks"`
			} `json:"rankings"`
		}
		if status != 200 || json.Unmarshal(data, &r) != nil || len(r.Rankings) == 0 || r.Rankings[0].Country != "JP" || r.Rankings[0].Clicks != 1 {
			t.Fatalf("daily ranking after choosing Japan = %d %s, want JP first with 1 click", status, data)
		}
		var first string
		run(t, "popular",
			chromedp.Navigate(gw+"/popular"),
			chromedp.WaitVisible(chromedp.CSS("#popular li")),
			attr("#popular li:first-child", "data-country", &first),
		)
		if first != "JP" {
			t.Errorf("popular list starts with %q, want JP", first)
		}

		// The list refreshes by itself: two people choose the US elsewhere,
		// and the open page shows it first without a reload.
		for _, ip := range []string{"127.0.0.21", "127.0.0.22"} {
			if status, counted := click(t, clientFrom(ip), gw, "US"); !counted {
				t.Fatalf("click on US from %s = %d, not counted", ip, status)
			}
		}
		var got string
		run(t, "popular refresh",
			into(chromedp.Evaluate[int](`window.__noReload = 1`), new(int)),
			into(chromedp.Poll[string](`(() => { const li = document.querySelector("#popular li:first-child"); return window.__noReload === 1 && li && li.dataset.country === "US" ? "US" : ""; })()`, chromedp.WithPollingTimeout(20*time.Second)), &got),
		)
		if got != "US" {
			t.Errorf("popular list did not refresh to US first without a reload")
		}
		noProblems(t)
	})

	t.Run("converter figure equals the API's", func(t *testing.T) {
		blog.at("convert", "")
		var shown, big string
		run(t, "convert",
			chromedp.Navigate(gw+"/convert"),
			chromedp.WaitVisible(chromedp.CSS("#convert-form")),
			chromedp.SetValue(chromedp.CSS("#amount"), "250"),
			chromedp.SetValue(chromedp.CSS("#from"), "USD"),
			chromedp.SetValue(chromedp.CSS("#to"), "KRW"),
			chromedp.Click(chromedp.CSS("#convert-form button")),
			chromedp.WaitVisible(chromedp.CSS("#result")),
			attr("#result", "data-result", &shown),
			into(chromedp.Text(chromedp.CSS("#result .big")), &big),
		)
		status, data := get(t, gw+"/api/v1/currencies/convert?from=USD&to=KRW&amount=250")
		var conv struct {
			Result string `json:"result"`
		}
		if status != 200 || json.Unmarshal(data, &conv) != nil || conv.Result == "" {
			t.Fatalf("API convert = %d %s", status, data)
		}
		if shown != conv.Result {
			t.Errorf("page shows result %q, the API %q", shown, conv.Result)
		}
		if !strings.Contains(big, groupThousands(conv.Result)) {
			t.Errorf("page says %q, want it to contain %s", big, groupThousands(conv.Result))
		}
		noProblems(t)
	})

	t.Run("currency chart has candles, averages and the forecast", func(t *testing.T) {
		blog.at("chart", "")
		var counts map[string]int
		run(t, "chart",
			chromedp.Navigate(gw+"/currency/USD?period=1m"),
			chromedp.WaitVisible(chromedp.CSS("#chart svg")),
			into(chromedp.Evaluate[map[string]int](`(() => { const q = (s) => document.querySelectorAll("#chart svg " + s).length;
				return {candles: q("g.candle"), sma: q("polyline.sma"), bollinger: q("path.bollinger"), interval: q("path.interval80"), forecast: q("polyline.forecast")}; })()`), &counts),
		)
		if counts["candles"] < 25 || counts["sma"] != 1 || counts["bollinger"] != 1 || counts["interval"] != 1 || counts["forecast"] != 1 {
			t.Errorf("chart of a month of USD has %v, want >= 25 candles and one SMA, band, interval and forecast", counts)
		}
		noProblems(t)
	})

	t.Run("status page: runs, lag per partition, every DLQ topic", func(t *testing.T) {
		blog.at("status", "")
		var counts map[string]int
		run(t, "status",
			chromedp.Navigate(gw+"/status"),
			chromedp.WaitVisible(chromedp.CSS("#lag tbody tr")),
			into(chromedp.Evaluate[map[string]int](`(() => { const q = (s) => document.querySelectorAll(s).length;
				return {runs: q("#runs tbody tr"), lag: q("#lag tbody tr"), dlq: q("#dlq tbody tr"), errors: q(".error")}; })()`), &counts),
		)
		// Two groups on 1+3+1+1 partitions; four dead-letter topics.
		if counts["runs"] < 1 || counts["lag"] != 12 || counts["dlq"] != 4 || counts["errors"] != 0 {
			t.Errorf("status page has %v, want runs, 12 lag rows, 4 DLQ topics and no errors", counts)
		}
		noProblems(t)
	})

	t.Run("the board changes live after an ingest run", func(t *testing.T) {
		blog.at("live", "")
		var before string
		run(t, "board",
			chromedp.Navigate(gw+"/"),
			chromedp.WaitVisible(chromedp.CSS(`#board tr[data-code="USD"]`)),
			into(chromedp.Evaluate[int](`window.__noReload = 1`), new(int)),
			// The stream is open before the run.
			chromedp.WaitVisible(chromedp.CSS("#live:not(.off)")),
			into(chromedp.Evaluate[string](`document.querySelector('#board tr[data-code="USD"]').dataset.version`), &before),
		)
		// The simulator's next five-minute quote.
		clock.Advance(5 * time.Minute)
		req, _ := http.NewRequest(http.MethodPost, gw+"/api/v1/ingest/run", nil)
		req.Header.Set("Authorization", "Bearer browser-token")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("ingest run = %d %s", resp.StatusCode, body)
		}
		var after string
		run(t, "live update",
			into(chromedp.Poll[string](`(() => { const r = document.querySelector('#board tr[data-code="USD"]');
				return window.__noReload === 1 && Number(r.dataset.version) > `+strconv.Quote(before)+` ? r.dataset.version + " " + r.querySelector('[data-f="deal_base_rate"]').textContent : ""; })()`,
				chromedp.WithPollingTimeout(20*time.Second)), &after),
		)
		status, data := get(t, gw+"/api/v1/currencies/USD")
		var usd struct {
			Rate    string `json:"deal_base_rate"`
			Version int64  `json:"version"`
		}
		if status != 200 || json.Unmarshal(data, &usd) != nil {
			t.Fatalf("USD = %d %s", status, data)
		}
		want := fmt.Sprintf("%d %s", usd.Version, twoDecimals(t, usd.Rate))
		if after != want {
			t.Errorf("board row after the run shows %q (version, rate), the API %q", after, want)
		}
		noProblems(t)
	})
}

// TestRatesPageBudget: the rates page with everything it loads (styles,
// scripts, icon) stays under 150 KB, and every asset it links is served
// by the app itself.
func TestRatesPageBudget(t *testing.T) {
	a, _ := runStack(t, plainConfig(t))
	var page []byte
	status := 0
	// The start-up run's rates reach the board within seconds; under the
	// race detector on a busy machine it may take longer.
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		resp, err := http.Get(a.Gateway + "/")
		if err == nil {
			page, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			status = resp.StatusCode
			if status == 200 && strings.Contains(string(page), `data-code="USD"`) {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no rates on the board after 60 s: last answer %d %.300s", status, page)
		}
	}
	total := len(page)
	links := regexp.MustCompile(`(?:href|src)="(/static/[^"]+)"`).FindAllStringSubmatch(string(page), -1)
	if len(links) < 3 {
		t.Fatalf("rates page links %d assets, want its stylesheet, icon and scripts", len(links))
	}
	for _, m := range links {
		resp, err := http.Get(a.Gateway + strings.ReplaceAll(m[1], "&amp;", "&"))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("asset %s = %d", m[1], resp.StatusCode)
		}
		total += len(b)
	}
	if ext := regexp.MustCompile(`(?:href|src)="(?:https?:)?//`).FindString(string(page)); ext != "" {
		t.Errorf("rates page links another host: %s", ext)
	}
	t.Logf("rates page: %d bytes with its %d assets", total, len(links))
	if total > 150*1024 {
		t.Errorf("rates page and assets weigh %d bytes, over the 150 KB budget", total)
	}
}

// into runs a and keeps its value in dst, so actions with values join
// a sequence of steps.
func into[T any](a chromedp.Action[T], dst *T) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		v, err := a(ctx, t)
		*dst = v
		return chromedp.Void{}, err
	}
}

// attr keeps the value of attribute name of the element sel in dst.
func attr(sel, name string, dst *string) chromedp.Action[chromedp.Void] {
	var r chromedp.AttributeResult
	get := into(chromedp.AttributeValue(chromedp.CSS(sel), name), &r)
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := get(ctx, t)
		*dst = r.Value
		return chromedp.Void{}, err
	}
}

// groupThousands puts separators into a plain decimal string.
func groupThousands(s string) string {
	intPart, frac, ok := strings.Cut(s, ".")
	var b strings.Builder
	for i, r := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if ok {
		b.WriteString("." + frac)
	}
	return b.String()
}

// twoDecimals formats a KRW rate as the board does: two decimals, grouped.
func twoDecimals(t *testing.T, s string) string {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("rate %q: %v", s, err)
	}
	return groupThousands(strconv.FormatFloat(f, 'f', 2, 64))
}
