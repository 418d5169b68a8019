package rates_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/ratewire/ratewire/currency/internal/rates"
	"github.com/ratewire/ratewire/shared/apperr"
	"github.com/ratewire/ratewire/shared/testinfra"
)

// TestPreferential is DESIGN.md §4's worked example and its mirror: USD
// mid 1338.00, cash buy 1361.42 at 90 % is 1340.34; cash sell 1314.59 at
// 90 % is 1335.66 (1338 - 2.341, rounded to the won's hundredths per
// dollar); JPY is rounded per 100 yen (four decimals per yen).
func TestPreferential(t *testing.T) {
	for _, tc := range []struct {
		mid, quoted, p string
		unit           int
		want           string
	}{
		{"1338.00", "1361.42", "90", 1, "1340.34"},
		{"1338.00", "1314.59", "90", 1, "1335.66"},
		{"1338.00", "1361.42", "0", 1, "1361.42"},
		{"1338.00", "1361.42", "100", 1, "1338"},
		{"1338.00", "1361.42", "50", 1, "1349.71"},
		{"9.1234", "9.2831", "90", 100, "9.1394"},
	} {
		got := rates.Preferential(d(tc.mid), d(tc.quoted), d(tc.p), tc.unit)
		if !got.Equal(d(tc.want)) {
			t.Errorf("Preferential(mid %s, quoted %s, %s %%) = %s, want %s", tc.mid, tc.quoted, tc.p, got, tc.want)
		}
	}
}

