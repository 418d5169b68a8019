package series

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/ratewire/ratewire/shared/apperr"
	"github.com/ratewire/ratewire/shared/kst"
)

// Error codes of the history API beyond apperr's.
const (
	CodeInvalidPeriod   = "INVALID_PERIOD"
	CodeInvalidCurrency = "INVALID_CURRENCY_CODE"
	CodeNotEnoughData   = "INSUFFICIENT_HISTORY"
)

// MaxPoints caps the buckets one answer may hold; a request above it gets
// 400 with a hint naming an interval that fits.
const MaxPoints = 1000

// MaxTargets bounds the currencies one comparison may hold.
const MaxTargets = 10

// Interval is the width of one bucket. Daily and weekly buckets are KST
// calendar days (and Monday-started weeks of them) read from daily_rates;
// shorter ones are cut from raw observations, aligned to KST.
type Interval struct {
	Name string
	Step time.Duration
}

// Daily reports whether the interval is read from the daily aggregates.
func (iv Interval) Daily() bool { return iv.Step >= 24*time.Hour }

// Weekly reports whether buckets are weeks of daily aggregates.
func (iv Interval) Weekly() bool { return iv.Step >= 7*24*time.Hour }

var intervals = []Interval{
	{"5m", 5 * time.Minute}, {"15m", 15 * time.Minute}, {"30m", 30 * time.Minute},
	{"1h", time.Hour}, {"4h", 4 * time.Hour}, {"1d", 24 * time.Hour}, {"1w", 7 * 24 * time.Hour},
}

// periods maps each period to how far back it reaches and its default
// interval: a 1d chart at 5-minute points, a week hourly, a month to six
// months daily, a year weekly.
var periods = map[string]struct {
	years, months, days int
	interval            string
}{
	"1d": {0, 0, 1, "5m"}, "1w": {0, 0, 7, "1h"}, "1m": {0, 1, 0, "1d"},
	"3m": {0, 3, 0, "1d"}, "6m": {0, 6, 0, "1d"}, "1y": {1, 0, 0, "1w"},
}

// PeriodNames lists the accepted periods, shortest first.
var PeriodNames = []string{"1d", "1w", "1m", "3m", "6m", "1y"}

// DefaultPeriod applies when neither period nor from/to is given.
const DefaultPeriod = "1m"

// Window is a resolved time range [From, To) with its bucket interval.
// Period is empty for an explicit from/to range.
type Window struct {
	Period   string
	From, To time.Time
	Interval Interval
	// EndsNow marks a window that ends at the reader's clock (a period, or
	// from without to) rather than at an instant the client named. Its
	// reads have no upper bound, so an observation stamped in the reader's
	// own second or by a clock slightly ahead is answered, not left out of
	// an answer the cache then keeps; To then moves past it (see reaching).
	EndsNow bool
}

// OpenEnd is the upper bound of the reads of a window that ends now: later
// than any stamp, so every committed observation from From on is read.
var OpenEnd = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)

// readTo is where w's reads stop (exclusive).
func (w Window) readTo() time.Time {
	if w.EndsNow {
		return OpenEnd
	}
	return w.To
}

// reaching is w as read when the newest data read lies at newest: a window
// that ends now and read data at or after its nominal To reports To as the
// whole second after that data, so every answered observation lies in
// [From, To). Explicit windows are exact and never move.
func (w Window) reaching(newest time.Time) Window {
	if w.EndsNow && !newest.Before(w.To) {
		w.To = newest.UTC().Truncate(time.Second).Add(time.Second)
	}
	return w
}

// Label names the window in cache keys: the period, or the range in Unix
// seconds.
func (w Window) Label() string {
	if w.Period != "" {
		return w.Period
	}
	return strconv.FormatInt(w.From.Unix(), 10) + "-" + strconv.FormatInt(w.To.Unix(), 10)
}

// Points is how many buckets the window spans at its interval.
func (w Window) Points() int { return pointsOf(w.To.Sub(w.From), w.Interval.Step) }

func pointsOf(span, step time.Duration) int { return int((span + step - 1) / step) }

