package rank_test

import (
	"testing"
	"time"

	"github.com/ratewire/ratewire/ranking/internal/rank"
	"github.com/ratewire/ratewire/shared/kst"
)

func TestDayOfUsesKST(t *testing.T) {
	tests := []struct {
		at   time.Time
		want string
	}{
		{time.Date(2026, 11, 18, 23, 59, 59, 0, kst.Zone), "2026-11-18"},
		{time.Date(2026, 11, 19, 0, 0, 1, 0, kst.Zone), "2026-11-19"},
		{time.Date(2026, 11, 18, 14, 59, 59, 0, time.UTC), "2026-11-18"}, // 23:59:59 KST
		{time.Date(2026, 11, 18, 15, 0, 0, 0, time.UTC), "2026-11-19"},   // midnight KST
		{time.Date(2026, 12, 31, 15, 0, 0, 0, time.UTC), "2027-01-01"},
	}
	for _, tt := range tests {
		if got := rank.DayOf(tt.at).String(); got != tt.want {
			t.Errorf("DayOf(%s) = %s, want %s", tt.at, got, tt.want)
		}
	}
}

func TestBoards(t *testing.T) {
	tests := []struct {
		day            string
		p              rank.Period
		id, start, end string
	}{
		{"2026-11-18", rank.Daily, "daily:2026-11-18", "2026-11-18", "2026-11-18"},
		{"2026-11-16", rank.Weekly, "weekly:2026-11-16", "2026-11-16", "2026-11-22"}, // Monday
		{"2026-11-22", rank.Weekly, "weekly:2026-11-16", "2026-11-16", "2026-11-22"}, // Sunday
		{"2026-11-23", rank.Weekly, "weekly:2026-11-23", "2026-11-23", "2026-11-29"},
		{"2027-01-01", rank.Weekly, "weekly:2026-12-28", "2026-12-28", "2027-01-03"}, // across a year
		{"2028-02-29", rank.Monthly, "monthly:2028-02-01", "2028-02-01", "2028-02-29"},
		{"2026-12-31", rank.Monthly, "monthly:2026-12-01", "2026-12-01", "2026-12-31"},
		{"2026-11-18", rank.All, "all", "", ""},
	}
	for _, tt := range tests {
		d, err := rank.ParseDay(tt.day)
		if err != nil {
			t.Fatal(err)
		}
		b := rank.BoardFor(tt.p, d)
		start, end := "", ""
		if !b.Start.IsZero() {
			start, end = b.Start.String(), b.End().String()
		}
		if b.ID() != tt.id || start != tt.start || end != tt.end {
			t.Errorf("BoardFor(%s, %s) = %s %s..%s, want %s %s..%s", tt.p, tt.day, b.ID(), start, end, tt.id, tt.start, tt.end)
		}
	}
	for _, bad := range []string{"", "2026-2-1", "2026-02-30", "20260201", "2026-02-01T00:00:00Z"} {
		if _, err := rank.ParseDay(bad); err == nil {
			t.Errorf("ParseDay(%q) succeeded, want an error", bad)
		}
	}
}
