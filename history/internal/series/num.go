package series

import (
	"bytes"
	"math"
	"strconv"
)

// Num is a computed value in an answer. It encodes to JSON rounded to ten
// significant digits (rates are quoted to far fewer; this hides float
// noise, not information) and encodes NaN or ±Inf — a value the data
// cannot give — as null, so every answer keeps one shape.
type Num float64

// sigDigits is the precision of encoded numbers.
const sigDigits = 10

// Valid reports whether n is a finite number.
func (n Num) Valid() bool { return !math.IsNaN(float64(n)) && !math.IsInf(float64(n), 0) }

// MarshalJSON implements json.Marshaler.
func (n Num) MarshalJSON() ([]byte, error) {
	if !n.Valid() {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, round(float64(n)), 'g', -1, 64), nil
}

// UnmarshalJSON implements json.Unmarshaler; null is NaN.
func (n *Num) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		*n = Num(math.NaN())
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return err
	}
	*n = Num(f)
	return nil
}

// round keeps sigDigits significant digits of x.
func round(x float64) float64 {
	if x == 0 {
		return 0
	}
	e := math.Floor(math.Log10(math.Abs(x)))
	scale := math.Pow(10, sigDigits-1-e)
	r := math.Round(x*scale) / scale
	if math.IsInf(scale, 0) || math.IsNaN(r) {
		return x
	}
	return r
}
