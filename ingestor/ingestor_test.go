package ingestor_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/jonboulle/clockwork"

	"github.com/ratewire/ratewire/ingestor"
	"github.com/ratewire/ratewire/shared/event"
	"github.com/ratewire/ratewire/shared/testinfra"
)

// TestRunPublishesOnStartAndOnDemand starts the ingestor on embedded Kafka
// over TCP and SQLite, reads what it published with an independent client
// (franz-go), then asks for a run through the admin API.
func TestRunPublishesOnStartAndOnDemand(t *testing.T) {
	brokers := testinfra.Kafka(t)
	at := time.Date(2026, 11, 22, 2, 0, 0, 0, time.UTC)
	cfg, err := ingestor.LoadConfig(func(k string) string {
		return map[string]string{
			"RATEWIRE_DATABASE_URL":  testinfra.SQLiteURL(t),
			"RATEWIRE_KAFKA_BROKERS": strings.Join(brokers, ","),
			"RATEWIRE_ADMIN_TOKEN":   "tok",
		}[k]
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
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run returned %v, want nil", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("Run did not return after cancel")
		}
	}()

	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(event.TopicNames()...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()

	counts := map[string]int{}
	partitionOf := map[string]int32{}
	deadline := time.Now().Add(20 * time.Second)
	// Topics are fetched independently: wait until each has delivered.
	for (counts[event.TopicDataProcessingCompleted] == 0 || counts[event.TopicCacheInvalidation] == 0 ||
		counts[event.TopicNewDataReceived] == 0 || counts[event.TopicExchangeRateUpdated] < 30) && time.Now().Before(deadline) {
		fctx, fcancel := context.WithTimeout(ctx, time.Second)
		fetches := cl.PollFetches(fctx)
		fcancel()
		fetches.EachRecord(func(r *kgo.Record) {
			counts[r.Topic]++
			hs := map[string]string{}
			for _, h := range r.Headers {
				hs[h.Key] = string(h.Value)
			}
			for _, k := range []string{"event_id", "event_type", "schema_version", "correlation_id", "producer", "content-type"} {
				if hs[k] == "" {
					t.Errorf("%s record lacks header %s", r.Topic, k)
				}
			}
			if hs["producer"] != "ingestor" || hs["event_type"] != r.Topic {
				t.Errorf("%s headers %v", r.Topic, hs)
			}
			if _, err := event.Decode(r.Topic, r.Value); err != nil {
				t.Errorf("%s record does not decode: %v", r.Topic, err)
			}
			if r.Topic == event.TopicExchangeRateUpdated {
				if p, ok := partitionOf[string(r.Key)]; ok && p != r.Partition {
					t.Errorf("key %s in partitions %d and %d", r.Key, p, r.Partition)
				}
				partitionOf[string(r.Key)] = r.Partition
			}
		})
	}
	if counts[event.TopicNewDataReceived] != 1 || counts[event.TopicCacheInvalidation] != 1 ||
		counts[event.TopicDataProcessingCompleted] != 1 || counts[event.TopicExchangeRateUpdated] < 20 {
		t.Fatalf("published %v, want one per-run event each and one update per currency", counts)
	}

	base := "http://" + ln.Addr().String()
	req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/ingest/run", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("run without token: %v %v, want 401", resp.StatusCode, err)
	}
	req.Header.Set("Authorization", "Bearer tok")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var env struct {
		Success bool
		Data    struct {
			Status  string
			Changed int
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil || resp.StatusCode != 200 || !env.Success {
		t.Fatalf("admin run: status %d, %+v, %v", resp.StatusCode, env, err)
	}
	if env.Data.Status != "success" || env.Data.Changed != 0 {
		t.Errorf("admin run at the same instant = %+v, want success with nothing changed", env.Data)
	}
}
