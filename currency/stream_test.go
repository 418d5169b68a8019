package currency_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ratewire/ratewire/currency"
	"github.com/ratewire/ratewire/currency/internal/consumer"
	"github.com/ratewire/ratewire/ingestor"
	"github.com/ratewire/ratewire/shared/config"
	"github.com/ratewire/ratewire/shared/event"
	"github.com/ratewire/ratewire/shared/kafkabus"
	"github.com/ratewire/ratewire/shared/testinfra"
)

// sseEvent is one Server-Sent Event as a client sees it.
type sseEvent struct {
	ID, Data string
	Comment  string
}

// sseClient reads a stream's events into a channel until the body ends,
// then closes it.
type sseClient struct {
	resp   *http.Response
	events chan sseEvent
	cancel context.CancelFunc
}

func subscribe(t testing.TB, url string, hdr ...string) *sseClient {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("GET %s: %v", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		cancel()
		t.Fatalf("GET %s = %d %s, want 200", url, resp.StatusCode, body)
	}
	c := &sseClient{resp: resp, events: make(chan sseEvent, 1024), cancel: cancel}
	go func() {
		defer close(c.events)
		br := bufio.NewReader(resp.Body)
		var ev sseEvent
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			line = strings.TrimSuffix(line, "\n")
			switch {
			case line == "":
				if ev != (sseEvent{}) {
					c.events <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, ":"):
				ev.Comment = strings.TrimSpace(line[1:])
			case strings.HasPrefix(line, "id: "):
				ev.ID = line[len("id: "):]
			case strings.HasPrefix(line, "data: "):
				ev.Data = line[len("data: "):]
			}
		}
	}()
	t.Cleanup(func() { c.close() })
	return c
}

func (c *sseClient) close() {
	c.cancel()
	c.resp.Body.Close()
}

// next returns the next event that carries data, failing after 20 s.
func (c *sseClient) next(t testing.TB) sseEvent {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case ev, ok := <-c.events:
			if !ok {
				t.Fatal("stream ended, want another event")
			}
			if ev.Data != "" {
				return ev
			}
		case <-timeout:
			t.Fatal("no event within 20 s")
		}
	}
}

// ids reads n data events and returns their ids.
func (c *sseClient) ids(t testing.TB, n int) []string {
	t.Helper()
	out := make([]string, n)
	for i := range out {
		out[i] = c.next(t).ID
	}
	return out
}

