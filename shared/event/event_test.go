package event_test

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/ratewire/ratewire/shared/event"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var (
	at   = time.Date(2026, 11, 22, 2, 0, 0, 0, time.UTC)
	tts  = decimal.RequireFromString("1412.35")
	ttb  = decimal.RequireFromString("1384.45")
	cbuy = decimal.RequireFromString("1422.87")
	csel = decimal.RequireFromString("1373.93")
	meta = func(id string) event.Meta {
		return event.Meta{EventID: id}
	}
)

// samples are one event of each type with fixed ids, the wire contract.
func samples() map[string]event.Event {
	return map[string]event.Event{
		"new_data_received": &event.NewDataReceived{Meta: meta("7d3c1b0e-5f4a-4b2c-9a51-2f0c2d6a9e01"),
			Source: "koreaexim", DataCount: 23, CollectionTime: at, ProcessingTimeMS: 41},
		"exchange_rate_updated": &event.ExchangeRateUpdated{Meta: meta("7d3c1b0e-5f4a-4b2c-9a51-2f0c2d6a9e02"),
			Rate: event.Rate{CurrencyCode: "USD", CurrencyName: "미국 달러", DealBaseRate: decimal.RequireFromString("1398.40"),
				TTS: &tts, TTB: &ttb, Source: "koreaexim", RecordedAt: at, RateDate: "2026-11-22", UpdatedAt: at.Add(time.Second),
				FetchedAt: ptrTime(at.Add(time.Second / 2)), NextUpdateAt: ptrTime(at.Add(24 * time.Hour)), Version: 42}},
		"exchange_rate_updated_cash": &event.ExchangeRateUpdated{Meta: meta("7d3c1b0e-5f4a-4b2c-9a51-2f0c2d6a9e06"),
			Rate: event.Rate{CurrencyCode: "USD", CurrencyName: "미국 달러", DealBaseRate: decimal.RequireFromString("1398.40"),
				TTS: &tts, TTB: &ttb, CashBuy: &cbuy, CashSell: &csel, Source: "hana", RecordedAt: at, RateDate: "2026-11-22",
				UpdatedAt: at.Add(time.Second), FetchedAt: ptrTime(at.Add(time.Second / 2)), Version: 43}},
		"exchange_rate_updated_no_spread": &event.ExchangeRateUpdated{Meta: meta("7d3c1b0e-5f4a-4b2c-9a51-2f0c2d6a9e05"),
			Rate: event.Rate{CurrencyCode: "JPY", CurrencyName: "일본 엔", DealBaseRate: decimal.RequireFromString("9.0123456789"),
				Source: "frankfurter", RecordedAt: at, UpdatedAt: at, Version: 1}},
		"data_processing_completed": &event.DataProcessingCompleted{Meta: meta("7d3c1b0e-5f4a-4b2c-9a51-2f0c2d6a9e03"),
			Source: "koreaexim", TotalProcessed: 23, ProcessingTimeMS: 57, CompletedAt: at.Add(2 * time.Second)},
		"cache_invalidation": &event.CacheInvalidation{Meta: meta("7d3c1b0e-5f4a-4b2c-9a51-2f0c2d6a9e04"),
			CacheKeys: []string{"exchange_rate:USD", "exchange_rate:JPY"}, InvalidationType: "exchange_rate", InvalidatedAt: at},
	}
}

