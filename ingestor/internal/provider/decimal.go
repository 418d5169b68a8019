package provider

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/shopspring/decimal"
)

// InversePlaces is the precision, in decimal places, of rates obtained by
// inverting a provider's "foreign units per 1 KRW" (ExchangeRate-API,
// Frankfurter): KRW per unit = 1 / v, rounded half away from zero to 10
// places (decimal.DivRound). The inputs carry 4-6 significant digits
// (e.g. 0.000716), so 10 places keeps every digit they justify even for
// currencies worth a few hundredths of a won, and the result is
// reproducible bit for bit.
const InversePlaces = 10

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

// invert turns "v foreign units per amount KRW" into KRW per one foreign
// unit, amount / v, rounded to InversePlaces.
func invert(amount, v decimal.Decimal) (decimal.Decimal, error) {
	if !v.IsPositive() || !amount.IsPositive() {
		return decimal.Decimal{}, errNotPositive
	}
	return amount.DivRound(v, InversePlaces), nil
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
