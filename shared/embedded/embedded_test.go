package embedded_test

import (
	"context"
	"net"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ratewire/ratewire/shared/embedded"
	"github.com/ratewire/ratewire/shared/event"
)

func TestStartKafkaSeedsTopicsAndBrokers(t *testing.T) {
	t.Parallel()
	k, err := embedded.StartKafka(embedded.KafkaOptions{})
	if err != nil {
		t.Fatalf("StartKafka: expected no error, got %v", err)
	}
	t.Cleanup(k.Close)

	brokers := k.Brokers()
	if len(brokers) != 3 {
		t.Fatalf("Brokers: expected 3 addresses, got %v", brokers)
	}
	for _, b := range brokers {
		host, _, err := net.SplitHostPort(b)
		if err != nil || host != "127.0.0.1" {
			t.Errorf("broker %q: expected 127.0.0.1:port, got host %q (err %v)", b, host, err)
		}
	}
	if k.Cluster() == nil {
		t.Fatal("Cluster: expected the kfake cluster, got nil")
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatalf("kgo.NewClient: %v", err)
	}
	t.Cleanup(cl.Close)
	adm := kadm.NewClient(cl)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	md, err := adm.Metadata(ctx)
	if err != nil {
		t.Fatalf("Metadata: %v", err)
	}
	var gotBrokers []string
	for _, b := range md.Brokers {
		gotBrokers = append(gotBrokers, net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port))))
	}
	slices.Sort(gotBrokers)
	wantBrokers := slices.Sorted(slices.Values(brokers))
	if !slices.Equal(gotBrokers, wantBrokers) {
		t.Errorf("metadata brokers: expected %v, got %v", wantBrokers, gotBrokers)
	}

	wantPartitions := map[string]int{
		"new_data_received":         1,
		"exchange_rate_updated":     3,
		"data_processing_completed": 1,
		"cache_invalidation":        1,
	}
	if len(event.Topics) != len(wantPartitions) {
		t.Fatalf("event.Topics: expected %d topics, got %d", len(wantPartitions), len(event.Topics))
	}
	for name, want := range wantPartitions {
		for _, topic := range []string{name, name + ".dlq"} {
			td, ok := md.Topics[topic]
			if !ok {
				t.Errorf("topic %s: expected to exist, got missing (have %v)", topic, md.Topics.Names())
				continue
			}
			if td.Err != nil {
				t.Errorf("topic %s: expected no error, got %v", topic, td.Err)
			}
			if got := len(td.Partitions); got != want {
				t.Errorf("topic %s: expected %d partitions, got %d", topic, want, got)
			}
		}
	}
	if got, want := len(md.Topics), 2*len(wantPartitions); got != want {
		t.Errorf("topic count: expected %d, got %d (%v)", want, got, md.Topics.Names())
	}
}

func TestStartKafkaFixedPorts(t *testing.T) {
	t.Parallel()
	ports := freePorts(t, 3)
	k, err := embedded.StartKafka(embedded.KafkaOptions{Ports: ports})
	if err != nil {
		t.Fatalf("StartKafka(%v): expected no error, got %v", ports, err)
	}
	t.Cleanup(k.Close)
	var want []string
	for _, p := range ports {
		want = append(want, "127.0.0.1:"+strconv.Itoa(p))
	}
	if got := k.Brokers(); !slices.Equal(got, want) {
		t.Errorf("Brokers: expected %v, got %v", want, got)
	}
}

func TestStartKafkaRejectsWrongPortCount(t *testing.T) {
	t.Parallel()
	k, err := embedded.StartKafka(embedded.KafkaOptions{Ports: []int{9092}})
	if err == nil {
		k.Close()
		t.Fatal("StartKafka with one port: expected an error, got nil")
	}
}

func TestStartRedis(t *testing.T) {
	t.Parallel()
	m, err := embedded.StartRedis()
	if err != nil {
		t.Fatalf("StartRedis: expected no error, got %v", err)
	}
	t.Cleanup(m.Close)

	url := embedded.RedisURL(m)
	if want := "redis://127.0.0.1:" + m.Port() + "/0"; url != want {
		t.Fatalf("RedisURL: expected %q, got %q", want, url)
	}
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("redis.ParseURL(%q): %v", url, err)
	}
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { _ = rdb.Close() })
	ctx := context.Background()
	if err := rdb.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("SET over %s: %v", url, err)
	}
	if got, _ := m.Get("k"); got != "v" {
		t.Errorf("miniredis GET k: expected %q, got %q", "v", got)
	}
}

// TestKeepTimeExpiresKeys: miniredis on its own never expires a key, so a
// devstack running for days kept every rate, tombstone, click window and
// dedupe set it ever wrote. With KeepTime on the stack's clock, keys expire
// when that clock passes their TTL, and only then.
func TestKeepTimeExpiresKeys(t *testing.T) {
	t.Parallel()
	m, err := embedded.StartRedis()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	opts, _ := redis.ParseURL(embedded.RedisURL(m))
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { _ = rdb.Close() })

	var mu sync.Mutex
	now := time.Date(2026, 12, 31, 23, 59, 50, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	tick := make(chan time.Time) // unbuffered: a second send means the first was applied
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { embedded.KeepTime(ctx, m, clock, tick); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	step := func(d time.Duration) {
		advance(d)
		tick <- time.Time{}
		tick <- time.Time{}
	}
	step(0)

	bg := context.Background()
	for i := range 500 {
		rdb.Set(bg, "rate:"+strconv.Itoa(i), "x", 10*time.Minute)
	}
	rdb.Set(bg, "short", "x", 10*time.Second)
	rdb.Set(bg, "forever", "x", 0)
	rdb.Set(bg, "forever-until", "x", 0)
	rdb.ExpireAt(bg, "forever-until", now.Add(time.Hour))

	step(11 * time.Second)
	if n := rdb.Exists(bg, "short").Val(); n != 0 {
		t.Errorf("a 10 s key 11 s later: expected gone, got EXISTS %d", n)
	}
	if ttl := rdb.TTL(bg, "rate:0").Val(); ttl <= 9*time.Minute || ttl > 10*time.Minute-10*time.Second {
		t.Errorf("a 10 min key 11 s later: expected a TTL of about 9m49s, got %v", ttl)
	}
	if got := rdb.DBSize(bg).Val(); got != 502 {
		t.Errorf("DBSIZE after 11 s: expected 502 (500 rates, forever, forever-until), got %d", got)
	}

	step(10 * time.Minute)
	if got := rdb.DBSize(bg).Val(); got != 2 {
		t.Errorf("DBSIZE after 10 min 11 s: expected 2 (the keys without a short TTL), got %d", got)
	}
	step(time.Hour)
	if got := rdb.Keys(bg, "*").Val(); len(got) != 1 || got[0] != "forever" {
		t.Errorf("keys after an hour more: expected [forever] (EXPIREAT follows the clock), got %v", got)
	}
}

// freePorts reserves n distinct free ports by listening and releasing them.
func freePorts(tb testing.TB, n int) []int {
	tb.Helper()
	var ports []int
	var lns []net.Listener
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatalf("reserve port: %v", err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	for _, ln := range lns {
		_ = ln.Close()
	}
	return ports
}