func TestGoldenJSON(t *testing.T) {
	for name, ev := range samples() {
		t.Run(name, func(t *testing.T) {
			event.Stamp(ev, "run-0001")
			msg, err := event.Encode(ev, "ingestor")
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			golden := filepath.Join("testdata", name+".golden.json")
			var pretty bytes.Buffer
			if err := jsonIndent(&pretty, msg.Value); err != nil {
				t.Fatal(err)
			}
			if *update {
				if err := os.WriteFile(golden, pretty.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("read golden (run with -update to create): %v", err)
			}
			if !bytes.Equal(pretty.Bytes(), want) {
				t.Errorf("payload differs from %s:\n got: %s\nwant: %s", golden, pretty.Bytes(), want)
			}

			back, err := event.Decode(msg.Topic, want)
			if err != nil {
				t.Fatalf("Decode(golden): %v", err)
			}
			if !reflect.DeepEqual(normalise(back), normalise(ev)) {
				t.Errorf("round trip changed the event:\n got %+v\nwant %+v", back, ev)
			}
		})
	}
}

// normalise makes decimals comparable with DeepEqual.
func normalise(ev event.Event) event.Event {
	if u, ok := ev.(*event.ExchangeRateUpdated); ok {
		c := *u
		c.DealBaseRate = decimal.RequireFromString(c.DealBaseRate.String())
		return &c
	}
	return ev
}

func TestEncodeHeadersAndKeys(t *testing.T) {
	wantKey := map[string]string{
		event.TopicNewDataReceived: "koreaexim", event.TopicExchangeRateUpdated: "USD",
		event.TopicDataProcessingCompleted: "koreaexim", event.TopicCacheInvalidation: "exchange_rate",
	}
	ev := samples()["exchange_rate_updated"]
	for _, ev := range []event.Event{ev, samples()["new_data_received"], samples()["data_processing_completed"], samples()["cache_invalidation"]} {
		event.Stamp(ev, "corr-1")
		msg, err := event.Encode(ev, "ingestor")
		if err != nil {
			t.Fatal(err)
		}
		if want := wantKey[msg.Topic]; string(msg.Key) != want {
			t.Errorf("%s key = %q, want %q", msg.Topic, msg.Key, want)
		}
		m := event.MetaOf(ev)
		for k, want := range map[string]string{
			"event_id": m.EventID, "event_type": msg.Topic, "schema_version": "2",
			"correlation_id": "corr-1", "producer": "ingestor", "content-type": "application/json",
		} {
			if got := event.Header(msg, k); got != want {
				t.Errorf("%s header %s = %q, want %q", msg.Topic, k, got, want)
			}
		}
	}
}

func TestEncodeRefusesUnstampedOrInvalid(t *testing.T) {
	if _, err := event.Encode(&event.NewDataReceived{Source: "x", CollectionTime: at}, "p"); err == nil {
		t.Error("Encode accepted an unstamped event")
	}
	bad := &event.ExchangeRateUpdated{Rate: event.Rate{CurrencyCode: "usd", DealBaseRate: decimal.NewFromInt(1), Source: "s", RecordedAt: at, Version: 1}}
	event.Stamp(bad, "c")
	if _, err := event.Encode(bad, "p"); err == nil {
		t.Error("Encode accepted a lower-case currency code")
	}
}

func TestDecodeRejects(t *testing.T) {
	valid, err := os.ReadFile("testdata/exchange_rate_updated.golden.json")
	if err != nil {
		t.Fatal(err)
	}
	cash, err := os.ReadFile("testdata/exchange_rate_updated_cash.golden.json")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, topic, value, want string
	}{
		{"not json", event.TopicExchangeRateUpdated, "{oops", "payload"},
		{"truncated", event.TopicExchangeRateUpdated, string(valid[:len(valid)/2]), "payload"},
		{"trailing data", event.TopicExchangeRateUpdated, string(valid) + "{}", "trailing"},
		{"unknown topic", "elsewhere", string(valid), "unknown topic"},
		{"wrong type for topic", event.TopicNewDataReceived, string(valid), "event_type"},
		{"future schema", event.TopicExchangeRateUpdated, strings.Replace(string(valid), `"schema_version": 2`, `"schema_version": 9`, 1), "schema_version"},
		{"schema zero", event.TopicExchangeRateUpdated, strings.Replace(string(valid), `"schema_version": 2`, `"schema_version": 0`, 1), "schema_version"},
		{"negative cash", event.TopicExchangeRateUpdated, strings.Replace(string(cash), `"1422.87"`, `"-1"`, 1), "cash_buy"},
		{"cash in schema 1", event.TopicExchangeRateUpdated, strings.Replace(string(cash), `"schema_version": 2`, `"schema_version": 1`, 1), "schema_version 2"},
		{"negative rate", event.TopicExchangeRateUpdated, strings.Replace(string(valid), `"1398.4"`, `"-1"`, 1), "not positive"},
		{"rate as float text", event.TopicExchangeRateUpdated, strings.Replace(string(valid), `"1398.4"`, `"abc"`, 1), "payload"},
		{"bad event id", event.TopicExchangeRateUpdated, strings.Replace(string(valid), `7d3c1b0e-5f4a`, `zz`, 1), "event_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := event.Decode(tt.topic, []byte(tt.value))
			if !errors.Is(err, event.ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Decode error = %v, want ErrInvalid mentioning %q", err, tt.want)
			}
		})
	}
}

func TestTopics(t *testing.T) {
	want := map[string]int32{"new_data_received": 1, "exchange_rate_updated": 3, "data_processing_completed": 1, "cache_invalidation": 1}
	if len(event.Topics) != len(want) {
		t.Fatalf("%d topics, want %d", len(event.Topics), len(want))
	}
	for _, tp := range event.Topics {
		if want[tp.Name] != tp.Partitions {
			t.Errorf("%s has %d partitions, want %d", tp.Name, tp.Partitions, want[tp.Name])
		}
	}
}