func parseInterval(s string) (Interval, bool) {
	for _, iv := range intervals {
		if iv.Name == s {
			return iv, true
		}
	}
	return Interval{}, false
}

func intervalNames() string {
	names := make([]string, len(intervals))
	for i, iv := range intervals {
		names[i] = iv.Name
	}
	return strings.Join(names, ", ")
}

// defaultInterval picks the interval for a span without a period: the
// default of the shortest period that covers it.
func defaultInterval(span time.Duration) Interval {
	var name string
	switch {
	case span <= 26*time.Hour:
		name = "5m"
	case span <= 8*24*time.Hour:
		name = "1h"
	case span <= 200*24*time.Hour:
		name = "1d"
	default:
		name = "1w"
	}
	iv, _ := parseInterval(name)
	return iv
}

// ParseWindow resolves the period, interval, from and to query parameters
// at instant now. Either period or from (with an optional to, default now)
// is given, not both; neither means DefaultPeriod. Without to the window
// ends now (EndsNow). Dates are RFC 3339
// instants or KST calendar days (YYYY-MM-DD; a day as `to` includes that
// whole day). Without interval the period's default applies; a window of
// more than MaxPoints buckets is refused with a hint.
func ParseWindow(period, interval, from, to string, now time.Time) (Window, error) {
	now = now.UTC().Truncate(time.Second) // answers name whole seconds
	period, interval = strings.TrimSpace(period), strings.TrimSpace(interval)
	from, to = strings.TrimSpace(from), strings.TrimSpace(to)
	var w Window
	switch {
	case period != "" && (from != "" || to != ""):
		return Window{}, apperr.Invalid(apperr.CodeInvalidParameter, "give either period or from/to, not both",
			map[string]any{"period": period, "from": from, "to": to})
	case from == "" && to != "":
		return Window{}, apperr.Invalid(apperr.CodeInvalidParameter, "to needs from", map[string]any{"to": to})
	case from != "":
		f, err := parseInstant("from", from, false)
		if err != nil {
			return Window{}, err
		}
		t := now
		if to != "" {
			if t, err = parseInstant("to", to, true); err != nil {
				return Window{}, err
			}
		}
		if !t.After(f) {
			return Window{}, apperr.Invalid(apperr.CodeInvalidParameter, "empty range: from must be before to",
				map[string]any{"from": from, "to": to})
		}
		w = Window{From: f.UTC(), To: t.UTC(), Interval: defaultInterval(t.Sub(f)), EndsNow: to == ""}
	default:
		if period == "" {
			period = DefaultPeriod
		}
		p, ok := periods[strings.ToLower(period)]
		if !ok {
			return Window{}, apperr.Invalid(CodeInvalidPeriod,
				fmt.Sprintf("unknown period %q; use one of %s", period, strings.Join(PeriodNames, ", ")),
				map[string]any{"period": period, "allowed": PeriodNames})
		}
		period = strings.ToLower(period)
		iv, _ := parseInterval(p.interval)
		end := now.UTC()
		w = Window{Period: period, From: end.AddDate(-p.years, -p.months, -p.days), To: end, Interval: iv, EndsNow: true}
	}
	if interval != "" {
		iv, ok := parseInterval(strings.ToLower(interval))
		if !ok {
			return Window{}, apperr.Invalid(apperr.CodeInvalidParameter,
				fmt.Sprintf("unknown interval %q; use one of %s", interval, intervalNames()),
				map[string]any{"interval": interval})
		}
		w.Interval = iv
	}
	if n := w.Points(); n > MaxPoints {
		hint := ""
		for _, iv := range intervals {
			if pointsOf(w.To.Sub(w.From), iv.Step) <= MaxPoints {
				hint = iv.Name
				break
			}
		}
		return Window{}, apperr.Invalid(apperr.CodeInvalidParameter,
			fmt.Sprintf("%d points at interval %s exceeds the limit of %d; use interval=%s or a shorter range",
				n, w.Interval.Name, MaxPoints, hint),
			map[string]any{"points": n, "max_points": MaxPoints, "interval": w.Interval.Name, "hint": "interval=" + hint})
	}
	return w, nil
}

