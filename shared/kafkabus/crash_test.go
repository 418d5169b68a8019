package kafkabus_test

import (
	"bufio"
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ratewire/ratewire/shared/cachex"
	"github.com/ratewire/ratewire/shared/dedupe"
	"github.com/ratewire/ratewire/shared/event"
	"github.com/ratewire/ratewire/shared/kafkabus"
)

// Environment of the crash helper process.
const (
	envCrashHelper = "KAFKABUS_CRASH_HELPER"
	envBrokers     = "KAFKABUS_CRASH_BROKERS"
	envRedis       = "KAFKABUS_CRASH_REDIS"
	envBlockID     = "KAFKABUS_CRASH_BLOCK_ID"
	envDir         = "KAFKABUS_CRASH_DIR"
	crashGroup     = "crash"
)

// A consumer process is killed (SIGKILL, no shutdown) mid-batch, while one
// handler call is in progress and with offsets committed only partly; a new
// one takes over the group. Every event is applied exactly once: those the
// dead process applied but had not committed are skipped as duplicates by
// the dedupe store, and their number is exactly the committed shortfall.
func TestFaultCrashMidBatchAndRestart(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	topic := event.TopicExchangeRateUpdated
	msgs := events(topic, 60, 6)
	publish(t, h.w, msgs...)
	block := msgs[40]

	// The helper's offset commits go through while they stay within the
	// first commitLimit messages of every partition; later ones are refused
	// until it is dead, so it dies with work done but uncommitted. (Counting
	// commits would not do: the consumer batches marks and commits, so its
	// first two commits may cover everything it applied.) Six events of the
	// block event's key precede it in its partition, all applied before the
	// freeze, so there offset commitLimit is always applied and uncommitted.
	const commitLimit = 5
	var dead atomic.Bool
	cl := h.k.Cluster()
	cl.ControlKey(kmsg.OffsetCommit.Int16(), func(req kmsg.Request) (kmsg.Response, error, bool) {
		cl.KeepControl()
		r := req.(*kmsg.OffsetCommitRequest)
		if dead.Load() || commitsWithin(r, commitLimit) {
			return nil, nil, false
		}
		resp := r.ResponseKind().(*kmsg.OffsetCommitResponse)
		for _, rt := range r.Topics {
			st := kmsg.NewOffsetCommitResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewOffsetCommitResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = kerr.RequestTimedOut.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})

	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelper$", "-test.v")
	cmd.Env = append(os.Environ(), envCrashHelper+"=1", envBrokers+"="+strings.Join(h.k.Brokers(), ","),
		envRedis+"="+h.redis.URL, envBlockID+"="+idOf(block), envDir+"="+dir)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start helper: %v", err)
	}
	killed := false
	defer func() {
		if !killed {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}()

	// Wait until the helper froze (the block event is in its handler) and
	// recorded in Redis every event it applied: nothing moves after that.
	eventually(t, "the helper to freeze with every applied event marked", func() bool {
		if _, err := os.Stat(filepath.Join(dir, "frozen")); err != nil {
			return false
		}
		applied, marked := readLines(t, filepath.Join(dir, "applied")), readLines(t, filepath.Join(dir, "marked"))
		for id := range applied {
			if marked[id] == 0 {
				return false
			}
		}
		return true
	})
	if err := cmd.Process.Kill(); err != nil {
		t.Fatalf("kill helper: %v", err)
	}
	_ = cmd.Wait()
	killed = true
	dead.Store(true)
	applied := readLines(t, filepath.Join(dir, "applied"))
	if applied[idOf(block)] != 0 || len(applied) == 0 || len(applied) >= len(msgs) {
		t.Fatalf("the helper applied %d of %d events (block event %d times); expected some, not the block one\n%s",
			len(applied), len(msgs), applied[idOf(block)], out.String())
	}

	// Which applied events sit past the committed offsets? Those the new
	// consumer receives again and must skip.
	commits := committed(t, h.adm, crashGroup)
	redelivered := 0
	offsets := offsetsOf(t, h, topic, len(msgs))
	for id := range applied {
		o := offsets[id]
		if at, ok := commits[o.tp]; !ok || o.offset >= at {
			redelivered++
		}
	}
	if redelivered == 0 {
		t.Fatalf("every applied event was committed before the kill (commits %v); expected some uncommitted", commits)
	}

	l := newLedger()
	for id, n := range applied {
		l.applied[id] = n
	}
	stop := runConsumer(t, h.consumer(t, crashGroup, []string{topic}, l.handle, nil))
	eventually(t, "every event to be applied", func() bool { return l.has(msgs) })
	h.waitCommitted(t, crashGroup, topic)
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	l.assertOnce(t, msgs, false)
	want := map[string]int{"ok": len(msgs) - len(applied), "duplicate": redelivered}
	if o := h.outcomes(t, crashGroup); !maps.Equal(o, want) {
		t.Errorf("outcomes of the new consumer: expected %v, got %v", want, o)
	}
}

// commitsWithin reports whether r commits no partition past offset limit.
func commitsWithin(r *kmsg.OffsetCommitRequest, limit int64) bool {
	for _, t := range r.Topics {
		for _, p := range t.Partitions {
			if p.Offset > limit {
				return false
			}
		}
	}
	return true
}

// TestCrashHelper is the consumer process that TestFaultCrashMidBatchAndRestart
// kills; it does nothing unless started by that test.
func TestCrashHelper(t *testing.T) {
	if os.Getenv(envCrashHelper) != "1" {
		t.Skip("helper process of TestFaultCrashMidBatchAndRestart")
	}
	dir := os.Getenv(envDir)
	rdb, err := cachex.Open(os.Getenv(envRedis))
	if err != nil {
		t.Fatal(err)
	}
	appliedF := mustAppend(t, filepath.Join(dir, "applied"))
	markedF := mustAppend(t, filepath.Join(dir, "marked"))
	store := &recordingDedupe{Redis: dedupe.NewRedis(rdb, dedupe.Options{Now: fixedNow}), f: markedF}

	var mu sync.Mutex
	frozen := false
	handler := func(ctx context.Context, m kafka.Message) error {
		mu.Lock()
		if idOf(m) == os.Getenv(envBlockID) && !frozen {
			frozen = true
			if err := os.WriteFile(filepath.Join(dir, "frozen"), nil, 0o600); err != nil {
				t.Error(err)
			}
		}
		if frozen {
			// Every handler call from now on hangs until the kill.
			mu.Unlock()
			select {}
		}
		defer mu.Unlock()
		_, err := fmt.Fprintln(appliedF, idOf(m))
		return err
	}
	c, err := kafkabus.NewConsumer(kafkabus.ConsumerConfig{
		Brokers: strings.Split(os.Getenv(envBrokers), ","), GroupID: crashGroup,
		Topics: []string{event.TopicExchangeRateUpdated}, Handler: handler, Dedupe: store,
		SessionTimeout: 6e9, HandlerTimeout: 1 << 40, Now: fixedNow,
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = c.Run(context.Background()) // runs until killed
}

// recordingDedupe writes every successful Mark and MarkMany to f, so the test can wait
// until the helper's state is settled before it kills it.
type recordingDedupe struct {
	*dedupe.Redis
	f *os.File
}

func (r *recordingDedupe) Mark(ctx context.Context, group, id string) error {
	if err := r.Redis.Mark(ctx, group, id); err != nil {
		return err
	}
	_, err := fmt.Fprintln(r.f, id)
	return err
}

// MarkMany is the batched Mark that the Consumer prefers; it records the
// same way.
func (r *recordingDedupe) MarkMany(ctx context.Context, group string, ids []string) error {
	if err := r.Redis.MarkMany(ctx, group, ids); err != nil {
		return err
	}
	for _, id := range ids {
		if _, err := fmt.Fprintln(r.f, id); err != nil {
			return err
		}
	}
	return nil
}

func mustAppend(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// readLines counts the lines of path; a missing file has none.
func readLines(t *testing.T, path string) map[string]int {
	t.Helper()
	out := map[string]int{}
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return out
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := sc.Text(); line != "" {
			out[line]++
		}
	}
	return out
}

type located struct {
	tp     tp
	offset int64
}

// offsetsOf reads topic from the start with franz-go and returns where each
// event id sits.
func offsetsOf(t *testing.T, h *harness, topic string, n int) map[string]located {
	t.Helper()
	out := map[string]located{}
	for _, r := range consumeAll(t, h.k, topic, n) {
		for _, hd := range r.Headers {
			if hd.Key == event.HeaderEventID {
				out[string(hd.Value)] = located{tp{r.Topic, r.Partition}, r.Offset}
			}
		}
	}
	return out
}
