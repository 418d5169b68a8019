package provider

import (
	"time"

	"github.com/ratewire/ratewire/shared/kst"
)

// When each source is expected to publish next (event.Rate.NextUpdateAt),
// from its published schedule. These are expectations, not promises: a
// source may publish late, and Korean public holidays (which move with
// the lunar calendar) are not known here, so the next business day may be
// a holiday on which nothing comes.

// koreaEximNext is when Korea Eximbank is next expected to publish after
// now: 11:00 KST today if today is a weekday and that is still ahead,
// else 11:00 KST on the next weekday.
func koreaEximNext(now time.Time) time.Time {
	day := kst.Midnight(now)
	for {
		pub := day.Add(koreaEximPublishHour * time.Hour)
		if !isWeekend(day) && pub.After(now) {
			return pub.UTC()
		}
		day = day.AddDate(0, 0, 1)
	}
}

// Hana Bank's banking hours (KST, weekdays), in which it posts notices:
// the window its default schedule polls (ingestor.HanaSchedule).
const (
	hanaOpenHour  = 9
	hanaCloseHour = 20
)

// hanaNext is when Hana Bank is next expected to post a notice after now.
// During banking hours there is no such time: the bank posts a new notice
// (고시회차) whenever the market moves, many times a day at no set times,
// so any poll may find one; it returns the zero time (next_update_at
// null) rather than promise a time the source does not keep. (The next
// poll would be ratewire's schedule, not the source's, and is the
// RATEWIRE_INGEST_SCHEDULE an operator set.) Outside banking hours it is
// the next weekday's opening, 09:00 KST.
func hanaNext(now time.Time) time.Time {
	day := kst.Midnight(now)
	if h := now.In(kst.Zone).Hour(); !isWeekend(day) && h >= hanaOpenHour && h < hanaCloseHour {
		return time.Time{}
	}
	for {
		open := day.Add(hanaOpenHour * time.Hour)
		if !isWeekend(day) && open.After(now) {
			return open.UTC()
		}
		day = day.AddDate(0, 0, 1)
	}
}

// ecbNext is when the ECB is next expected to publish reference rates
// (16:00 CET or CEST) after its rates of the day rateDate ("2006-01-02"),
// and after now: on the first TARGET business day after rateDate whose
// 16:00 is still ahead.
func ecbNext(rateDate string, now time.Time) time.Time {
	d, err := time.Parse(time.DateOnly, rateDate)
	if err != nil {
		return time.Time{}
	}
	for i := 0; i < 3660; i++ { // ten years: only reached by absurd clocks
		d = d.AddDate(0, 0, 1)
		if !isTARGETDay(d) {
			continue
		}
		if pub := ecbPublication(d); pub.After(now) {
			return pub
		}
	}
	return time.Time{}
}

// ecbPublication is 16:00 Central European time on day d: 15:00 UTC, or
// 14:00 UTC under summer time (from the last Sunday of March to the last
// Sunday of October, EU rule), computed without a time zone database.
func ecbPublication(d time.Time) time.Time {
	at := time.Date(d.Year(), d.Month(), d.Day(), 15, 0, 0, 0, time.UTC)
	start := lastSunday(d.Year(), time.March).Add(time.Hour) // 01:00 UTC
	end := lastSunday(d.Year(), time.October).Add(time.Hour)
	if !at.Before(start) && at.Before(end) {
		at = at.Add(-time.Hour)
	}
	return at
}

// lastSunday is midnight UTC of the last Sunday of month m.
func lastSunday(y int, m time.Month) time.Time {
	d := time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC) // last day of m
	return d.AddDate(0, 0, -int(d.Weekday()))
}

// isTARGETDay reports whether d is a TARGET2 business day, when the ECB
// publishes reference rates: a weekday other than New Year's Day, Good
// Friday, Easter Monday, 1 May, 25 and 26 December.
func isTARGETDay(d time.Time) bool {
	switch d.Weekday() {
	case time.Saturday, time.Sunday:
		return false
	}
	m, day := d.Month(), d.Day()
	if (m == time.January && day == 1) || (m == time.May && day == 1) || (m == time.December && (day == 25 || day == 26)) {
		return false
	}
	easter := easterSunday(d.Year())
	ymd := time.Date(d.Year(), m, day, 0, 0, 0, 0, time.UTC)
	return !ymd.Equal(easter.AddDate(0, 0, -2)) && !ymd.Equal(easter.AddDate(0, 0, 1))
}

// easterSunday is Western Easter of year y (the anonymous Gregorian
// algorithm, Meeus/Jones/Butcher), at midnight UTC.
func easterSunday(y int) time.Time {
	a := y % 19
	b, c := y/100, y%100
	d, e := b/4, b%4
	f := (b + 8) / 25
	g := (b - f + 1) / 3
	h := (19*a + b - d - g + 15) % 30
	i, k := c/4, c%4
	l := (32 + 2*e + 2*i - h - k) % 7
	m := (a + 11*h + 22*l) / 451
	month := (h + l - 7*m + 114) / 31
	day := (h+l-7*m+114)%31 + 1
	return time.Date(y, time.Month(month), day, 0, 0, 0, 0, time.UTC)
}
