package site

import (
	"strconv"
	"strings"

	"github.com/shopspring/decimal"
)

// group puts thousands separators into the integer part of a plain decimal
// string ("-1234567.5" -> "-1,234,567.5").
func group(s string) string {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	intPart, frac, hasFrac := strings.Cut(s, ".")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, r := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if hasFrac {
		b.WriteByte('.')
		b.WriteString(frac)
	}
	return b.String()
}

// perUnit formats a KRW-per-1 decimal string as KRW per unit units, with
// two decimals and separators: the figure people read on bank boards
// ("9.6596" per 1 JPY -> "965.96" per 100). Bad input gives "".
func perUnit(rate string, unit int) string {
	d, err := decimal.NewFromString(rate)
	if err != nil {
		return ""
	}
	if unit > 1 {
		d = d.Mul(decimal.NewFromInt(int64(unit)))
	}
	return group(d.StringFixed(2))
}

// perUnitPtr is perUnit of an optional rate; nil gives "".
func perUnitPtr(rate *string, unit int) string {
	if rate == nil {
		return ""
	}
	return perUnit(*rate, unit)
}

// amount formats an exact decimal string for reading, keeping its digits.
func amount(s string) string {
	if _, err := decimal.NewFromString(s); err != nil {
		return s
	}
	return group(s)
}

// fixed formats a float with prec decimals and separators.
func fixed(v float64, prec int) string { return group(strconv.FormatFloat(v, 'f', prec, 64)) }

// signed is fixed with an explicit + on positive values.
func signed(v float64, prec int) string {
	s := fixed(v, prec)
	if v > 0 {
		s = "+" + s
	}
	return s
}

// direction is "up", "down" or "flat" for a signed decimal string (the
// class that colours a change), "" when there is none.
func direction(s *string) string {
	if s == nil {
		return ""
	}
	d, err := decimal.NewFromString(*s)
	if err != nil {
		return ""
	}
	switch d.Sign() {
	case 1:
		return "up"
	case -1:
		return "down"
	}
	return "flat"
}

// change formats a change per 1 unit as a change per unit units with a
// sign, and its percent: "+12.30 (+0.93%)". nil gives "".
func change(abs, pct *string, unit int) string {
	if abs == nil {
		return ""
	}
	d, err := decimal.NewFromString(*abs)
	if err != nil {
		return ""
	}
	if unit > 1 {
		d = d.Mul(decimal.NewFromInt(int64(unit)))
	}
	s := group(d.StringFixed(2))
	if d.Sign() > 0 {
		s = "+" + s
	}
	if pct != nil {
		if p, err := decimal.NewFromString(*pct); err == nil {
			ps := p.StringFixed(2)
			if p.Sign() > 0 {
				ps = "+" + ps
			}
			s += " (" + ps + "%)"
		}
	}
	return s
}
