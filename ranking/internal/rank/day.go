package rank

import (
	"fmt"
	"time"

	"github.com/ratewire/ratewire/shared/kst"
)

// dayLayout is how a Day is written in the API, in SQL and in Redis keys.
const dayLayout = "2006-01-02"

// Day is a KST calendar day. It holds midnight UTC of that date so that
// day arithmetic never meets a zone offset; the zero Day is "no day".
type Day struct{ t time.Time }

// DayOf returns the KST day that instant t falls on.
func DayOf(t time.Time) Day {
	y, m, d := t.In(kst.Zone).Date()
	return Day{time.Date(y, m, d, 0, 0, 0, 0, time.UTC)}
}

// ParseDay reads a YYYY-MM-DD date.
func ParseDay(s string) (Day, error) {
	t, err := time.Parse(dayLayout, s)
	if err != nil {
		return Day{}, fmt.Errorf("day %q: want YYYY-MM-DD", s)
	}
	return Day{t}, nil
}

// String is YYYY-MM-DD.
func (d Day) String() string { return d.t.Format(dayLayout) }

// IsZero reports the zero Day.
func (d Day) IsZero() bool { return d.t.IsZero() }

// AddDays returns the day n days later (earlier for negative n).
func (d Day) AddDays(n int) Day { return Day{d.t.AddDate(0, 0, n)} }

// Before reports whether d is earlier than e.
func (d Day) Before(e Day) bool { return d.t.Before(e.t) }

// Start is the instant the KST day begins.
func (d Day) Start() time.Time {
	y, m, dd := d.t.Date()
	return time.Date(y, m, dd, 0, 0, 0, 0, kst.Zone)
}

// Period is a ranking period of DESIGN.md §8.
type Period string

// The periods. Weeks run Monday to Sunday (ISO 8601), months are calendar
// months, both in KST; all is every day ever counted.
const (
	Daily   Period = "daily"
	Weekly  Period = "weekly"
	Monthly Period = "monthly"
	All     Period = "all"
)

// ParsePeriod accepts the four period names.
func ParsePeriod(s string) (Period, bool) {
	switch p := Period(s); p {
	case Daily, Weekly, Monthly, All:
		return p, true
	}
	return "", false
}

// Board names one leaderboard: a period and the first day it covers (zero
// for All). Every click lands on four boards: its day, week, month and All.
type Board struct {
	Period Period
	Start  Day
}

// BoardFor returns the board of period p that contains day d.
func BoardFor(p Period, d Day) Board {
	switch p {
	case Daily:
		return Board{Daily, d}
	case Weekly:
		// time.Weekday counts from Sunday; Monday-based weeks go back
		// (weekday+6)%7 days.
		return Board{Weekly, d.AddDays(-((int(d.t.Weekday()) + 6) % 7))}
	case Monthly:
		y, m, _ := d.t.Date()
		return Board{Monthly, Day{time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)}}
	default:
		return Board{Period: All}
	}
}

// BoardsOf returns the four boards a click on day d counts on.
func BoardsOf(d Day) []Board {
	return []Board{BoardFor(Daily, d), BoardFor(Weekly, d), BoardFor(Monthly, d), BoardFor(All, d)}
}

// End is the last day the board covers (zero for All).
func (b Board) End() Day {
	switch b.Period {
	case Daily:
		return b.Start
	case Weekly:
		return b.Start.AddDays(6)
	case Monthly:
		return Day{b.Start.t.AddDate(0, 1, -1)}
	default:
		return Day{}
	}
}

// ID is a stable name of the board, used in Redis keys: "daily:2026-11-22",
// "weekly:2026-11-16", "monthly:2026-11-01", "all".
func (b Board) ID() string {
	if b.Period == All {
		return string(All)
	}
	return string(b.Period) + ":" + b.Start.String()
}
