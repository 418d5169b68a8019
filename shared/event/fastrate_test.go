package event

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// The fast path reads exactly what the general decoder reads: whenever it
// accepts a payload, the general decoder accepts it too and yields the same
// event. Seeds cover what it must hand over (escapes, unknown keys, other
// spellings of keys, floats, nested values, trailing data, invalid UTF-8).
func FuzzDecodeRateFast(f *testing.F) {
	for _, name := range []string{"exchange_rate_updated", "exchange_rate_updated_no_spread"} {
		b, err := os.ReadFile(filepath.Join("testdata", name+".golden.json"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		`{}`, ` { } `, `{"version": 1}`, `{"version": -0}`, `{"version": 01}`, `{"version": 1.0}`, `{"version": 1e3}`,
		`{"version": 9223372036854775808}`, `{"schema_version": 1, "schema_version": 2}`,
		`{"tts": null}`, `{"tts": "1.5", "tts": null}`, `{"tts": nul}`, `{"ttb": "x"}`, `{"deal_base_rate": 1.5}`,
		`{"currency_code": "U\u0053D"}`, `{"Currency_Code": "USD"}`, `{"currency_name": "\xff"}`,
		`{"currency_name": "미국 달러"}`, `{"extra": {"a": [1]}}`, `{"source": null}`, `{"recorded_at": "2026-11-22T02:00:00Z"}`,
		`{"recorded_at": "2026-11-22T02:00:00"}`, `{"event_id": "a"} x`, `{"event_id": "a",}`, "{\"source\": \"a\tb\"}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var fast ExchangeRateUpdated
		if !decodeRateFast(b, &fast) {
			return
		}
		var general ExchangeRateUpdated
		if err := decodeJSON(TopicExchangeRateUpdated, b, &general); err != nil {
			t.Fatalf("fast path accepted %q, general decoder refused it: %v", b, err)
		}
		if !reflect.DeepEqual(fast, general) {
			t.Fatalf("decoding %q: fast path %+v, general decoder %+v", b, fast, general)
		}
	})
}

// The golden payloads, as Encode writes them, take the fast path.
func TestDecodeRateFastTakesEncodedPayloads(t *testing.T) {
	for _, name := range []string{"exchange_rate_updated", "exchange_rate_updated_no_spread"} {
		b, err := os.ReadFile(filepath.Join("testdata", name+".golden.json"))
		if err != nil {
			t.Fatal(err)
		}
		var e ExchangeRateUpdated
		if !decodeRateFast(b, &e) {
			t.Errorf("%s: the fast path refused the encoder's own output", name)
		}
	}
}
