package stack_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ratewire/ratewire/devstack/internal/stack"
	"github.com/ratewire/ratewire/shared/event"
)

// fakeExim answers as Korea Eximbank's AP01 endpoint does: strings with
// thousands separators, JPY(100), a KRW row, a row without spread, and
// result codes other than 1 delivered with HTTP 200.
type fakeExim struct {
	mu     sync.Mutex
	usd    string
	result int
	calls  int
}

func (f *fakeExim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if r.URL.Path != "/site/program/financial/exchangeJSON" || r.URL.Query().Get("authkey") != "exim-key" || r.URL.Query().Get("data") != "AP01" {
		http.Error(w, "unexpected request", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "text/html;charset=UTF-8") // as the real site labels its JSON
	if f.result != 1 {
		fmt.Fprintf(w, `[{"result":%d,"cur_unit":null,"ttb":null,"tts":null,"deal_bas_r":null,"bkpr":null,"yy_efee_r":null,"ten_dd_efee_r":null,"kftc_bkpr":null,"kftc_deal_bas_r":null,"cur_nm":null}]`, f.result)
		return
	}
	row := func(unit, ttb, tts, deal, name string) string {
		return fmt.Sprintf(`{"result":1,"cur_unit":%q,"ttb":%q,"tts":%q,"deal_bas_r":%q,"bkpr":"0","yy_efee_r":"0","ten_dd_efee_r":"0","kftc_bkpr":"0","kftc_deal_bas_r":%q,"cur_nm":%q}`,
			unit, ttb, tts, deal, deal, name)
	}
	fmt.Fprint(w, "["+strings.Join([]string{
		row("BND", "", "", "1,054.3", "브루나이 달러"),
		row("JPY(100)", "903.22", "921.46", "912.34", "일본 옌"),
		row("KRW", "0", "0", "1", "한국 원"),
		row("USD", "1,384.42", "1,412.38", f.usd, "미국 달러"),
	}, ",")+"]")
}

// TestKoreaEximThroughTheStack is the ingestor's acceptance path: rates
// from a server answering as Korea Eximbank does reach the currency API as
// exact per-unit KRW rates with the real spread, each changed currency
// publishes one keyed update with the contract headers, and a provider
// error changes nothing and shows in the run history.
func TestKoreaEximThroughTheStack(t *testing.T) {
	exim := &fakeExim{usd: "1,398.4", result: 1}
	srv := httptest.NewServer(exim)
	defer srv.Close()
	env := map[string]string{
		"RATEWIRE_PROVIDERS": "koreaexim", "RATEWIRE_KOREAEXIM_API_URL": srv.URL,
		"RATEWIRE_KOREAEXIM_API_KEY": "exim-key", "RATEWIRE_ADMIN_TOKEN": "tok",
	}
	c := stack.Config{DataDir: t.TempDir(), Host: "127.0.0.1", Getenv: func(k string) string { return env[k] },
		Out: &syncBuffer{}, Log: &syncBuffer{}}
	ready := make(chan stack.Addrs, 1)
	c.Ready = func(a stack.Addrs) { ready <- a }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- stack.Run(ctx, c) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("stack: %v", err)
		}
	}()
	var a stack.Addrs
	select {
	case a = <-ready:
	case err := <-done:
		t.Fatalf("stack stopped: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("stack not ready")
	}

	type rateBody struct {
		DealBaseRate decimal.Decimal  `json:"deal_base_rate"`
		TTS          *decimal.Decimal `json:"tts"`
		TTB          *decimal.Decimal `json:"ttb"`
		DisplayUnit  int              `json:"display_unit"`
		Source       string           `json:"source"`
		Version      int64            `json:"version"`
	}
	rateOf := func(code string) (rateBody, int) {
		status, data := get(t, a.Currency+"/api/v1/currencies/"+code)
		var r rateBody
		_ = json.Unmarshal(data, &r)
		return r, status
	}
	waitFor(t, 20*time.Second, "USD from koreaexim", func() bool { r, s := rateOf("USD"); return s == 200 && r.Version == 1 })
	dec := decimal.RequireFromString
	usd, _ := rateOf("USD")
	if !usd.DealBaseRate.Equal(dec("1398.4")) || usd.TTS == nil || !usd.TTS.Equal(dec("1412.38")) || !usd.TTB.Equal(dec("1384.42")) || usd.Source != "koreaexim" {
		t.Errorf("USD = %+v, want 1398.4 with tts 1412.38 and ttb 1384.42 from koreaexim", usd)
	}
	jpy, _ := rateOf("JPY")
	if !jpy.DealBaseRate.Equal(dec("9.1234")) || !jpy.TTS.Equal(dec("9.2146")) || !jpy.TTB.Equal(dec("9.0322")) || jpy.DisplayUnit != 100 {
		t.Errorf("JPY = %+v, want 9.1234 per yen (912.34 per 100) with its spread, display unit 100", jpy)
	}
	if bnd, _ := rateOf("BND"); !bnd.DealBaseRate.Equal(dec("1054.3")) || bnd.TTS != nil || bnd.TTB != nil {
		t.Errorf("BND = %+v, want 1054.3 and no invented spread", bnd)
	}
	if _, status := rateOf("KRW"); status != 404 {
		t.Errorf("KRW row stored as a rate (status %d)", status)
	}

	// A provider error (result 3, an auth failure, with HTTP 200) changes
	// nothing and is visible in the run history.
	exim.mu.Lock()
	exim.result = 3
	exim.mu.Unlock()
	admin := func() {
		req, _ := http.NewRequest(http.MethodPost, a.Ingestor+"/api/v1/ingest/run", nil)
		req.Header.Set("Authorization", "Bearer tok")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	admin()
	status, data := get(t, a.Ingestor+"/api/v1/ingest/runs?limit=1")
	var runs struct {
		Runs []struct {
			Status, Error string
			Provider      string
		}
	}
	if status != 200 || json.Unmarshal(data, &runs) != nil || len(runs.Runs) != 1 || runs.Runs[0].Status != "failed" ||
		!strings.Contains(runs.Runs[0].Error, "koreaexim") || strings.Contains(runs.Runs[0].Error, "exim-key") {
		t.Errorf("last run = %s, want a failed koreaexim run whose error does not leak the key", data)
	}
	if r, _ := rateOf("USD"); r.Version != 1 || !r.DealBaseRate.Equal(dec("1398.4")) {
		t.Errorf("USD after a provider error = %+v, want it unchanged", r)
	}

	// USD moves: exactly one more update, keyed USD.
	exim.mu.Lock()
	exim.result, exim.usd = 1, "1,401.1"
	exim.mu.Unlock()
	admin()
	waitFor(t, 20*time.Second, "USD version 2", func() bool { r, _ := rateOf("USD"); return r.Version == 2 })

	cl, err := kgo.NewClient(kgo.SeedBrokers(a.Kafka...), kgo.ConsumeTopics(event.TopicExchangeRateUpdated),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	perKey := map[string]int{}
	deadline := time.Now().Add(15 * time.Second)
	for (perKey["USD"] < 2 || perKey["JPY"] < 1 || perKey["BND"] < 1) && time.Now().Before(deadline) {
		fctx, fcancel := context.WithTimeout(ctx, time.Second)
		cl.PollFetches(fctx).EachRecord(func(r *kgo.Record) {
			perKey[string(r.Key)]++
			hs := map[string]string{}
			for _, h := range r.Headers {
				hs[h.Key] = string(h.Value)
			}
			for _, k := range []string{"event_id", "event_type", "schema_version", "correlation_id", "producer", "content-type"} {
				if hs[k] == "" {
					t.Errorf("%s update lacks header %s", r.Key, k)
				}
			}
		})
		fcancel()
	}
	want := map[string]int{"BND": 1, "JPY": 1, "USD": 2}
	if fmt.Sprint(perKey) != fmt.Sprint(want) {
		t.Errorf("exchange_rate_updated per key = %v, want %v", perKey, want)
	}
}