// FuzzDecode feeds arbitrary payloads to Decode: it must never panic, and
// whatever it accepts must encode again.
func FuzzDecode(f *testing.F) {
	for _, name := range []string{"exchange_rate_updated", "new_data_received", "data_processing_completed", "cache_invalidation"} {
		b, err := os.ReadFile(filepath.Join("testdata", name+".golden.json"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(name, b)
	}
	for _, file := range []string{"exchange_rate_updated_v1.json", "exchange_rate_updated_cash.golden.json"} { // both schema versions
		b, err := os.ReadFile(filepath.Join("testdata", file))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(event.TopicExchangeRateUpdated, b)
	}
	f.Add("exchange_rate_updated", []byte(`{"deal_base_rate": 1e400}`))
	f.Add("cache_invalidation", []byte(`null`))
	f.Fuzz(func(t *testing.T, topic string, value []byte) {
		ev, err := event.Decode(topic, value)
		if err != nil {
			if !errors.Is(err, event.ErrInvalid) {
				t.Fatalf("Decode error %v does not wrap ErrInvalid", err)
			}
			return
		}
		if m := event.MetaOf(ev); m.SchemaVersion != event.SchemaVersion {
			event.Stamp(ev, m.CorrelationID) // an older version is re-encoded as the current one
		}
		if _, err := event.Encode(ev, "fuzz"); err != nil {
			t.Fatalf("decoded event does not encode: %v", err)
		}
	})
}

// TestQuotedAs checks that exchange_rate_updated carries quoted_as through
// encoding and decoding, omits it when empty, and refuses one that names
// no other currency.
func TestQuotedAs(t *testing.T) {
	at := time.Date(2026, 11, 25, 2, 0, 0, 0, time.UTC)
	ev := &event.ExchangeRateUpdated{Rate: event.Rate{CurrencyCode: "CNY", CurrencyName: "중국 위안", DealBaseRate: decimal.RequireFromString("192.5"),
		Source: "koreaexim", RecordedAt: at, UpdatedAt: at, Version: 1, QuotedAs: "CNH"}}
	event.Stamp(ev, "run")
	m, err := event.Encode(ev, "test")
	if err != nil {
		t.Fatal(err)
	}
	got, err := event.Decode(m.Topic, m.Value)
	if err != nil || got.(*event.ExchangeRateUpdated).QuotedAs != "CNH" {
		t.Fatalf("decoded %+v (%v), want quoted_as CNH", got, err)
	}
	ev.QuotedAs = ""
	if m, err = event.Encode(ev, "test"); err != nil || strings.Contains(string(m.Value), "quoted_as") {
		t.Errorf("an empty quoted_as was encoded: %s (%v)", m.Value, err)
	}
	for _, bad := range []string{"CNY", "cnh", "YUAN"} {
		ev.QuotedAs = bad
		if _, err := event.Encode(ev, "test"); err == nil {
			t.Errorf("quoted_as %q was accepted for CNY", bad)
		}
	}
}

func ptrTime(t time.Time) *time.Time { return &t }

// TestDecodeSchemaVersion1 checks the rolling-upgrade contract: a payload
// written by a version 1 producer (no cash fields at all) still decodes,
// with null cash rates, beside version 2 payloads.
func TestDecodeSchemaVersion1(t *testing.T) {
	v1, err := os.ReadFile("testdata/exchange_rate_updated_v1.json")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(v1, []byte("cash_")) || !bytes.Contains(v1, []byte(`"schema_version": 1`)) {
		t.Fatal("testdata/exchange_rate_updated_v1.json must stay a version 1 payload")
	}
	ev, err := event.Decode(event.TopicExchangeRateUpdated, v1)
	if err != nil {
		t.Fatalf("Decode(v1) = %v, want it accepted", err)
	}
	u := ev.(*event.ExchangeRateUpdated)
	if u.SchemaVersion != 1 || u.CashBuy != nil || u.CashSell != nil || u.TTS == nil || !u.TTS.Equal(tts) {
		t.Errorf("v1 decoded as %+v, want schema 1, tts %s and null cash", u, tts)
	}
	v2, err := os.ReadFile("testdata/exchange_rate_updated_cash.golden.json")
	if err != nil {
		t.Fatal(err)
	}
	ev, err = event.Decode(event.TopicExchangeRateUpdated, v2)
	if err != nil {
		t.Fatalf("Decode(v2) = %v", err)
	}
	u = ev.(*event.ExchangeRateUpdated)
	if u.SchemaVersion != 2 || u.CashBuy == nil || !u.CashBuy.Equal(cbuy) || u.CashSell == nil || !u.CashSell.Equal(csel) {
		t.Errorf("v2 decoded as %+v, want cash_buy %s and cash_sell %s", u, cbuy, csel)
	}
}
