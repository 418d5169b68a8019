package stack_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/shopspring/decimal"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ratewire/ratewire/devstack/internal/stack"
	"github.com/ratewire/ratewire/ingestor/eximtest"
	"github.com/ratewire/ratewire/ingestor/hanatest"
	"github.com/ratewire/ratewire/shared/event"
	"github.com/ratewire/ratewire/shared/kst"
)

// cashRate is the part of GET /api/v1/currencies/{code} the Hana tests read.
type cashRate struct {
	DealBaseRate decimal.Decimal  `json:"deal_base_rate"`
	TTS          *decimal.Decimal `json:"tts"`
	TTB          *decimal.Decimal `json:"ttb"`
	CashBuy      *decimal.Decimal `json:"cash_buy"`
	CashSell     *decimal.Decimal `json:"cash_sell"`
	Source       string           `json:"source"`
	RecordedAt   time.Time        `json:"recorded_at"`
	Version      int64            `json:"version"`
}

// hanaRun is the part of a run record the Hana tests read.
type hanaRun struct {
	Status, Provider, Reason string
	Changed                  int
}

// updates reads every exchange_rate_updated published so far and returns
// them per currency, oldest first, with their schema_version header.
func updates(t *testing.T, ctx context.Context, brokers []string) map[string][]event.ExchangeRateUpdated {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(event.TopicExchangeRateUpdated),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	out := map[string][]event.ExchangeRateUpdated{}
	for quiet := false; !quiet; {
		fctx, cancel := context.WithTimeout(ctx, time.Second)
		fetches := cl.PollFetches(fctx)
		cancel()
		quiet = fetches.NumRecords() == 0 // read on until the topic has nothing more
		fetches.EachRecord(func(r *kgo.Record) {
			ev, err := event.Decode(r.Topic, r.Value)
			if err != nil {
				t.Errorf("undecodable update: %v", err)
				return
			}
			u := ev.(*event.ExchangeRateUpdated)
			if u.SchemaVersion != event.SchemaVersion {
				t.Errorf("%s update at schema_version %d, want %d", u.CurrencyCode, u.SchemaVersion, event.SchemaVersion)
			}
			out[u.CurrencyCode] = append(out[u.CurrencyCode], *u)
		})
	}
	return out
}

