package event

import (
	"strconv"
	"unicode/utf8"

	"github.com/shopspring/decimal"
)

// decodeRateFast decodes an exchange_rate_updated payload written the way
// Encode writes it, without reflection: consumers decode one per changed
// currency per run, and the general decoder was most of their CPU time
// (BenchmarkDecodeExchangeRateUpdated). It reports false, having decided
// nothing, for anything it does not read exactly as the general decoder
// would: a key that is not one of the struct's exact JSON names, an escape
// sequence, a control character or invalid UTF-8 in a string, a number
// that is not a plain integer, null where a value is needed, a nested
// value, trailing data. Decode then uses the general decoder, so both
// paths accept and reject the same payloads with the same result
// (FuzzDecodeRateFast checks it). Decimals and times go through their own
// UnmarshalJSON, as they do in the general decoder.
func decodeRateFast(b []byte, e *ExchangeRateUpdated) bool {
	p := rateParser{b: b}
	p.space()
	if !p.byte('{') {
		return false
	}
	p.space()
	if p.byte('}') {
		return p.end()
	}
	for {
		key, ok := p.str()
		if !ok {
			return false
		}
		p.space()
		if !p.byte(':') {
			return false
		}
		p.space()
		if !p.field(key, e) {
			return false
		}
		p.space()
		if p.byte(',') {
			p.space()
			continue
		}
		if p.byte('}') {
			return p.end()
		}
		return false
	}
}

// rateParser reads b from i on.
type rateParser struct {
	b []byte
	i int
}

// field reads the value of key into e.
func (p *rateParser) field(key []byte, e *ExchangeRateUpdated) bool {
	switch string(key) {
	case "event_id":
		return p.text(&e.EventID)
	case "event_type":
		return p.text(&e.EventType)
	case "correlation_id":
		return p.text(&e.CorrelationID)
	case "currency_code":
		return p.text(&e.CurrencyCode)
	case "currency_name":
		return p.text(&e.CurrencyName)
	case "source":
		return p.text(&e.Source)
	case "rate_date":
		return p.text(&e.RateDate)
	case "schema_version":
		n, ok := p.integer(strconv.IntSize)
		e.SchemaVersion = int(n)
		return ok
	case "version":
		n, ok := p.integer(64)
		e.Version = n
		return ok
	case "deal_base_rate":
		raw, ok := p.quoted()
		return ok && e.DealBaseRate.UnmarshalJSON(raw) == nil
	case "tts":
		return p.optionalDecimal(&e.TTS)
	case "ttb":
		return p.optionalDecimal(&e.TTB)
	case "recorded_at":
		raw, ok := p.quoted()
		return ok && e.RecordedAt.UnmarshalJSON(raw) == nil
	case "updated_at":
		raw, ok := p.quoted()
		return ok && e.UpdatedAt.UnmarshalJSON(raw) == nil
	}
	return false
}

func (p *rateParser) space() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// byte consumes c if it comes next.
func (p *rateParser) byte(c byte) bool {
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

// end reports whether only white space is left.
func (p *rateParser) end() bool {
	p.space()
	return p.i == len(p.b)
}

// quoted consumes a string that needs no unescaping and returns it with its
// quotes.
func (p *rateParser) quoted() ([]byte, bool) {
	if !p.byte('"') {
		return nil, false
	}
	start := p.i - 1
	ascii := true
	for ; p.i < len(p.b); p.i++ {
		c := p.b[p.i]
		if c == '"' {
			p.i++
			raw := p.b[start:p.i]
			return raw, ascii || utf8.Valid(raw)
		}
		if c == '\\' || c < 0x20 {
			return nil, false
		}
		if c >= utf8.RuneSelf {
			ascii = false
		}
	}
	return nil, false
}

// str consumes a plain string and returns its contents.
func (p *rateParser) str() ([]byte, bool) {
	raw, ok := p.quoted()
	if !ok {
		return nil, false
	}
	return raw[1 : len(raw)-1], true
}

// text consumes a plain string into s.
func (p *rateParser) text(s *string) bool {
	v, ok := p.str()
	if ok {
		*s = string(v)
	}
	return ok
}

// integer consumes a JSON integer that fits in bits.
func (p *rateParser) integer(bits int) (int64, bool) {
	start := p.i
	p.byte('-')
	digits := p.i
	for p.i < len(p.b) && '0' <= p.b[p.i] && p.b[p.i] <= '9' {
		p.i++
	}
	if p.i == digits || (p.b[digits] == '0' && p.i-digits > 1) {
		return 0, false // no digits, or a leading zero
	}
	if p.i < len(p.b) {
		switch p.b[p.i] {
		case '.', 'e', 'E':
			return 0, false
		}
	}
	n, err := strconv.ParseInt(string(p.b[start:p.i]), 10, bits)
	return n, err == nil
}

// optionalDecimal consumes null (nil) or a quoted decimal.
func (p *rateParser) optionalDecimal(d **decimal.Decimal) bool {
	if p.i+4 <= len(p.b) && string(p.b[p.i:p.i+4]) == "null" {
		p.i += 4
		*d = nil
		return true
	}
	raw, ok := p.quoted()
	if !ok {
		return false
	}
	v := new(decimal.Decimal)
	if v.UnmarshalJSON(raw) != nil {
		return false
	}
	*d = v
	return true
}
