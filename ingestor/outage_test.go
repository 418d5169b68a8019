package ingestor_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/jonboulle/clockwork"

	"github.com/ratewire/ratewire/ingestor"
	"github.com/ratewire/ratewire/shared/embedded"
	"github.com/ratewire/ratewire/shared/event"
	"github.com/ratewire/ratewire/shared/testinfra"
)

// TestKafkaOutageLosesNoEvent takes Kafka's produce path down before the
// ingestor starts: the startup run commits its rates and events, the relay
// cannot publish, the status shows the backlog, and once Kafka is back
// every event arrives.
func TestKafkaOutageLosesNoEvent(t *testing.T) {
	k, err := embedded.StartKafka(embedded.KafkaOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	var down atomic.Bool
	down.Store(true)
	var refused atomic.Int64
	c := k.Cluster()
	c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if down.Load() {
			refused.Add(1)
			return nil, errors.New("broker unavailable"), true
		}
		return nil, nil, false
	})

	at := time.Date(2026, 11, 22, 2, 0, 0, 0, time.UTC)
	dbURL := testinfra.SQLiteURL(t)
	cfg, err := ingestor.LoadConfig(func(key string) string {
		return map[string]string{"RATEWIRE_DATABASE_URL": dbURL, "RATEWIRE_KAFKA_BROKERS": strings.Join(k.Brokers(), ",")}[key]
	}, ":0")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- ingestor.Run(ctx, cfg, ingestor.Options{Listener: ln, Clock: clockwork.NewFakeClockAt(at)})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	base := "http://" + ln.Addr().String()

	var status struct {
		Data struct {
			LastSuccess *struct{ Events int } `json:"last_success"`
			Outbox      struct{ Pending int } `json:"outbox"`
		}
	}
	waitFor(t, "the startup run committed with Kafka down", func() bool {
		resp, err := http.Get(base + "/api/v1/ingest/status")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		return json.NewDecoder(resp.Body).Decode(&status) == nil && status.Data.LastSuccess != nil && refused.Load() > 0
	})
	want := status.Data.LastSuccess.Events
	if status.Data.Outbox.Pending != want || want < 20 {
		t.Fatalf("outbox holds %d of the run's %d events during the outage, want all", status.Data.Outbox.Pending, want)
	}

	down.Store(false)
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.Brokers()...), kgo.ConsumeTopics(event.TopicNames()...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	seen := map[string]bool{}
	deadline := time.Now().Add(30 * time.Second)
	for len(seen) < want && time.Now().Before(deadline) {
		fctx, fcancel := context.WithTimeout(ctx, time.Second)
		cl.PollFetches(fctx).EachRecord(func(r *kgo.Record) {
			for _, h := range r.Headers {
				if h.Key == event.HeaderEventID {
					seen[string(h.Value)] = true
				}
			}
		})
		fcancel()
	}
	if len(seen) != want {
		t.Fatalf("%d distinct events arrived after the outage, want %d", len(seen), want)
	}
	waitFor(t, "the outbox to empty", func() bool {
		resp, err := http.Get(base + "/api/v1/ingest/status")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		return json.NewDecoder(resp.Body).Decode(&status) == nil && status.Data.Outbox.Pending == 0
	})
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if ok() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}
