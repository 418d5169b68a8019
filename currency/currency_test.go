package currency_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/shopspring/decimal"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ratewire/ratewire/currency"
	"github.com/ratewire/ratewire/ingestor"
	"github.com/ratewire/ratewire/shared/config"
	"github.com/ratewire/ratewire/shared/event"
	"github.com/ratewire/ratewire/shared/httpx"
	"github.com/ratewire/ratewire/shared/kafkabus"
	"github.com/ratewire/ratewire/shared/testinfra"
)

var at = time.Date(2026, 11, 22, 2, 0, 0, 0, time.UTC)

const adminToken = "test-admin-token"

type env struct {
	base    string
	w       *kafkabus.Writer
	brokers []string
}

func start(t *testing.T) env {
	t.Helper()
	brokers := testinfra.Kafka(t)
	r := testinfra.MiniRedis(t)
	dbURL := testinfra.SQLiteURL(t)
	db := testinfra.OpenDB(t, dbURL)
	ctx := context.Background()
	if err := ingestor.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, db.Rebind(`INSERT INTO latest_rates (currency_code, currency_name, deal_base_rate, tts, ttb,
		cash_buy, cash_sell, source, recorded_at, updated_at, version) VALUES
		('USD', '미국 달러', '1398.4', '1412.38', '1384.42', '1422.87', '1373.93', 'hana', ?, ?, 1),
		('JPY', '일본 옌', '9.2514', NULL, NULL, NULL, NULL, 'frankfurter', ?, ?, 1)`), at, at, at, at); err != nil {
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
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- currency.Run(runCtx, cfg, currency.Options{Listener: ln, Now: func() time.Time { return at.Add(time.Hour) }})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run returned %v, want nil", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})
	w := kafkabus.NewWriter(kafkabus.WriterConfig{Brokers: brokers, ClientID: "test"})
	t.Cleanup(func() { w.Close() })
	return env{base: "http://" + ln.Addr().String(), w: w, brokers: brokers}
}

func get(t *testing.T, url string, hdr ...string) (int, http.Header, httpx.Envelope) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var e httpx.Envelope
	if len(body) > 0 {
		if err := json.Unmarshal(body, &e); err != nil {
			t.Fatalf("GET %s: body is not the envelope: %s", url, body)
		}
	}
	return resp.StatusCode, resp.Header, e
}

// rateOf decodes a rate answer's wire fields, which are event.Rate's.
func rateOf(t *testing.T, e httpx.Envelope) event.Rate {
	t.Helper()
	var r event.Rate
	if err := json.Unmarshal(e.Data, &r); err != nil {
		t.Fatalf("data %s: %v", e.Data, err)
	}
	return r
}