func TestStream(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	s := subscribe(t, e.base+"/api/v1/currencies/stream?symbols=usd,JPY")
	if ct := s.resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Errorf("Content-Type %q, want text/event-stream", ct)
	}
	if got := s.resp.Header.Get("Access-Control-Allow-Origin"); got != "*" {
		t.Errorf("Access-Control-Allow-Origin %q, want *", got)
	}
	if got := s.resp.Header.Get("Cache-Control"); got != "no-cache" {
		t.Errorf("Cache-Control %q, want no-cache", got)
	}
	// A fresh subscriber first gets each code's current state.
	if got, want := s.ids(t, 2), []string{"JPY:1", "USD:1"}; !slices.Equal(got, want) {
		t.Fatalf("initial events %v, want %v", got, want)
	}
	all := subscribe(t, e.base+"/api/v1/currencies/stream")
	all.ids(t, 2)

	if err := e.w.Publish(ctx, update(t, "USD", "1402.5", 2)); err != nil {
		t.Fatal(err)
	}
	ev := s.next(t)
	if ev.ID != "USD:2" {
		t.Fatalf("event id %q, want USD:2", ev.ID)
	}
	if got := all.next(t).ID; got != "USD:2" {
		t.Errorf("unfiltered subscriber got %q, want USD:2", got)
	}
	// The data is the object GET /{code} answers, byte for byte.
	waitFor(t, func() bool {
		_, _, body := get(t, e.base+"/api/v1/currencies/USD")
		return rateOf(t, body).Version == 2
	}, "USD at version 2")
	_, _, body := get(t, e.base+"/api/v1/currencies/USD")
	if string(body.Data) != ev.Data {
		t.Errorf("stream data\n%s\nGET /USD data\n%s", ev.Data, body.Data)
	}

	// A duplicate and an older version are not changes; a newer JPY and
	// USD are, in order.
	if err := e.w.Publish(ctx, update(t, "USD", "1402.5", 2), update(t, "USD", "1000", 1)); err != nil {
		t.Fatal(err)
	}
	if err := e.w.Publish(ctx, update(t, "JPY", "9.30", 2)); err != nil {
		t.Fatal(err)
	}
	if err := e.w.Publish(ctx, update(t, "USD", "1403", 3)); err != nil {
		t.Fatal(err)
	}
	got := s.ids(t, 2)
	slices.Sort(got) // different partitions: their relative order is not fixed
	if want := []string{"JPY:2", "USD:3"}; !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}

	// Resuming after USD:2 (header) replays what followed it; the query
	// parameter works for clients that cannot set headers. The replay
	// brought both codes up to date, so no current state is added.
	for _, r := range []*sseClient{
		subscribe(t, e.base+"/api/v1/currencies/stream?symbols=USD,JPY", "Last-Event-ID", "USD:2"),
		subscribe(t, e.base+"/api/v1/currencies/stream?symbols=USD,JPY&last_event_id=USD:2"),
	} {
		got := r.ids(t, 2)
		slices.Sort(got)
		if want := []string{"JPY:2", "USD:3"}; !slices.Equal(got, want) {
			t.Errorf("resumed after USD:2: %v, want %v", got, want)
		}
	}
	// Resuming after the newest USD: JPY's current state covers whatever
	// another replica may have ordered differently.
	r := subscribe(t, e.base+"/api/v1/currencies/stream?symbols=USD,JPY", "Last-Event-ID", "USD:3")
	if got := r.next(t).ID; got != "JPY:2" && got != "USD:3" {
		t.Errorf("resumed after USD:3: %q", got)
	}
	// An id the ring never held: the current state of each code.
	u := subscribe(t, e.base+"/api/v1/currencies/stream?symbols=JPY,USD", "Last-Event-ID", "EUR:7")
	if got, want := u.ids(t, 2), []string{"JPY:2", "USD:3"}; !slices.Equal(got, want) {
		t.Errorf("resumed after an unknown id: %v, want %v", got, want)
	}

	for _, tc := range []struct {
		path, hdr string
		status    int
		code      string
	}{
		{"/api/v1/currencies/stream?symbols=US1", "", 400, "INVALID_CURRENCY_CODE"},
		{"/api/v1/currencies/stream?symbols=KRW", "", 404, "NOT_FOUND"},
		{"/api/v1/currencies/stream?last_event_id=USD-3", "", 400, "INVALID_PARAMETER"},
		{"/api/v1/currencies/stream", "USD:0", 400, "INVALID_PARAMETER"},
	} {
		var hdr []string
		if tc.hdr != "" {
			hdr = []string{"Last-Event-ID", tc.hdr}
		}
		status, h, body := get(t, e.base+tc.path, hdr...)
		if status != tc.status || body.Error == nil || body.Error.Code != tc.code || h.Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("GET %s (Last-Event-ID %q) = %d %+v, want %d %s", tc.path, tc.hdr, status, body.Error, tc.status, tc.code)
		}
	}
}

// replica is one currency instance of a test sharing its infrastructure.
type replica struct {
	base string
	stop func() error // cancels Run and returns its error
}

