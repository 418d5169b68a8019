// Package kst is Korea Standard Time, the zone of every calendar day in
// ratewire: bank days, daily aggregates, rankings and carried-over rates
// are KST days (DESIGN.md §4).
package kst

import "time"

// Zone is UTC+9. It is fixed rather than time.LoadLocation("Asia/Seoul"):
// Korea has kept UTC+9 without daylight saving since 1988, and a fixed
// zone needs no tzdata on the machine (the service images have none).
var Zone = time.FixedZone("KST", 9*3600)

// Day is the KST calendar day of t as YYYY-MM-DD.
func Day(t time.Time) string { return t.In(Zone).Format(time.DateOnly) }

// Midnight is the start (00:00 KST) of t's KST day.
func Midnight(t time.Time) time.Time {
	y, m, d := t.In(Zone).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, Zone)
}

// ParseDay reads a YYYY-MM-DD day as its KST midnight.
func ParseDay(s string) (time.Time, error) { return time.ParseInLocation(time.DateOnly, s, Zone) }
