package kst_test

import (
	"testing"
	"time"

	"github.com/ratewire/ratewire/shared/kst"
)

func TestDayAndMidnight(t *testing.T) {
	for _, tc := range []struct {
		utc      string
		day      string
		midnight string
	}{
		{"2026-12-31T14:59:59Z", "2026-12-31", "2026-12-31T00:00:00+09:00"},
		{"2026-12-31T15:00:00Z", "2027-01-01", "2027-01-01T00:00:00+09:00"},
		{"2026-03-01T00:00:00Z", "2026-03-01", "2026-03-01T00:00:00+09:00"},
	} {
		at, err := time.Parse(time.RFC3339, tc.utc)
		if err != nil {
			t.Fatal(err)
		}
		if got := kst.Day(at); got != tc.day {
			t.Errorf("Day(%s): expected %s, got %s", tc.utc, tc.day, got)
		}
		if got := kst.Midnight(at).Format(time.RFC3339); got != tc.midnight {
			t.Errorf("Midnight(%s): expected %s, got %s", tc.utc, tc.midnight, got)
		}
		d, err := kst.ParseDay(tc.day)
		if err != nil || !d.Equal(kst.Midnight(at)) {
			t.Errorf("ParseDay(%s): expected %s, got %s (%v)", tc.day, tc.midnight, d, err)
		}
	}
	if _, err := kst.ParseDay("2026-13-01"); err == nil {
		t.Error("ParseDay accepted month 13")
	}
}