// earliest bounds accepted dates: nothing before it is rate history.
var earliest = time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC)

func parseInstant(name, s string, endOfDay bool) (time.Time, error) {
	bad := func(why string) error {
		return apperr.Invalid(apperr.CodeInvalidParameter,
			fmt.Sprintf("%s %q %s; use RFC 3339 (2026-11-01T00:00:00+09:00) or a KST day (2026-11-01)", name, s, why),
			map[string]any{name: s})
	}
	var t time.Time
	if len(s) == len("2006-01-02") {
		d, err := kst.ParseDay(s)
		if err != nil {
			return time.Time{}, bad("is not a date")
		}
		if endOfDay {
			d = d.AddDate(0, 0, 1)
		}
		t = d
	} else {
		d, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return time.Time{}, bad("is not a date")
		}
		t = d
	}
	if t.Before(earliest) || t.Year() > 9000 {
		return time.Time{}, bad("is out of range")
	}
	return t, nil
}

var codePattern = regexp.MustCompile(`^[A-Za-z]{3}$`)

// ParseCode checks and upper-cases an ISO 4217 code from user input. An
// empty value is refused: callers apply their own defaults first.
func ParseCode(name, s string) (string, error) {
	s = strings.TrimSpace(s)
	if !codePattern.MatchString(s) {
		return "", apperr.Invalid(CodeInvalidCurrency,
			fmt.Sprintf("%s %q is not a three-letter ISO 4217 currency code", name, s), map[string]any{name: s})
	}
	return strings.ToUpper(s), nil
}

// ParsePair reads target and base (default KRW), which must differ.
func ParsePair(target, base string) (string, string, error) {
	if strings.TrimSpace(base) == "" {
		base = "KRW"
	}
	b, err := ParseCode("base", base)
	if err != nil {
		return "", "", err
	}
	if strings.TrimSpace(target) == "" {
		return "", "", apperr.Invalid(CodeInvalidCurrency, "target is required", map[string]any{"target": ""})
	}
	t, err := ParseCode("target", target)
	if err != nil {
		return "", "", err
	}
	if t == b {
		return "", "", apperr.Invalid(apperr.CodeInvalidParameter, "target and base must differ",
			map[string]any{"target": t, "base": b})
	}
	return t, b, nil
}

// ParseTargets reads a comma-separated list of 2..MaxTargets distinct
// codes, none of them the base.
func ParseTargets(s, base string) ([]string, error) {
	parts := strings.Split(s, ",")
	if strings.TrimSpace(s) == "" || len(parts) < 2 || len(parts) > MaxTargets {
		return nil, apperr.Invalid(apperr.CodeInvalidParameter,
			fmt.Sprintf("targets needs 2 to %d comma-separated currency codes", MaxTargets), map[string]any{"targets": s})
	}
	seen := make(map[string]bool, len(parts))
	out := make([]string, 0, len(parts))
	for _, p := range parts {
		c, err := ParseCode("targets", p)
		if err != nil {
			return nil, err
		}
		if c == base {
			return nil, apperr.Invalid(apperr.CodeInvalidParameter, "targets must not contain the base",
				map[string]any{"targets": s, "base": base})
		}
		if seen[c] {
			return nil, apperr.Invalid(apperr.CodeInvalidParameter, fmt.Sprintf("%s appears twice in targets", c),
				map[string]any{"targets": s})
		}
		seen[c] = true
		out = append(out, c)
	}
	return out, nil
}

// MaxForecastDays is the longest forecast horizon.
const MaxForecastDays = 30

// ParseDays reads the forecast horizon, 1..MaxForecastDays, default 7.
func ParseDays(s string) (int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 7, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > MaxForecastDays {
		return 0, apperr.Invalid(apperr.CodeInvalidParameter,
			fmt.Sprintf("days %q must be a whole number from 1 to %d", s, MaxForecastDays), map[string]any{"days": s})
	}
	return n, nil
}