func update(t *testing.T, code, mid string, version int64) kafka.Message {
	t.Helper()
	ev := &event.ExchangeRateUpdated{Rate: event.Rate{CurrencyCode: code, CurrencyName: code, DealBaseRate: decimal.RequireFromString(mid),
		Source: "koreaexim", RecordedAt: at.Add(time.Duration(version) * time.Minute), UpdatedAt: at, Version: version}}
	event.Stamp(ev, "test-run")
	m, err := event.Encode(ev, "test")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestAPIAndEvents(t *testing.T) {
	e := start(t)

	status, hdr, body := get(t, e.base+"/api/v1/currencies/usd")
	if status != 200 || !body.Success || rateOf(t, body).Version != 1 || !rateOf(t, body).DealBaseRate.Equal(decimal.RequireFromString("1398.4")) {
		t.Fatalf("GET /USD = %d %s", status, body.Data)
	}
	etag := hdr.Get("ETag")
	if etag == "" || !strings.Contains(hdr.Get("Cache-Control"), "max-age=") {
		t.Errorf("headers ETag %q Cache-Control %q", etag, hdr.Get("Cache-Control"))
	}
	if status, _, _ := get(t, e.base+"/api/v1/currencies/USD", "If-None-Match", etag); status != http.StatusNotModified {
		t.Errorf("conditional GET = %d, want 304", status)
	}

	for _, tc := range []struct {
		path   string
		status int
		code   string
	}{
		{"/api/v1/currencies/US1", 400, "INVALID_CURRENCY_CODE"},
		{"/api/v1/currencies/CHF", 404, "NOT_FOUND"},
		{"/api/v1/currencies/latest?base=XX", 400, "INVALID_CURRENCY_CODE"},
		{"/api/v1/currencies/latest?symbols=USD,EURO", 400, "INVALID_CURRENCY_CODE"},
		{"/api/v1/currencies/latest?symbols=CHF", 404, "NOT_FOUND"},
	} {
		status, _, body := get(t, e.base+tc.path)
		if status != tc.status || body.Success || body.Error == nil || body.Error.Code != tc.code {
			t.Errorf("GET %s = %d %+v, want %d %s", tc.path, status, body.Error, tc.status, tc.code)
		}
	}

	status, _, body = get(t, e.base+"/api/v1/currencies/latest")
	var tbl struct {
		Base  string                     `json:"base"`
		Rates map[string]decimal.Decimal `json:"rates"`
	}
	if err := json.Unmarshal(body.Data, &tbl); err != nil || status != 200 || tbl.Base != "KRW" || !tbl.Rates["USD"].Equal(decimal.RequireFromString("1398.4")) {
		t.Fatalf("GET /latest = %d %s", status, body.Data)
	}

	// A malformed record produced by an independent client (franz-go, as
	// kcat would), then a valid update: the update is applied and the
	// malformed record lands in the dead-letter topic with its headers.
	ctx := context.Background()
	kcl, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer kcl.Close()
	bad := &kgo.Record{Topic: event.TopicExchangeRateUpdated, Key: []byte("USD"), Value: []byte("{not json"),
		Headers: []kgo.RecordHeader{{Key: "producer", Value: []byte("kcat")}}}
	if err := kcl.ProduceSync(ctx, bad).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := e.w.Publish(ctx, update(t, "USD", "1402.5", 2)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		_, _, body := get(t, e.base+"/api/v1/currencies/USD")
		r := rateOf(t, body)
		return r.Version == 2 && r.DealBaseRate.Equal(decimal.RequireFromString("1402.5"))
	}, "USD at version 2 from the event")
	dlq := readDLQ(t, e.brokers, event.DLQTopic(event.TopicExchangeRateUpdated))
	want := map[string]string{
		"key": "USD", "value": "{not json", "producer": "kcat",
		event.HeaderDLQOriginalTopic: event.TopicExchangeRateUpdated, event.HeaderDLQOriginalPartition: fmt.Sprint(bad.Partition),
		event.HeaderDLQOriginalOffset: fmt.Sprint(bad.Offset), event.HeaderDLQConsumerGroup: "currency-service",
		event.HeaderDLQErrorClass: event.DLQClassInvalid, event.HeaderDLQAttempts: "1",
	}
	for k, v := range want {
		if dlq[k] != v {
			t.Errorf("dead-lettered record %s = %q, want %q", k, dlq[k], v)
		}
	}
	for _, k := range []string{event.HeaderDLQErrorMessage, event.HeaderDLQFirstFailureAt} {
		if dlq[k] == "" {
			t.Errorf("dead-lettered record has no %s header", k)
		}
	}

	// The replay command finds it; a dry run publishes nothing, and other
	// classes or groups do not match it.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--topic", event.TopicExchangeRateUpdated, "--error-class", "invalid", "--since", "1h", "--dry-run"}, "scanned 1, matched 1, replayed 0 (dry run)"},
		{[]string{"--topic", event.TopicExchangeRateUpdated, "--error-class", "transient"}, "scanned 1, matched 0, replayed 0"},
		{[]string{"--topic", event.TopicExchangeRateUpdated, "--group", "history-service", "--dry-run"}, "scanned 1, matched 0, replayed 0"},
	} {
		var out strings.Builder
		if err := currency.ReplayDLQ(ctx, e.brokers, tc.args, &out, nil); err != nil {
			t.Fatalf("replay-dlq %v: %v", tc.args, err)
		}
		if !strings.Contains(out.String(), tc.want) {
			t.Errorf("replay-dlq %v printed %q, want %q", tc.args, out.String(), tc.want)
		}
	}
	if err := currency.ReplayDLQ(ctx, e.brokers, []string{"--since", "yesterday", "--topic", "x"}, io.Discard, nil); err == nil {
		t.Error("replay-dlq --since yesterday: want an error")
	}

	// An older version arriving late does not win.
	if err := e.w.Publish(ctx, update(t, "USD", "1000", 1), update(t, "USD", "1403", 3)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		_, _, body := get(t, e.base+"/api/v1/currencies/USD")
		return rateOf(t, body).Version == 3
	}, "USD at version 3")
}