func startReplica(t *testing.T, cfg config.Config, opts currency.Options) replica {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	opts.Listener = ln
	go func() { done <- currency.Run(ctx, cfg, opts) }()
	stopped := false
	var runErr error
	stop := func() error {
		if stopped {
			return runErr
		}
		stopped = true
		cancel()
		select {
		case runErr = <-done:
		case <-time.After(15 * time.Second):
			runErr = fmt.Errorf("Run did not return within 15 s of cancel")
		}
		return runErr
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return replica{base: "http://" + ln.Addr().String(), stop: stop}
}

// sharedInfra is one Kafka cluster, Redis and database with two rates.
func sharedInfra(t *testing.T) (config.Config, []string) {
	t.Helper()
	brokers := testinfra.Kafka(t)
	r := testinfra.MiniRedis(t)
	dbURL := testinfra.SQLiteURL(t)
	db := testinfra.OpenDB(t, dbURL)
	if err := ingestor.Migrate(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(func(k string) string {
		return map[string]string{
			"RATEWIRE_DATABASE_URL": dbURL, "RATEWIRE_REDIS_URL": r.URL,
			"RATEWIRE_KAFKA_BROKERS": strings.Join(brokers, ","), "RATEWIRE_ADMIN_TOKEN": adminToken,
		}[k]
	}, ":0")
	if err != nil {
		t.Fatal(err)
	}
	return cfg, brokers
}

// TestStreamEveryReplica runs two currency instances in one consumer
// group on one cluster: each consumes only some partitions of
// exchange_rate_updated, yet a subscriber on either sees every update.
func TestStreamEveryReplica(t *testing.T) {
	cfg, brokers := sharedInfra(t)
	now := func() time.Time { return at.Add(time.Hour) }
	a := startReplica(t, cfg, currency.Options{Now: now})
	b := startReplica(t, cfg, currency.Options{Now: now})

	// Wait until the group has both members, each owning some partitions.
	adm, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	admin := kadm.NewClient(adm)
	var owned []int
	waitFor(t, func() bool {
		groups, err := admin.DescribeGroups(context.Background(), consumer.GroupID)
		if err != nil {
			return false
		}
		g := groups[consumer.GroupID]
		if g.State != "Stable" || len(g.Members) != 2 {
			return false
		}
		owned = owned[:0]
		for _, m := range g.Members {
			ca, ok := m.Assigned.AsConsumer()
			if !ok {
				return false
			}
			n := 0
			for _, tp := range ca.Topics {
				if tp.Topic == event.TopicExchangeRateUpdated {
					n += len(tp.Partitions)
				}
			}
			owned = append(owned, n)
		}
		return owned[0] > 0 && owned[1] > 0 && owned[0]+owned[1] == 3
	}, "two group members sharing the three partitions")
	t.Logf("partitions of %s owned by the two members: %v", event.TopicExchangeRateUpdated, owned)

	sa := subscribe(t, a.base+"/api/v1/currencies/stream")
	sb := subscribe(t, b.base+"/api/v1/currencies/stream")
	// Codes spread over every partition (murmur2 of the key).
	codes := []string{"USD", "JPY", "EUR", "GBP", "CNY", "AUD", "CAD", "CHF", "HKD", "SGD", "THB", "VND"}
	parts := map[int]bool{}
	for _, c := range codes {
		parts[(&kafka.Murmur2Balancer{}).Balance(kafka.Message{Key: []byte(c)}, 0, 1, 2)] = true
	}
	if len(parts) != 3 {
		t.Fatalf("test codes cover partitions %v, want all 3", parts)
	}
	w := kafkabus.NewWriter(kafkabus.WriterConfig{Brokers: brokers, ClientID: "test"})
	defer w.Close()
	for _, c := range codes {
		if err := w.Publish(context.Background(), update(t, c, "1000", 1)); err != nil {
			t.Fatal(err)
		}
	}
	want := make([]string, len(codes))
	for i, c := range codes {
		want[i] = c + ":1"
	}
	slices.Sort(want)
	for name, s := range map[string]*sseClient{"a": sa, "b": sb} {
		got := s.ids(t, len(codes))
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("replica %s streamed %v, want %v", name, got, want)
		}
	}

	// A client that saw some of replica a's events resumes on replica b
	// with the last id it saw: whatever order b applied them in, it ends
	// with every code's newest version.
	for i := range codes {
		lastFromA := want[i]
		r := subscribe(t, b.base+"/api/v1/currencies/stream", "Last-Event-ID", lastFromA)
		seen := map[string]bool{}
		for len(seen) < len(codes) { // next fails the test if one never comes
			seen[r.next(t).ID] = true
		}
		r.close()
	}

	// Shutdown with a subscriber connected: the stream ends cleanly and
	// Run returns.
	if err := a.stop(); err != nil {
		t.Fatalf("Run of replica a: %v", err)
	}
	for ended := false; !ended; {
		select {
		case _, ok := <-sa.events:
			ended = !ok
		case <-time.After(15 * time.Second):
			t.Fatal("the stream of the stopped replica did not end")
		}
	}
	// The other replica keeps streaming.
	if err := w.Publish(context.Background(), update(t, "EUR", "1500", 2)); err != nil {
		t.Fatal(err)
	}
	if got := sb.next(t).ID; got != "EUR:2" {
		t.Errorf("replica b after a stopped: %q, want EUR:2", got)
	}
}

// TestStreamBound refuses a subscriber past the bound with a 503 in the
// envelope, and takes one again once a place is free.
func TestStreamBound(t *testing.T) {
	cfg, _ := sharedInfra(t)
	r := startReplica(t, cfg, currency.Options{StreamMaxSubscribers: 1, Now: func() time.Time { return at.Add(time.Hour) }})
	first := subscribe(t, r.base+"/api/v1/currencies/stream")
	status, h, body := get(t, r.base+"/api/v1/currencies/stream")
	if status != http.StatusServiceUnavailable || body.Error == nil || body.Error.Code != "SERVICE_UNAVAILABLE" || h.Get("Retry-After") == "" {
		t.Fatalf("second subscriber = %d %+v Retry-After %q, want 503 SERVICE_UNAVAILABLE with Retry-After", status, body.Error, h.Get("Retry-After"))
	}
	resp, err := http.Get(r.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(metrics), "\nratewire_currency_stream_subscribers 1\n") {
		t.Errorf("/metrics lacks ratewire_currency_stream_subscribers 1:\n%s", metrics)
	}
	first.close()
	waitFor(t, func() bool {
		resp, err := http.Get(r.base + "/api/v1/currencies/stream")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, "a free place after the first subscriber left")
}
