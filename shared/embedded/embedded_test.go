package embedded_test

import (
	"context"
	"errors"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
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
// keptRedis is an embedded Redis kept on a fake clock for one test.
type keptRedis struct {
	m    *miniredis.Miniredis
	opts *redis.Options
	rdb  *redis.Client
	mu   sync.Mutex
	now  time.Time
	// tick is unbuffered: a send returns once KeepTime took it, and a
	// second send means the first was applied.
	tick chan time.Time
}

// keepRedis starts an embedded Redis and KeepTime on a fake clock that
// starts just before a new year, until the test ends.
func keepRedis(t *testing.T) *keptRedis {
	t.Helper()
	m, err := embedded.StartRedis()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	k := &keptRedis{m: m, now: time.Date(2026, 12, 31, 23, 59, 50, 0, time.UTC), tick: make(chan time.Time)}
	k.opts, _ = redis.ParseURL(embedded.RedisURL(m))
	k.rdb = redis.NewClient(k.opts)
	t.Cleanup(func() { _ = k.rdb.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { embedded.KeepTime(ctx, m, k.clock, k.tick, nil); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return k
}

func (k *keptRedis) clock() time.Time { k.mu.Lock(); defer k.mu.Unlock(); return k.now }

func (k *keptRedis) advance(d time.Duration) { k.mu.Lock(); k.now = k.now.Add(d); k.mu.Unlock() }

func TestKeepTimeExpiresKeys(t *testing.T) {
	t.Parallel()
	k := keepRedis(t)
	rdb, tick, advance := k.rdb, k.tick, k.advance
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
	rdb.ExpireAt(bg, "forever-until", k.clock().Add(time.Hour))

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

// TestKeepTimeForgetsVersionsOfDeletedKeys: miniredis keeps a WATCH version
// for every key name ever written, so ranking's per-client rate-limit keys,
// each gone within a minute, grew devstack's heap forever. Every ForgetEvery
// ticks KeepTime drops the versions of keys that no longer exist, and keeps
// those of live keys, so a WATCH held across the prune still sees a change.
func TestKeepTimeForgetsVersionsOfDeletedKeys(t *testing.T) {
	t.Parallel()
	k := keepRedis(t)
	m, rdb, tick := k.m, k.rdb, k.tick
	other := redis.NewClient(k.opts) // writes while rdb holds a WATCH
	t.Cleanup(func() { _ = other.Close() })
	// sent counts ticks as KeepTime counts them. When tickTo(n) returns,
	// KeepTime has finished ticks 1..n-1 and taken tick n.
	sent := 0
	tickTo := func(n int) {
		for ; sent < n; sent++ {
			tick <- time.Time{}
		}
	}
	versions := func() int {
		t.Helper()
		n, err := embedded.KeyVersions(m)
		if err != nil {
			t.Fatalf("KeyVersions: %v", err)
		}
		return n
	}

	const expiring, live = 200_000, 100
	bg := context.Background()
	for start := 0; start < expiring; start += 10_000 {
		_, err := rdb.Pipelined(bg, func(p redis.Pipeliner) error {
			for i := start; i < start+10_000; i++ {
				p.Set(bg, "ratelimit:client-"+strconv.Itoa(i), "1", 10*time.Second)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("SET the expiring keys: %v", err)
		}
	}
	for i := range live {
		rdb.Set(bg, "rate:"+strconv.Itoa(i), "v"+strconv.Itoa(i), 0)
	}
	for i := range 3 { // version 3: a prune that reset it would hide the next write
		rdb.Set(bg, "watched", strconv.Itoa(i), 0)
	}
	if got, want := versions(), expiring+live+1; got != want {
		t.Fatalf("versions after the writes: expected %d, got %d", want, got)
	}

	k.advance(11 * time.Second)
	tickTo(2)
	if got := rdb.DBSize(bg).Val(); got != live+1 {
		t.Fatalf("DBSIZE 11 s later: expected %d (the 10 s keys gone), got %d", live+1, got)
	}
	tickTo(embedded.ForgetEvery - 1)
	if got, want := versions(), expiring+live+1; got != want {
		t.Errorf("versions before tick %d: expected %d (deleted keys keep theirs until the prune), got %d",
			embedded.ForgetEvery, want, got)
	}

	err := rdb.Watch(bg, func(tx *redis.Tx) error {
		tickTo(embedded.ForgetEvery + 1) // the prune runs while the WATCH is held
		if got, want := versions(), live+1; got != want {
			t.Errorf("versions after tick %d: expected %d (the live keys'), got %d", embedded.ForgetEvery, want, got)
		}
		other.Set(bg, "watched", "theirs", 0)
		_, err := tx.TxPipelined(bg, func(p redis.Pipeliner) error {
			p.Set(bg, "watched", "mine", 0)
			return nil
		})
		return err
	}, "watched")
	if !errors.Is(err, redis.TxFailedErr) {
		t.Errorf("EXEC after a WATCH held across the prune and a write: expected %v, got %v", redis.TxFailedErr, err)
	}
	if got := rdb.Get(bg, "watched").Val(); got != "theirs" {
		t.Errorf("watched: expected %q (the other client's write), got %q", "theirs", got)
	}

	keys := make([]string, live)
	for i := range keys {
		keys[i] = "rate:" + strconv.Itoa(i)
	}
	vals, err := rdb.MGet(bg, keys...).Result()
	if err != nil {
		t.Fatalf("MGET the live keys: %v", err)
	}
	for i, v := range vals {
		if want := "v" + strconv.Itoa(i); v != want {
			t.Errorf("%s after the prune: expected %q, got %v", keys[i], want, v)
		}
	}
	// A WATCH taken after the prune: EXEC fails after another client's
	// write, and succeeds without one.
	for _, tc := range []struct {
		key     string
		write   bool
		wantErr error
	}{
		{key: "rate:0", write: true, wantErr: redis.TxFailedErr},
		{key: "rate:1", write: false, wantErr: nil},
	} {
		err := rdb.Watch(bg, func(tx *redis.Tx) error {
			if tc.write {
				other.Set(bg, tc.key, "theirs", 0)
			}
			_, err := tx.TxPipelined(bg, func(p redis.Pipeliner) error {
				p.Set(bg, tc.key, "mine", 0)
				return nil
			})
			return err
		}, tc.key)
		if !errors.Is(err, tc.wantErr) {
			t.Errorf("WATCH %s, other client writes %v, EXEC: expected %v, got %v", tc.key, tc.write, tc.wantErr, err)
		}
	}
}

// TestForgetDeletedKeyVersions runs the prune alone on the miniredis this
// module requires: it finds the fields it was written against, drops the
// versions of deleted keys in every database, and keeps the live keys'.
func TestForgetDeletedKeyVersions(t *testing.T) {
	t.Parallel()
	set := func(m *miniredis.Miniredis, db int, keys ...string) {
		for _, k := range keys {
			if err := m.DB(db).Set(k, "x"); err != nil {
				t.Fatalf("db %d SET %s: %v", db, k, err)
			}
		}
	}
	for _, tc := range []struct {
		name         string
		setup        func(m *miniredis.Miniredis)
		wantDropped  int
		wantVersions int
	}{
		{name: "no databases yet", setup: func(*miniredis.Miniredis) {}},
		{
			name:         "nothing deleted",
			setup:        func(m *miniredis.Miniredis) { set(m, 0, "a", "b", "c") },
			wantVersions: 3,
		},
		{
			name: "deleted in two databases",
			setup: func(m *miniredis.Miniredis) {
				set(m, 0, "a", "b", "c", "d", "e")
				m.DB(0).Del("a")
				m.DB(0).Del("b")
				set(m, 3, "a", "x", "y", "z")
				m.DB(3).Del("x")
			},
			wantDropped:  3,
			wantVersions: 6,
		},
		{
			name: "flushall",
			setup: func(m *miniredis.Miniredis) {
				set(m, 0, "a", "b", "c")
				set(m, 1, "a", "b")
				m.FlushAll()
			},
			wantDropped: 5,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := embedded.StartRedis()
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(m.Close)
			tc.setup(m)
			dropped, err := embedded.ForgetDeletedKeyVersions(m)
			if err != nil {
				t.Fatalf("ForgetDeletedKeyVersions on miniredis v2.40.0: expected no error, got %v", err)
			}
			if dropped != tc.wantDropped {
				t.Errorf("dropped: expected %d, got %d", tc.wantDropped, dropped)
			}
			if got, err := embedded.KeyVersions(m); err != nil || got != tc.wantVersions {
				t.Errorf("versions left: expected %d, got %d (err %v)", tc.wantVersions, got, err)
			}
			if dropped, err := embedded.ForgetDeletedKeyVersions(m); err != nil || dropped != 0 {
				t.Errorf("second run: expected 0 dropped and no error, got %d (err %v)", dropped, err)
			}
		})
	}
}

// TestForgetDeletedKeyVersionsRejectsOtherInternals: a miniredis whose
// fields moved or changed type must get an error that names the field and
// the version the code assumes, not a panic or a write through the wrong
// type.
func TestForgetDeletedKeyVersionsRejectsOtherInternals(t *testing.T) {
	t.Parallel()
	type db struct {
		keys       map[string]string
		keyVersion map[string]int // was map[string]uint
	}
	for _, tc := range []struct {
		name    string
		check   func() error
		wantErr []string // substrings of the error; nil: no error
	}{
		{
			name:  "field as expected",
			check: func() error { return embedded.UnexportedField[map[string]string](&db{}, "keys") },
		},
		{
			name:    "field missing",
			check:   func() error { return embedded.UnexportedField[map[int]*miniredis.RedisDB](&db{}, "dbs") },
			wantErr: []string{"no field dbs", "miniredis v2.40.0"},
		},
		{
			name:    "field of another type",
			check:   func() error { return embedded.UnexportedField[map[string]uint](&db{}, "keyVersion") },
			wantErr: []string{"keyVersion is map[string]int, not map[string]uint", "miniredis v2.40.0"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.check()
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("expected no error, got %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("expected an error containing %q, got nil", tc.wantErr)
			}
			for _, want := range tc.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error: expected it to contain %q, got %q", want, err)
				}
			}
		})
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
