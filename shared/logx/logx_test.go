package logx_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/ratewire/ratewire/shared/logx"
)

func TestNewJSONCarriesServiceAndLevel(t *testing.T) {
	var buf bytes.Buffer
	l := logx.New(&buf, "warn", "json", "currency")
	l.Info("dropped")
	l.Warn("kept", "currency_code", "USD")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("got %d lines, want 1 (info must be filtered at warn): %q", len(lines), buf.String())
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
		t.Fatalf("line is not JSON: %v", err)
	}
	if rec["service"] != "currency" || rec["msg"] != "kept" || rec["currency_code"] != "USD" {
		t.Errorf("record = %v, want service=currency msg=kept currency_code=USD", rec)
	}
}

func TestNewText(t *testing.T) {
	var buf bytes.Buffer
	logx.New(&buf, "debug", "text", "ranking").Debug("hello")
	if got := buf.String(); !strings.Contains(got, "service=ranking") || !strings.Contains(got, "msg=hello") {
		t.Errorf("text line = %q, want service=ranking and msg=hello", got)
	}
}
