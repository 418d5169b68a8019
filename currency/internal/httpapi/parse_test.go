package httpapi_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/shopspring/decimal"

	"github.com/ratewire/ratewire/currency/internal/httpapi"
	"github.com/ratewire/ratewire/shared/apperr"
)

func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	var ae *apperr.Error
	if !errors.As(err, &ae) || ae.Code != code || ae.Kind != apperr.KindInvalid {
		t.Errorf("%s: err = %v, want invalid %s", what, err, code)
	}
}

func TestParseAmount(t *testing.T) {
	for in, want := range map[string]string{"100": "100", "0.5": "0.5", "1234.56789012": "1234.56789012", "1000000000000": "1000000000000", "007": "7"} {
		got, err := httpapi.ParseAmount(in)
		if err != nil || got.String() != want {
			t.Errorf("ParseAmount(%q) = %s, %v; want %s", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "0.000", "-1", "+1", "1e3", "1,000", " 1", "1.", ".5", "1.123456789", "1000000000000.01", "NaN", "Infinity", "１２"} {
		_, err := httpapi.ParseAmount(in)
		wantCode(t, "ParseAmount("+in+")", err, "INVALID_PARAMETER")
	}
}

func TestParseSymbols(t *testing.T) {
	got, err := httpapi.ParseSymbols(" usd,JPY ,usd")
	if err != nil || !slices.Equal(got, []string{"USD", "JPY"}) {
		t.Errorf("ParseSymbols = %v, %v; want [USD JPY]", got, err)
	}
	if got, err := httpapi.ParseSymbols(""); got != nil || err != nil {
		t.Errorf("ParseSymbols(\"\") = %v, %v; want none", got, err)
	}
	_, err = httpapi.ParseSymbols("USD,EURO")
	wantCode(t, "EURO", err, "INVALID_CURRENCY_CODE")
	_, err = httpapi.ParseSymbols("USD,")
	wantCode(t, "trailing comma", err, "INVALID_CURRENCY_CODE")
	_, err = httpapi.ParseSymbols(strings.Repeat("USD,", httpapi.MaxSymbols) + "USD")
	wantCode(t, "too many", err, "INVALID_PARAMETER")
}

func TestParseCountry(t *testing.T) {
	if got, err := httpapi.ParseCountry("  일본 "); err != nil || got != "일본" {
		t.Errorf("ParseCountry = %q, %v", got, err)
	}
	for _, in := range []string{"", "   ", strings.Repeat("a", httpapi.MaxCountryLen+1), "ja\x00pan", "\xff\xfe"} {
		_, err := httpapi.ParseCountry(in)
		wantCode(t, "ParseCountry("+in+")", err, "INVALID_COUNTRY")
	}
}

func TestParseRateType(t *testing.T) {
	for in, want := range map[string]string{"": "bank", "bank": "bank", " BANK ": "bank", "mid": "mid", "TTS": "tts", "ttb": "ttb"} {
		got, err := httpapi.ParseRateType(in)
		if err != nil || got != want {
			t.Errorf("ParseRateType(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"spot", "cash", "bankx", "t t b"} {
		_, err := httpapi.ParseRateType(in)
		wantCode(t, "ParseRateType("+in+")", err, "INVALID_PARAMETER")
	}
}

func FuzzParseAmount(f *testing.F) {
	for _, s := range []string{"100", "0.01", "1e3", "-5", "1000000000000", "1000000000000.00000001", "99999999999999", "1.123456789", " 7"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := httpapi.ParseAmount(s)
		if err != nil {
			wantCode(t, "amount", err, "INVALID_PARAMETER")
			return
		}
		if !d.IsPositive() || d.GreaterThan(httpapi.MaxAmount) || d.Exponent() < -httpapi.MaxAmountDecimals {
			t.Fatalf("ParseAmount(%q) accepted %s", s, d)
		}
	})
}

func FuzzParseSymbols(f *testing.F) {
	for _, s := range []string{"USD,JPY", "usd", "", ",", "USD,,JPY", "ÅÅÅ,USD", strings.Repeat("EUR,", 250)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		codes, err := httpapi.ParseSymbols(s)
		if err != nil {
			return
		}
		if len(codes) > httpapi.MaxSymbols {
			t.Fatalf("%d symbols accepted", len(codes))
		}
		for _, c := range codes {
			if len(c) != 3 || strings.ToUpper(c) != c {
				t.Fatalf("ParseSymbols(%q) accepted %q", s, c)
			}
		}
	})
}

func FuzzParseCountry(f *testing.F) {
	for _, s := range []string{"일본", "Japan", "JP", "jpn", "", "\x00", "홍콩(중국 특별행정구)", strings.Repeat("가", 40)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := httpapi.ParseCountry(s)
		if err != nil {
			wantCode(t, "country", err, "INVALID_COUNTRY")
			return
		}
		if c == "" || len(c) > httpapi.MaxCountryLen || !utf8.ValidString(c) {
			t.Fatalf("ParseCountry(%q) accepted %q", s, c)
		}
	})
}

func TestParseChannelAndPreferential(t *testing.T) {
	for in, want := range map[string]string{"": "", "cash": "cash", " CASH ": "cash", "remittance": "remittance"} {
		if got, err := httpapi.ParseChannel(in); err != nil || got != want {
			t.Errorf("ParseChannel(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"card", "banknotes", "현찰"} {
		_, err := httpapi.ParseChannel(in)
		wantCode(t, "ParseChannel("+in+")", err, apperr.CodeInvalidParameter)
	}
	for in, want := range map[string]string{"": "0", "0": "0", "90": "90", "87.5": "87.5", "100": "100", "100.00": "100"} {
		if got, err := httpapi.ParsePreferential(in); err != nil || !got.Equal(decimal.RequireFromString(want)) {
			t.Errorf("ParsePreferential(%q) = %s, %v; want %s", in, got, err, want)
		}
	}
	for _, in := range []string{"-1", "100.01", "101", "1000", "90%", "1e2", " 90", "ninety", "50.125", "."} {
		_, err := httpapi.ParsePreferential(in)
		wantCode(t, "ParsePreferential("+in+")", err, apperr.CodeInvalidParameter)
	}
}

func FuzzParsePreferential(f *testing.F) {
	for _, s := range []string{"", "0", "90", "87.5", "100", "100.01", "-5", "1e2", "9999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := httpapi.ParsePreferential(s)
		if err != nil {
			return
		}
		if p.IsNegative() || p.GreaterThan(decimal.NewFromInt(100)) || p.Exponent() < -2 {
			t.Errorf("ParsePreferential(%q) accepted %s, outside 0..100 with two decimals", s, p)
		}
	})
}