// TestConvertCash converts with channel=cash in both directions, checks
// the legs' rates and rules, the breakdown against the hand computation,
// and the errors of a source without cash rates and of bad combinations.
func TestConvertCash(t *testing.T) {
	svc, db := setup(t, testinfra.SQLiteURL(t), testinfra.MiniRedis(t))
	ctx := context.Background()
	// Hana's USD: mid 1338.00, cash buy 1361.42, cash sell 1314.59.
	seed(t, db, "USD", "미국 달러", "1338.00", "1351.38", "1324.62", today.Add(time.Minute), 3)
	if _, err := db.ExecContext(ctx, `UPDATE latest_rates SET cash_buy = '1361.42', cash_sell = '1314.59', source = 'hana' WHERE currency_code = 'USD'`); err != nil {
		t.Fatal(err)
	}
	conv := func(from, to, amount string, o rates.ConvertOptions) rates.Conversion {
		t.Helper()
		c, err := svc.Convert(ctx, from, to, d(amount), o)
		if err != nil {
			t.Fatalf("%s %s->%s %+v: %v", amount, from, to, o, err)
		}
		return c
	}
	cash90 := rates.ConvertOptions{Channel: rates.ChannelCash, Preferential: d("90")}

	// Selling 1,000 dollars of banknotes to the bank: it buys them at
	// cash_sell. At mid 1,338,000 won; at cash_sell 1,314,590 (margin
	// 23,410); at 90 % the rate is 1335.66: 1,335,660 won (margin 2,340).
	c := conv("USD", "KRW", "1000", cash90)
	if len(c.Legs) != 1 || c.Legs[0].RateType != rates.RateCashSell || c.Legs[0].Direction != rates.ToKRW ||
		!c.Legs[0].Rate.Equal(d("1335.66")) || !c.Legs[0].QuotedRate.Equal(d("1314.59")) || !c.Legs[0].MidRate.Equal(d("1338")) ||
		c.Legs[0].Source != "hana" || c.Legs[0].Rule != "the bank buys your USD banknotes and pays KRW: cash_sell (현찰 팔 때)" {
		t.Fatalf("USD->KRW cash legs = %+v, want cash_sell 1314.59 -> 1335.66 from hana", c.Legs)
	}
	b := c.Breakdown
	if !c.Result.Equal(d("1335660")) || c.Channel != "cash" || !c.Preferential.Equal(d("90")) || b.Currency != "KRW" ||
		!b.AmountAtMid.Equal(d("1338000")) || !b.Margin.Equal(d("23410")) || !b.MarginPreferential.Equal(d("2340")) ||
		!b.Saving.Equal(d("21070")) || !b.EffectiveRate.Equal(d("1335.66")) {
		t.Errorf("1,000 USD->KRW cash 90%% = %s, breakdown %+v; want 1335660, at mid 1338000, margin 23410, with 90%% 2340, saving 21070, rate 1335.66", c.Result, b)
	}

	// Buying dollar banknotes from the bank: it sells them at cash_buy,
	// 1340.34 at 90 %. 1,340,340 won buy exactly 1,000 dollars.
	c = conv("KRW", "USD", "1340340", cash90)
	if len(c.Legs) != 1 || c.Legs[0].RateType != rates.RateCashBuy || c.Legs[0].Direction != rates.FromKRW || !c.Legs[0].Rate.Equal(d("1340.34")) ||
		c.Legs[0].Rule != "the bank sells you USD banknotes for KRW: cash_buy (현찰 살 때)" {
		t.Fatalf("KRW->USD cash legs = %+v, want cash_buy 1361.42 -> 1340.34", c.Legs)
	}
	// At mid: 1340340/1338 = 1001.75 dollars; at cash_buy 1361.42: 984.52.
	b = c.Breakdown
	if !c.Result.Equal(d("1000")) || b.Currency != "USD" || !b.AmountAtMid.Equal(d("1001.75")) || !b.Margin.Equal(d("17.23")) ||
		!b.MarginPreferential.Equal(d("1.75")) || !b.Saving.Equal(d("15.48")) {
		t.Errorf("KRW->USD cash 90%% = %s, breakdown %+v; want 1000 USD, at mid 1001.75, margin 17.23, with 90%% 1.75", c.Result, b)
	}

	// Without a preference the quoted cash rate applies; remittance is ttb.
	if c := conv("USD", "KRW", "1000", rates.ConvertOptions{Channel: rates.ChannelCash}); !c.Result.Equal(d("1314590")) || !c.Breakdown.MarginPreferential.Equal(d("23410")) || !c.Breakdown.Saving.IsZero() {
		t.Errorf("USD->KRW cash 0%% = %s, breakdown %+v; want 1314590, margin 23410 all kept", c.Result, c.Breakdown)
	}
	if c := conv("USD", "KRW", "1000", rates.ConvertOptions{}); c.Channel != "remittance" || c.Legs[0].RateType != rates.RateTTB || !c.Result.Equal(d("1324620")) {
		t.Errorf("USD->KRW default = %s via %+v, want remittance at ttb 1324.62", c.Result, c.Legs)
	}
	if c := conv("USD", "KRW", "1000", rates.ConvertOptions{RateType: rates.RateMid}); c.Channel != "" || !c.Breakdown.Margin.IsZero() || !c.Result.Equal(d("1338000")) {
		t.Errorf("USD->KRW mid = %s, channel %q, breakdown %+v; want 1338000 with no margin", c.Result, c.Channel, c.Breakdown)
	}

	for _, tc := range []struct {
		name, from, to string
		o              rates.ConvertOptions
		kind           apperr.Kind
		code           string
	}{
		{"JPY's source quotes no cash", "KRW", "JPY", rates.ConvertOptions{Channel: rates.ChannelCash}, apperr.KindUnprocessable, "RATE_UNAVAILABLE"},
		{"channel with mid", "USD", "KRW", rates.ConvertOptions{RateType: rates.RateMid, Channel: rates.ChannelCash}, apperr.KindInvalid, apperr.CodeInvalidParameter},
		{"preferential over 100", "USD", "KRW", rates.ConvertOptions{Channel: rates.ChannelCash, Preferential: d("100.5")}, apperr.KindInvalid, apperr.CodeInvalidParameter},
		{"unknown channel", "USD", "KRW", rates.ConvertOptions{Channel: "card"}, apperr.KindInvalid, apperr.CodeInvalidParameter},
		{"preferential with mid", "USD", "KRW", rates.ConvertOptions{RateType: rates.RateMid, Preferential: d("50")}, apperr.KindInvalid, apperr.CodeInvalidParameter},
	} {
		_, err := svc.Convert(ctx, tc.from, tc.to, decimal.NewFromInt(100), tc.o)
		var ae *apperr.Error
		if !errors.As(err, &ae) || ae.Kind != tc.kind || ae.Code != tc.code {
			t.Errorf("%s: err = %v, want %s", tc.name, err, tc.code)
		}
	}
}
