package promtext_test

import (
	"strings"
	"testing"

	"github.com/ratewire/ratewire/web/internal/promtext"
)

const sample = `# HELP ratewire_consumer_lag_messages Messages behind.
# TYPE ratewire_consumer_lag_messages gauge
ratewire_consumer_lag_messages{group="currency-service",partition="1",topic="exchange_rate_updated"} 4
ratewire_consumer_lag_messages{group="currency-service",partition="0",topic="exchange_rate_updated"} 0
# TYPE ratewire_consumer_messages_total counter
ratewire_consumer_messages_total{group="history-service",outcome="dlq",topic="new_data_received"} 2
ratewire_consumer_messages_total{group="history-service",outcome="ok",topic="new_data_received"} 40
# TYPE ratewire_outbox_pending_messages gauge
ratewire_outbox_pending_messages 3
# TYPE ratewire_http_request_duration_seconds histogram
ratewire_http_request_duration_seconds_bucket{le="+Inf"} 1
ratewire_http_request_duration_seconds_sum 0.1
ratewire_http_request_duration_seconds_count 1
`

func TestParse(t *testing.T) {
	m, err := promtext.Parse([]byte(sample), "ratewire_consumer_lag_messages", "ratewire_consumer_messages_total", "ratewire_outbox_pending_messages", "ratewire_http_request_duration_seconds")
	if err != nil {
		t.Fatal(err)
	}
	lag := m["ratewire_consumer_lag_messages"]
	if len(lag) != 2 || lag[0].Label("partition") != "0" || lag[1].Value != 4 {
		t.Errorf("lag series = %+v, want partitions 0 then 1 (4 behind)", lag)
	}
	if dlq := m.Where("ratewire_consumer_messages_total", map[string]string{"outcome": "dlq"}); len(dlq) != 1 || dlq[0].Value != 2 || dlq[0].Label("topic") != "new_data_received" {
		t.Errorf("dlq series = %+v, want one of 2 on new_data_received", dlq)
	}
	if v, ok := m.Value("ratewire_outbox_pending_messages"); !ok || v != 3 {
		t.Errorf("outbox pending = %v %v, want 3", v, ok)
	}
	if h := m["ratewire_http_request_duration_seconds"]; len(h) != 0 {
		t.Errorf("histogram kept as %+v, want skipped", h)
	}
	if _, ok := m["ratewire_build_info"]; ok {
		t.Error("a family not asked for was kept")
	}
}

func TestParseRefuses(t *testing.T) {
	for name, in := range map[string]string{
		"garbage":   "not metrics {",
		"too large": strings.Repeat("a 1\n", promtext.MaxInput/4+1),
		"bad value": "x{a=\"b\"} notanumber\n",
	} {
		if _, err := promtext.Parse([]byte(in)); err == nil {
			t.Errorf("%s: parsed, want an error", name)
		}
	}
}

// FuzzParse: no input panics, and whatever parses has labelled samples of
// the families asked for only.
func FuzzParse(f *testing.F) {
	f.Add([]byte(sample))
	f.Add([]byte("# TYPE x gauge\nx 1\n"))
	f.Add([]byte("x{a=\"\\\"\"} 1e308\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := promtext.Parse(b, "x", "ratewire_consumer_lag_messages")
		if err != nil {
			return
		}
		for name := range m {
			if name != "x" && name != "ratewire_consumer_lag_messages" {
				t.Fatalf("family %q kept, not asked for", name)
			}
		}
	})
}