// TestHanaCashRates is the Hana Bank acceptance path through the whole
// stack, against a local server in the Dunamu format on the stack's fake
// clock: USD and JPY cash rates served exactly as quoted (JPY per yen =
// the per-100 price / 100), the traveller's conversion at 90 % in both
// directions, a repeated notice publishing nothing, a new notice one
// update per changed currency, a 429 changing nothing, and history
// keeping every notice of the day.
func TestHanaCashRates(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 15, 0, 0, kst.Zone) // Monday, banking hours
	clk := clockwork.NewFakeClockAt(now)
	bank := hanatest.New(clk.Now)
	srv := httptest.NewServer(bank)
	t.Cleanup(srv.Close)
	env := map[string]string{"RATEWIRE_PROVIDERS": "hana", "RATEWIRE_HANA_URL": srv.URL, "RATEWIRE_ADMIN_TOKEN": "tok"}
	c := stack.Config{DataDir: t.TempDir(), Host: "127.0.0.1", Getenv: func(k string) string { return env[k] },
		Out: &syncBuffer{}, Log: &syncBuffer{}, Clock: clk}
	a, _ := runStack(t, c)

	rate := func(code string) cashRate {
		var r cashRate
		if status, data := get(t, a.Gateway+"/api/v1/currencies/"+code); status == 200 {
			_ = json.Unmarshal(data, &r)
		}
		return r
	}
	adminRun := func() hanaRun {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, a.Ingestor+"/api/v1/ingest/run", nil)
		req.Header.Set("Authorization", "Bearer tok")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct{ Data hanaRun }
		_ = json.NewDecoder(resp.Body).Decode(&body)
		return body.Data
	}
	wantQuoted := func(code string) cashRate {
		t.Helper()
		want := bank.Quote(code)
		var got cashRate
		waitFor(t, 20*time.Second, code+" as Hana quotes it", func() bool {
			got = rate(code)
			return got.DealBaseRate.Equal(want.DealBaseRate) && got.CashBuy != nil && got.CashBuy.Equal(want.CashBuy)
		})
		if got.Source != "hana" || !eqDec(got.CashSell, &want.CashSell) || !eqDec(got.TTS, &want.TTS) || !eqDec(got.TTB, &want.TTB) {
			t.Errorf("%s = %+v, want %+v from hana", code, got, want)
		}
		return got
	}

	usd := wantQuoted("USD")
	jpy := wantQuoted("JPY")
	// The bank quotes JPY per 100 yen: 912.34, cash 928.31 / 896.37.
	if !jpy.DealBaseRate.Equal(decimal.RequireFromString("9.1234")) || !jpy.CashBuy.Equal(decimal.RequireFromString("9.2831")) ||
		!jpy.CashSell.Equal(decimal.RequireFromString("8.9637")) {
		t.Errorf("JPY = mid %s cash %s/%s, want 9.1234, 9.2831/8.9637 (per-100 prices / 100)", jpy.DealBaseRate, jpy.CashBuy, jpy.CashSell)
	}
	// The README's worked example: mid 1338.00, cash buy 1361.42, cash sell 1314.59.
	if !usd.DealBaseRate.Equal(decimal.RequireFromString("1338")) || !usd.CashBuy.Equal(decimal.RequireFromString("1361.42")) ||
		!usd.CashSell.Equal(decimal.RequireFromString("1314.59")) {
		t.Fatalf("USD = mid %s cash %s/%s, want the worked example's 1338.00, 1361.42/1314.59", usd.DealBaseRate, usd.CashBuy, usd.CashSell)
	}

	// 1,000 dollars of banknotes sold to the bank at 90 %: cash_sell 1314.59
	// -> 1335.66, 1,335,660 won; 1,340,340 won buy 1,000 dollars at cash_buy
	// 1361.42 -> 1340.34.
	type conversion struct {
		Result decimal.Decimal `json:"result"`
		Legs   []struct {
			RateType string          `json:"rate_type"`
			Rate     decimal.Decimal `json:"rate"`
		} `json:"legs"`
		Breakdown struct {
			AmountAtMid        decimal.Decimal `json:"amount_at_mid"`
			Margin             decimal.Decimal `json:"margin"`
			MarginPreferential decimal.Decimal `json:"margin_preferential"`
		} `json:"breakdown"`
	}
	for _, tc := range []struct {
		query, leg, rate, result, atMid, margin, marginPref string
	}{
		{"from=USD&to=KRW&amount=1000", "cash_sell", "1335.66", "1335660", "1338000", "23410", "2340"},
		{"from=KRW&to=USD&amount=1340340", "cash_buy", "1340.34", "1000", "1001.75", "17.23", "1.75"},
	} {
		status, data := get(t, a.Gateway+"/api/v1/currencies/convert?"+tc.query+"&channel=cash&preferential=90")
		var cv conversion
		if err := json.Unmarshal(data, &cv); status != 200 || err != nil || len(cv.Legs) != 1 {
			t.Fatalf("convert %s = %d %s", tc.query, status, data)
		}
		b := cv.Breakdown
		if cv.Legs[0].RateType != tc.leg || !cv.Legs[0].Rate.Equal(decimal.RequireFromString(tc.rate)) || !cv.Result.Equal(decimal.RequireFromString(tc.result)) ||
			!b.AmountAtMid.Equal(decimal.RequireFromString(tc.atMid)) || !b.Margin.Equal(decimal.RequireFromString(tc.margin)) ||
			!b.MarginPreferential.Equal(decimal.RequireFromString(tc.marginPref)) {
			t.Errorf("convert %s in cash at 90%% = %s", tc.query, data)
		}
	}

	// The start-up run published one update per currency. The same notice
	// again stores and publishes nothing.
	ctx := t.Context()
	waitFor(t, 20*time.Second, "the start-up run's updates", func() bool { return len(updates(t, ctx, a.Kafka)["USD"]) == 1 })
	before := updates(t, ctx, a.Kafka)
	if r := adminRun(); r.Status != "success" || r.Provider != "hana" || r.Changed != 0 {
		t.Errorf("run on the same notice = %+v, want a hana success with nothing changed", r)
	}

	// Ten minutes later the default schedule (every five minutes in banking
	// hours) has run on the same notice: nothing more. Then a new notice
	// moves USD only: one update, for USD.
	bctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := clk.BlockUntilContext(bctx, 2); err != nil { // the ingest and retention schedules wait
		t.Fatal(err)
	}
	clk.Advance(10 * time.Minute)
	waitFor(t, 20*time.Second, "the scheduled run at 10:25 KST", func() bool {
		_, data := get(t, a.Ingestor+"/api/v1/ingest/runs?limit=10")
		var body struct {
			Runs []struct {
				Trigger, Status string
				Changed         int
			}
		}
		_ = json.Unmarshal(data, &body)
		for _, r := range body.Runs {
			if r.Trigger == "schedule" {
				if r.Status != "success" || r.Changed != 0 {
					t.Fatalf("scheduled run on the same notice = %+v, want a success with nothing changed", r)
				}
				return true
			}
		}
		return false
	})
	bank.Notice(map[string]decimal.Decimal{"USD": decimal.RequireFromString("1340.50")})
	if r := adminRun(); r.Status != "success" || r.Changed != 1 {
		t.Errorf("run on notice %d = %+v, want one change", bank.NoticeNumber(), r)
	}
	usd2 := wantQuoted("USD")
	if usd2.Version != usd.Version+1 || !usd2.RecordedAt.Equal(now.Add(10*time.Minute)) {
		t.Errorf("USD after the new notice = %+v, want version %d recorded at the notice's time", usd2, usd.Version+1)
	}
	after := updates(t, ctx, a.Kafka)
	for _, code := range hanatest.Codes {
		want := len(before[code])
		if code == "USD" {
			want++
		}
		if len(after[code]) != want {
			t.Errorf("%s: %d updates after the notices, want %d (one per changed currency, none for a repeated notice)", code, len(after[code]), want)
		}
	}
	if u := after["USD"][len(after["USD"])-1]; !eqDec(u.CashBuy, usd2.CashBuy) || !eqDec(u.CashSell, usd2.CashSell) {
		t.Errorf("USD update carries cash %v/%v, want %s/%s", u.CashBuy, u.CashSell, usd2.CashBuy, usd2.CashSell)
	}

	// Over its limit the bank answers 429: the run fails, nothing changes.
	bank.Fail(http.StatusTooManyRequests, "application/json", `{"error":"too many requests"}`, "600")
	if r := adminRun(); r.Status != "failed" || r.Reason == "" {
		t.Errorf("run on a 429 = %+v, want failed with a reason", r)
	}
	if r := rate("USD"); r.Version != usd2.Version {
		t.Errorf("USD after a 429 at version %d, want %d", r.Version, usd2.Version)
	}
	bank.Recover()

	// History keeps both notices of the day: two intraday points and a
	// daily bar that opens at the first and closes at the second.
	type bar struct {
		Date    time.Time       `json:"date"`
		Rate    decimal.Decimal `json:"rate"`
		Open    decimal.Decimal `json:"open"`
		High    decimal.Decimal `json:"high"`
		Low     decimal.Decimal `json:"low"`
		Samples int             `json:"samples"`
	}
	var intraday, daily []bar
	waitFor(t, 20*time.Second, "both notices in USD's history", func() bool {
		var s struct{ Results []bar }
		if status, data := get(t, a.History+"/api/v1/history?target=USD&period=1d"); status != 200 || json.Unmarshal(data, &s) != nil {
			return false
		}
		intraday = s.Results
		var d struct{ Results []bar }
		if status, data := get(t, a.History+"/api/v1/history?target=USD&period=1m&interval=1d"); status != 200 || json.Unmarshal(data, &d) != nil {
			return false
		}
		daily = d.Results
		return len(intraday) == 2 && len(daily) > 0 && daily[len(daily)-1].Samples == 2
	})
	if !intraday[0].Rate.Equal(decimal.RequireFromString("1338")) || !intraday[1].Rate.Equal(decimal.RequireFromString("1340.5")) ||
		!intraday[1].Date.Equal(now.Add(10*time.Minute)) {
		t.Errorf("intraday USD = %+v, want 1338 at 10:15 and 1340.5 at 10:25 KST", intraday)
	}
	if d := daily[len(daily)-1]; !d.Open.Equal(decimal.RequireFromString("1338")) || !d.Rate.Equal(decimal.RequireFromString("1340.5")) ||
		!d.High.Equal(decimal.RequireFromString("1340.5")) || !d.Low.Equal(decimal.RequireFromString("1338")) {
		t.Errorf("USD's day = %+v, want open 1338, high 1340.5, low 1338, close 1340.5 from two notices", d)
	}
}

