package provider

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/shopspring/decimal"
)

// maxExponent bounds the decimal exponent of any parsed number. Real rates
// are between 1e-6 and 1e6; the bound keeps a hostile "1e-999999999" from
// turning a division into a gigabyte-sized big.Int.
const maxExponent = 30

// maxNumberLen bounds the length of a numeric string.
const maxNumberLen = 64

var one = decimal.NewFromInt(1)

// parseAmount parses a provider's decimal string exactly, accepting
// thousands separators in the integer part ("1,134.5"); separators must
// group digits by three. No float is involved.
func parseAmount(s string) (decimal.Decimal, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, ",") {
		intPart, frac, hasFrac := strings.Cut(s, ".")
		groups := strings.Split(intPart, ",")
		for i, g := range groups {
			if (i == 0 && (len(g) < 1 || len(g) > 3)) || (i > 0 && len(g) != 3) {
				return decimal.Decimal{}, fmt.Errorf("bad thousands separators in %q", s)
			}
		}
		s = strings.Join(groups, "")
		if hasFrac {
			s += "." + frac
		}
	}
	return parseDecimal(s)
}

// parseDecimal parses s exactly and keeps it within sane bounds.
func parseDecimal(s string) (decimal.Decimal, error) {
	if len(s) > maxNumberLen {
		return decimal.Decimal{}, fmt.Errorf("number %.20q... too long", s)
	}
	d, err := decimal.NewFromString(s)
	if err != nil {
		return decimal.Decimal{}, fmt.Errorf("number %q: %w", s, err)
	}
	if e := d.Exponent(); e > maxExponent || e < -maxExponent {
		return decimal.Decimal{}, fmt.Errorf("number %q out of range", s)
	}
	return d, nil
}

// parseJSONNumber parses a JSON number token exactly.
func parseJSONNumber(n json.Number) (decimal.Decimal, error) {
	return parseDecimal(n.String())
}

// errNotPositive marks a rate that is zero or negative. Providers treat it
// as a malformed body: no real provider publishes one, and a zero cannot
// be inverted.
var errNotPositive = errors.New("not positive")

// Precision honesty (DESIGN.md §5): a stored rate never claims more
// significant digits than its source carried. A rate a provider quotes
// directly is stored as written. A rate ratewire computes as a cross,
// KRW per unit = (KRW per base) / (units per base), is rounded half away
// from zero to the fewer significant digits of its two inputs, as written
// in the body: 1695.87 KRW per EUR (6 digits) over 1.1523 USD per EUR (5
// digits) is 1471.7 KRW per USD, not 1471.7183...; a base or an amount
// the provider states (1 EUR, "amount":1.0) is exact and limits nothing.

// sigDigits is how many significant digits d carries as written: the
// digits of its coefficient, leading zeros excluded ("0.000716" has 3,
// "1478.50" has 6). Zero has none.
func sigDigits(d decimal.Decimal) int32 {
	c := d.Coefficient()
	if c.Sign() == 0 {
		return 0
	}
	return int32(len(c.Abs(c).String()))
}

// magnitude is the number of digits of a positive d before its decimal
// point, possibly zero or negative: d lies in [10^(m-1), 10^m).
func magnitude(d decimal.Decimal) int32 {
	return sigDigits(d) + d.Exponent()
}

// roundSig rounds a positive d half away from zero to n significant
// digits.
func roundSig(d decimal.Decimal, n int32) decimal.Decimal {
	if !d.IsPositive() || n <= 0 {
		return d
	}
	r := d.Round(n - magnitude(d))
	if sigDigits(r) > n { // 9.99 to 2 digits is 10.0: one more place to drop
		r = r.Round(n - magnitude(r))
	}
	return r
}

// cross is KRW per one foreign unit from a quote against a common base:
// krw KRW per base and units foreign units per base, krw / units rounded
// to the fewer significant digits of the two (see Precision honesty).
func cross(krw, units decimal.Decimal) (decimal.Decimal, error) {
	if !krw.IsPositive() || !units.IsPositive() {
		return decimal.Decimal{}, errNotPositive
	}
	return crossN(krw, units, min(sigDigits(krw), sigDigits(units)))
}

// crossN is krw / units rounded to n significant digits. krw/units lies
// in [10^(mk-mu-1), 10^(mk-mu+1)), so this many places give the quotient
// at least n+2 digits; it is truncated there, plus a sticky digit when
// the division is inexact, so the one rounding to n digits is exact (no
// double rounding).
func crossN(krw, units decimal.Decimal, n int32) (decimal.Decimal, error) {
	if !krw.IsPositive() || !units.IsPositive() {
		return decimal.Decimal{}, errNotPositive
	}
	places := max(n+2-magnitude(krw)+magnitude(units), 0)
	q, r := krw.QuoRem(units, places)
	if !r.IsZero() {
		q = q.Add(decimal.New(1, -(places + 1)))
	}
	return roundSig(q, n), nil
}

// isCode reports whether s looks like an ISO 4217 code: three ASCII capitals.
func isCode(s string) bool {
	if len(s) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}
