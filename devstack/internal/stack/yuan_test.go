package stack_test

import (
	"encoding/json"
	"net/url"
	"testing"
	"time"

	"github.com/ratewire/ratewire/devstack/internal/stack"
	"github.com/ratewire/ratewire/shared/kst"
)

// wantYuan checks, on a running stack whose source quotes the yuan as CNH
// only, that CNY answers in every currency, history and conversion
// endpoint too, from the CNH quote and saying so, and that CNH keeps its
// own answers. compare lists the targets a history comparison asks for.
func wantYuan(t *testing.T, a stack.Addrs, source, compare string) {
	t.Helper()
	type rate struct {
		Code     string `json:"currency_code"`
		Mid      string `json:"deal_base_rate"`
		Source   string `json:"source"`
		QuotedAs string `json:"quoted_as"`
	}
	var cny, cnh rate
	for code, r := range map[string]*rate{"CNY": &cny, "CNH": &cnh} {
		status, data := get(t, a.Gateway+"/api/v1/currencies/"+code)
		if status != 200 || json.Unmarshal(data, r) != nil {
			t.Fatalf("GET /api/v1/currencies/%s = %d %s, want 200", code, status, data)
		}
	}
	if cny.QuotedAs != "CNH" || cny.Source != source || cny.Mid != cnh.Mid || cnh.QuotedAs != "" {
		t.Errorf("CNY %+v and CNH %+v: want CNY served from %s's CNH quote, saying so, and CNH as quoted", cny, cnh, source)
	}

	status, data := get(t, a.Gateway+"/api/v1/currencies/convert?from=CNY&to=KRW&amount=100")
	var conv struct {
		Legs []struct {
			Currency string `json:"currency_code"`
			QuotedAs string `json:"quoted_as"`
		} `json:"legs"`
		Source string `json:"source"`
	}
	if status != 200 || json.Unmarshal(data, &conv) != nil || len(conv.Legs) != 1 || conv.Legs[0].QuotedAs != "CNH" || conv.Source != source {
		t.Errorf("convert CNY to KRW = %d %s, want 200 with one leg quoted as CNH", status, data)
	}

	status, data = get(t, a.Gateway+"/api/v1/currencies/search?country="+url.QueryEscape("중국"))
	var found struct {
		Currency string `json:"currency_code"`
		Rate     *rate  `json:"rate"`
	}
	if status != 200 || json.Unmarshal(data, &found) != nil || found.Currency != "CNY" || found.Rate == nil || found.Rate.QuotedAs != "CNH" {
		t.Errorf("search 중국 = %d %s, want CNY with its rate quoted as CNH", status, data)
	}

	status, data = get(t, a.Gateway+"/api/v1/currencies/latest?symbols=CNY,CNH")
	var table struct {
		Rates    map[string]string `json:"rates"`
		QuotedAs map[string]string `json:"quoted_as"`
	}
	if status != 200 || json.Unmarshal(data, &table) != nil || len(table.Rates) != 2 || table.QuotedAs["CNY"] != "CNH" || len(table.QuotedAs) != 1 {
		t.Errorf("latest CNY,CNH = %d %s, want both with CNY quoted as CNH", status, data)
	}

	for _, path := range []string{
		"/api/v1/history/compare?targets=" + compare,
		"/api/v1/history?target=CNY&period=1w",
		"/api/v1/history/stats?target=CNY&period=1w",
		"/api/v1/history/analysis?target=CNY&period=1w",
	} {
		status, data := get(t, a.Gateway+path)
		var ans struct {
			QuotedAs map[string]string `json:"quoted_as"`
		}
		if status != 200 || json.Unmarshal(data, &ans) != nil || ans.QuotedAs["CNY"] != "CNH" {
			t.Errorf("GET %s = %d %.300s, want 200 saying CNY was quoted as CNH", path, status, data)
		}
	}
	if status, data := get(t, a.Gateway+"/api/v1/history?target=CNH&period=1w"); status != 200 {
		t.Errorf("history of CNH = %d %.300s, want 200", status, data)
	}
}

// TestYuanWithTheSimulator is the newcomer's compare of the five travel
// currencies with the yuan asked as CNY, on the default provider.
func TestYuanWithTheSimulator(t *testing.T) {
	c := plainConfig(t)
	c.BackfillDays = 14
	a, backfilled := runStack(t, c)
	waitBackfill(t, backfilled)
	// The backfill's invalidation reaches the caches shortly after it.
	waitFor(t, 10*time.Second, "CNY history of the backfilled week", func() bool {
		status, _ := get(t, a.History+"/api/v1/history/compare?targets=USD,JPY,EUR,GBP,CNY")
		return status == 200
	})
	wantYuan(t, a, "simulated", "USD,JPY,EUR,GBP,CNY")
}

// TestYuanWithKoreaExim is the same with Korea Eximbank, whose 위안화 row
// is CNH.
func TestYuanWithKoreaExim(t *testing.T) {
	s := startEximStack(t, time.Date(2026, 11, 25, 14, 5, 0, 0, kst.Zone), nil)
	waitFor(t, 10*time.Second, "CNY history of the backfilled days", func() bool {
		status, _ := get(t, s.addrs.History+"/api/v1/history/compare?targets=USD,JPY,EUR,CNY")
		return status == 200
	})
	wantYuan(t, s.addrs, "koreaexim", "USD,JPY,EUR,CNY")
}