// TestHanaFirstThenKoreaExim runs hana,koreaexim: Hana's currencies come
// with its cash rates, the ones only Korea Eximbank quotes (BND, and CNH
// beside Hana's own CNY) from the bank, and every rate and the /latest
// table say which source each number came from.
func TestHanaFirstThenKoreaExim(t *testing.T) {
	now := time.Date(2026, 11, 25, 14, 5, 0, 0, kst.Zone) // Wednesday, after Korea Eximbank's publication
	clk := clockwork.NewFakeClockAt(now)
	hana := hanatest.New(clk.Now)
	hsrv := httptest.NewServer(hana)
	t.Cleanup(hsrv.Close)
	exim := eximtest.New("exim-key", clk.Now)
	esrv := httptest.NewServer(exim)
	t.Cleanup(esrv.Close)
	// The two banks agree within 0.2 % on the currencies both quote, as
	// real ones do: the cross-provider check compares Hana's USD, EUR and
	// JPY with Korea Eximbank's of the same run and publishes them.
	near := func(code string, unit int64) decimal.Decimal {
		return exim.Quote("2026-11-25", code).DealBaseRate.Mul(decimal.NewFromInt(unit)).Mul(decimal.RequireFromString("1.002")).Round(2)
	}
	hana.Notice(map[string]decimal.Decimal{"USD": near("USD", 1), "EUR": near("EUR", 1), "JPY": near("JPY", 100)})
	env := map[string]string{
		"RATEWIRE_PROVIDERS": "hana,koreaexim", "RATEWIRE_HANA_URL": hsrv.URL,
		"RATEWIRE_KOREAEXIM_API_URL": esrv.URL, "RATEWIRE_KOREAEXIM_API_KEY": "exim-key",
	}
	c := stack.Config{DataDir: t.TempDir(), Host: "127.0.0.1", Getenv: func(k string) string { return env[k] },
		Out: &syncBuffer{}, Log: &syncBuffer{}, Clock: clk}
	a, _ := runStack(t, c)

	var table struct {
		Rates   map[string]decimal.Decimal `json:"rates"`
		Source  string                     `json:"source"`
		Sources map[string]string          `json:"sources"`
	}
	waitFor(t, 20*time.Second, "the start-up run's rates", func() bool {
		status, data := get(t, a.Gateway+"/api/v1/currencies/latest")
		return status == 200 && json.Unmarshal(data, &table) == nil && len(table.Rates) == 6
	})
	want := map[string]string{"USD": "hana", "JPY": "hana", "EUR": "hana", "CNY": "hana", "BND": "koreaexim", "CNH": "koreaexim"}
	for code, source := range want {
		if table.Sources[code] != source {
			t.Errorf("/latest says %s comes from %q, want %s", code, table.Sources[code], source)
		}
	}
	if table.Source != "hana,koreaexim" {
		t.Errorf("/latest source %q, want hana,koreaexim", table.Source)
	}
	for code, source := range want {
		var r struct {
			DealBaseRate decimal.Decimal  `json:"deal_base_rate"`
			CashBuy      *decimal.Decimal `json:"cash_buy"`
			Source       string           `json:"source"`
			QuotedAs     string           `json:"quoted_as"`
		}
		status, data := get(t, a.Gateway+"/api/v1/currencies/"+code)
		if status != 200 || json.Unmarshal(data, &r) != nil {
			t.Fatalf("GET %s = %d %s", code, status, data)
		}
		switch source {
		case "hana":
			q := hana.Quote(code)
			if r.Source != "hana" || !r.DealBaseRate.Equal(q.DealBaseRate) || !eqDec(r.CashBuy, &q.CashBuy) {
				t.Errorf("%s = %s", code, data)
			}
		default:
			q := exim.Quote("2026-11-25", code)
			if r.Source != "koreaexim" || !r.DealBaseRate.Equal(q.DealBaseRate) || r.CashBuy != nil || r.QuotedAs != "" {
				t.Errorf("%s = %s, want Korea Eximbank's %s without cash rates, quoted as itself", code, data, q.DealBaseRate)
			}
		}
	}
	var runs struct {
		Runs []struct {
			Provider   string `json:"provider"`
			CrossCheck *struct {
				Reference string            `json:"reference"`
				Compared  int               `json:"compared"`
				Rejected  []json.RawMessage `json:"rejected"`
			} `json:"cross_check"`
		} `json:"runs"`
	}
	if status, data := get(t, a.Ingestor+"/api/v1/ingest/runs?limit=1"); status != 200 || json.Unmarshal(data, &runs) != nil || len(runs.Runs) != 1 {
		t.Fatalf("runs = %d %s", status, data)
	}
	if r := runs.Runs[0]; r.Provider != "hana,koreaexim" || r.CrossCheck == nil || r.CrossCheck.Reference != "koreaexim" ||
		r.CrossCheck.Compared != 3 || len(r.CrossCheck.Rejected) != 0 {
		t.Errorf("run from %s, cross-check %+v; want Hana's USD, EUR and JPY compared with koreaexim's of the same run, none withheld", r.Provider, r.CrossCheck)
	}
	// Cash for a currency only Korea Eximbank quotes is 422, naming it.
	status, _ := get(t, a.Gateway+"/api/v1/currencies/convert?from=BND&to=KRW&amount=10&channel=cash")
	if status != http.StatusUnprocessableEntity {
		t.Errorf("BND in cash = %d, want 422 (its source quotes no cash rates)", status)
	}
}