func waitFor(t *testing.T, ok func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if ok() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal(fmt.Sprintf("timed out waiting for %s", what))
}

// readDLQ reads the one record of a dead-letter topic with franz-go and
// returns its key, value and headers by name.
func readDLQ(t *testing.T, brokers []string, topic string) map[string]string {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("no record in %s", topic)
		}
		if recs := fs.Records(); len(recs) > 0 {
			if len(recs) != 1 {
				t.Errorf("%s holds %d records, want 1", topic, len(recs))
			}
			out := map[string]string{"key": string(recs[0].Key), "value": string(recs[0].Value)}
			for _, h := range recs[0].Headers {
				out[h.Key] = string(h.Value)
			}
			return out
		}
	}
}

// TestRollingUpgrade produces into one partition of exchange_rate_updated,
// as during a rolling upgrade, a version 1 update (an ingestor not yet
// upgraded: no cash fields) and a version 2 update with cash rates: the
// service applies both, each with what it carries.
func TestRollingUpgrade(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	kcl, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer kcl.Close()
	v1 := fmt.Sprintf(`{"event_id":"6f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a41","event_type":"exchange_rate_updated","schema_version":1,`+
		`"correlation_id":"old-run","currency_code":"JPY","currency_name":"일본 옌","deal_base_rate":"9.3012","tts":null,"ttb":null,`+
		`"source":"koreaexim","recorded_at":%q,"updated_at":%q,"version":2}`, at.Add(time.Minute).Format(time.RFC3339), at.Format(time.RFC3339))
	cb, cs := decimal.RequireFromString("1425.57"), decimal.RequireFromString("1371.23")
	ev := &event.ExchangeRateUpdated{Rate: event.Rate{CurrencyCode: "USD", CurrencyName: "미국 달러", DealBaseRate: decimal.RequireFromString("1398.4"),
		CashBuy: &cb, CashSell: &cs, Source: "hana", RecordedAt: at.Add(time.Minute), UpdatedAt: at, Version: 2}}
	event.Stamp(ev, "new-run")
	m2, err := event.Encode(ev, "test")
	if err != nil {
		t.Fatal(err)
	}
	recs := []*kgo.Record{
		{Topic: event.TopicExchangeRateUpdated, Partition: 0, Key: []byte("JPY"), Value: []byte(v1)},
		{Topic: event.TopicExchangeRateUpdated, Partition: 0, Key: m2.Key, Value: m2.Value},
	}
	if err := kcl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if recs[0].Partition != recs[1].Partition {
		t.Fatalf("records in partitions %d and %d, want one", recs[0].Partition, recs[1].Partition)
	}
	waitFor(t, func() bool {
		_, _, body := get(t, e.base+"/api/v1/currencies/JPY")
		r := rateOf(t, body)
		return r.Version == 2 && r.DealBaseRate.Equal(decimal.RequireFromString("9.3012")) && r.CashBuy == nil
	}, "JPY at version 2 from the schema_version 1 event")
	waitFor(t, func() bool {
		_, _, body := get(t, e.base+"/api/v1/currencies/USD")
		r := rateOf(t, body)
		return r.Version == 2 && r.CashBuy != nil && r.CashBuy.Equal(cb) && r.CashSell != nil && r.CashSell.Equal(cs)
	}, "USD at version 2 with the cash rates of the schema_version 2 event")
}
