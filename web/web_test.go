package web_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ratewire/ratewire/web"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadConfig(t *testing.T) {
	c, err := web.LoadConfig(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTPAddr != ":8005" || c.APIURL != "http://127.0.0.1:8000" || c.APITimeout != 3*time.Second {
		t.Errorf("defaults = %+v", c)
	}
	if ep := c.Endpoints(); ep.Currency != c.APIURL || ep.Ingestor != c.APIURL {
		t.Errorf("endpoints without overrides = %+v, want the API URL", ep)
	}
	c, err = web.LoadConfig(env(map[string]string{
		"RATEWIRE_API_URL": "http://gateway:8000", "RATEWIRE_CURRENCY_URL": "http://currency:8001",
		"RATEWIRE_API_TIMEOUT": "5s", "RATEWIRE_KAFKA_UI_URL": "http://localhost:8081",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if ep := c.Endpoints(); ep.Currency != "http://currency:8001" || ep.History != "http://gateway:8000" || c.APITimeout != 5*time.Second || c.KafkaUIURL != "http://localhost:8081" {
		t.Errorf("overrides = %+v %+v", c, ep)
	}
	_, err = web.LoadConfig(env(map[string]string{"RATEWIRE_API_URL": "gateway:8000", "RATEWIRE_HISTORY_URL": "ftp://x", "RATEWIRE_API_TIMEOUT": "forever", "RATEWIRE_LOG_LEVEL": "loud"}))
	if err == nil {
		t.Fatal("bad settings accepted")
	}
	for _, want := range []string{"RATEWIRE_API_URL", "RATEWIRE_HISTORY_URL", "RATEWIRE_API_TIMEOUT", "RATEWIRE_LOG_LEVEL"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}

// TestRun: the app serves its pages and health on the listener given and
// stops when the context ends, with every service unreachable (pages say
// so; the app itself runs).
func TestRun(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead, _ := net.Listen("tcp", "127.0.0.1:0")
	deadURL := "http://" + dead.Addr().String()
	dead.Close()
	cfg, err := web.LoadConfig(env(map[string]string{"RATEWIRE_API_URL": deadURL, "RATEWIRE_API_TIMEOUT": "1s"}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- web.Run(ctx, cfg, web.Options{Listener: ln}) }()
	base := "http://" + ln.Addr().String()
	for path, want := range map[string]int{"/healthz": 200, "/": 503, "/static/app.css": 200, "/metrics": 200} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s = %d, want %d", path, resp.StatusCode, want)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return")
	}
}
