package series_test

import (
	"strings"
	"testing"
	"time"

	"github.com/ratewire/ratewire/history/internal/series"
	"github.com/ratewire/ratewire/shared/apperr"
)

var now = time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)

func TestParseWindow(t *testing.T) {
	for _, tc := range []struct {
		period, interval, from, to string
		wantCode                   string
		wantInterval               string
		wantFrom, wantTo           time.Time
		wantPoints                 int
	}{
		{period: "1d", wantInterval: "5m", wantFrom: now.AddDate(0, 0, -1), wantTo: now, wantPoints: 288},
		{period: "1w", wantInterval: "1h", wantFrom: now.AddDate(0, 0, -7), wantTo: now, wantPoints: 168},
		{period: "1M", wantInterval: "1d", wantFrom: now.AddDate(0, -1, 0), wantTo: now, wantPoints: 31},
		{period: "1y", wantInterval: "1w", wantFrom: now.AddDate(-1, 0, 0), wantTo: now, wantPoints: 53},
		{wantInterval: "1d", wantFrom: now.AddDate(0, -1, 0), wantTo: now, wantPoints: 31}, // default 1m
		{period: "1w", interval: "15m", wantInterval: "15m", wantFrom: now.AddDate(0, 0, -7), wantTo: now, wantPoints: 672},
		{from: "2026-11-01", to: "2026-11-01", wantInterval: "5m",
			wantFrom: time.Date(2026, 10, 31, 15, 0, 0, 0, time.UTC), wantTo: time.Date(2026, 11, 1, 15, 0, 0, 0, time.UTC), wantPoints: 288},
		{from: "2026-11-20T00:00:00Z", wantInterval: "1h", wantFrom: time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC), wantTo: now, wantPoints: 51},
		{period: "2w", wantCode: series.CodeInvalidPeriod},
		{period: "1w", interval: "7m", wantCode: apperr.CodeInvalidParameter},
		{period: "1w", interval: "5m", wantCode: apperr.CodeInvalidParameter}, // 2016 points
		{period: "1y", interval: "1h", wantCode: apperr.CodeInvalidParameter},
		{period: "1w", from: "2026-11-01", wantCode: apperr.CodeInvalidParameter},
		{to: "2026-11-01", wantCode: apperr.CodeInvalidParameter},
		{from: "2026-11-02", to: "2026-11-01", wantCode: apperr.CodeInvalidParameter}, // empty range
		{from: "2026-11-01T00:00:00Z", to: "2026-11-01T00:00:00Z", wantCode: apperr.CodeInvalidParameter},
		{from: "yesterday", wantCode: apperr.CodeInvalidParameter},
		{from: "1900-01-01", wantCode: apperr.CodeInvalidParameter},
	} {
		name := strings.Join([]string{tc.period, tc.interval, tc.from, tc.to}, "|")
		w, err := series.ParseWindow(tc.period, tc.interval, tc.from, tc.to, now)
		if tc.wantCode != "" {
			e, ok := apperr.As(err)
			if !ok || e.Kind != apperr.KindInvalid || e.Code != tc.wantCode {
				t.Errorf("%s: err = %v, want invalid %s", name, err, tc.wantCode)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if w.Interval.Name != tc.wantInterval || !w.From.Equal(tc.wantFrom) || !w.To.Equal(tc.wantTo) || w.Points() != tc.wantPoints {
			t.Errorf("%s: window %s..%s at %s (%d points), want %s..%s at %s (%d)", name, w.From, w.To, w.Interval.Name, w.Points(),
				tc.wantFrom, tc.wantTo, tc.wantInterval, tc.wantPoints)
		}
	}
}

func TestTooManyPointsGivesAHint(t *testing.T) {
	_, err := series.ParseWindow("1y", "1h", "", "", now)
	e, ok := apperr.As(err)
	if !ok || e.Details["hint"] != "interval=1d" || !strings.Contains(e.Message, "interval=1d") {
		t.Fatalf("err = %v (details %v), want a hint of interval=1d", err, e)
	}
}

func TestParsePairAndTargets(t *testing.T) {
	if tg, b, err := series.ParsePair(" usd ", ""); err != nil || tg != "USD" || b != "KRW" {
		t.Errorf("ParsePair(usd, \"\") = %q %q %v, want USD KRW", tg, b, err)
	}
	for _, tc := range [][2]string{{"US", "KRW"}, {"USD", "EURO"}, {"", "KRW"}, {"USD", "usd"}} {
		if _, _, err := series.ParsePair(tc[0], tc[1]); apperr.KindOf(err) != apperr.KindInvalid {
			t.Errorf("ParsePair(%q, %q) = %v, want invalid", tc[0], tc[1], err)
		}
	}
	if got, err := series.ParseTargets("usd,JPY, eur", "KRW"); err != nil || strings.Join(got, ",") != "USD,JPY,EUR" {
		t.Errorf("ParseTargets = %v %v", got, err)
	}
	for _, s := range []string{"", "USD", "USD,USD", "USD,KRW", "USD,J1Y", strings.Repeat("USD,", 11) + "EUR"} {
		if _, err := series.ParseTargets(s, "KRW"); apperr.KindOf(err) != apperr.KindInvalid {
			t.Errorf("ParseTargets(%q) = %v, want invalid", s, err)
		}
	}
	for s, want := range map[string]int{"": 7, "1": 1, "30": 30} {
		if got, err := series.ParseDays(s); err != nil || got != want {
			t.Errorf("ParseDays(%q) = %d %v, want %d", s, got, err, want)
		}
	}
	for _, s := range []string{"0", "31", "-1", "x", "1.5"} {
		if _, err := series.ParseDays(s); apperr.KindOf(err) != apperr.KindInvalid {
			t.Errorf("ParseDays(%q) = %v, want invalid", s, err)
		}
	}
}

// FuzzParseWindow: any input is either a window within the point cap, or
// an invalid-parameter error; never a panic or another kind of error.
func FuzzParseWindow(f *testing.F) {
	for _, s := range [][4]string{
		{"1d", "", "", ""}, {"1y", "1w", "", ""}, {"", "", "2026-11-01", "2026-11-20"},
		{"", "1h", "2026-11-01T00:00:00+09:00", ""}, {"3m", "5m", "", ""}, {"", "", "2026-13-45", "x"},
		{"", "", "9999-12-31T23:59:59Z", ""}, {"1w", "1d", "2026-01-01", ""},
	} {
		f.Add(s[0], s[1], s[2], s[3])
	}
	f.Fuzz(func(t *testing.T, period, interval, from, to string) {
		w, err := series.ParseWindow(period, interval, from, to, now)
		if err != nil {
			if apperr.KindOf(err) != apperr.KindInvalid {
				t.Fatalf("error of kind %v: %v", apperr.KindOf(err), err)
			}
			return
		}
		if !w.To.After(w.From) || w.Points() > series.MaxPoints || w.Points() < 1 {
			t.Fatalf("window %s..%s at %s has %d points", w.From, w.To, w.Interval.Name, w.Points())
		}
	})
}

// FuzzParseCodes covers the code, pair, targets and days parsers.
func FuzzParseCodes(f *testing.F) {
	for _, s := range []string{"USD", "usd", "", "US", "KRW", "USD,JPY", "USD,,JPY", "ÜSD", "12", "30", " 7"} {
		f.Add(s, "KRW")
	}
	f.Fuzz(func(t *testing.T, s, base string) {
		if c, err := series.ParseCode("target", s); err == nil && (len(c) != 3 || strings.ToUpper(c) != c) {
			t.Fatalf("ParseCode(%q) = %q", s, c)
		}
		if tg, b, err := series.ParsePair(s, base); err == nil && (tg == b || len(tg) != 3 || len(b) != 3) {
			t.Fatalf("ParsePair(%q, %q) = %q %q", s, base, tg, b)
		}
		if ts, err := series.ParseTargets(s, "KRW"); err == nil && (len(ts) < 2 || len(ts) > series.MaxTargets) {
			t.Fatalf("ParseTargets(%q) = %v", s, ts)
		}
		if d, err := series.ParseDays(s); err == nil && (d < 1 || d > series.MaxForecastDays) {
			t.Fatalf("ParseDays(%q) = %d", s, d)
		} else if err != nil && apperr.KindOf(err) != apperr.KindInvalid {
			t.Fatalf("ParseDays(%q) error kind %v", s, apperr.KindOf(err))
		}
	})
}
