// Package country is the registry of the countries users may name: the
// ranking counts clicks on them and the currency service searches by them,
// and both must resolve "일본", "Japan", "JP" and "jpn" alike, so it is
// shared reference data like the event contract. It is built once from the
// CLDR and ISO data that golang.org/x/text carries — Korean and English region names, ISO 3166 alpha-2 and alpha-3
// codes, and each region's current currency — rather than from a
// hand-typed table, so it follows the maintained data when x/text is
// upgraded.
package country

import (
	"sort"
	"strings"
	"unicode"

	"golang.org/x/text/currency"
	"golang.org/x/text/language"
	"golang.org/x/text/language/display"
	"golang.org/x/text/unicode/norm"
)

// Country is one ISO 3166 country that has a currency of its own.
type Country struct {
	// Code is the ISO 3166-1 alpha-2 code, e.g. "JP".
	Code string `json:"country_code"`
	// Alpha3 is the ISO 3166-1 alpha-3 code, e.g. "JPN".
	Alpha3 string `json:"-"`
	// NameKo is the CLDR Korean name, e.g. "일본".
	NameKo string `json:"country_name"`
	// NameEn is the CLDR English name, e.g. "Japan".
	NameEn string `json:"country_name_en"`
	// Currency is the ISO 4217 code of the country's current tender.
	Currency string `json:"currency_code"`
}

// Registry answers which country a user-supplied name or code means.
// It is immutable after New and safe for concurrent use.
type Registry struct {
	byCode map[string]Country // alpha-2 -> country
	index  map[string]string  // normalised name or code -> alpha-2
	all    []Country          // by alpha-2
}

// MaxInputLen bounds what Lookup will look at: no country name in CLDR
// comes close, and it keeps hostile input from costing anything.
const MaxInputLen = 200

// New builds the registry from x/text's tables. It enumerates every
// two-letter region code, keeping the canonical ones that are countries
// (not macro regions such as EU or UN, not deprecated codes such as BU,
// not private-use codes such as XK, not exceptionally reserved codes such
// as IC) and that have a currency (which drops uninhabited territories
// such as AQ).
func New() *Registry {
	ko := display.Korean.Regions()
	en := display.English.Regions()
	r := &Registry{byCode: map[string]Country{}, index: map[string]string{}}
	for a := 'A'; a <= 'Z'; a++ {
		for b := 'A'; b <= 'Z'; b++ {
			code := string([]rune{a, b})
			reg, err := language.ParseRegion(code)
			// M49 is 0 for ISO's exceptionally reserved codes (AC, DG,
			// EA, IC, TA, ...), which are not ISO 3166-1 countries.
			if err != nil || reg.String() != code || !reg.IsCountry() || reg.IsPrivateUse() || reg.M49() == 0 {
				continue
			}
			unit, ok := currency.FromRegion(reg)
			if !ok {
				continue
			}
			c := Country{
				Code: code, Alpha3: reg.ISO3(), NameKo: ko.Name(reg), NameEn: en.Name(reg),
				Currency: unit.String(),
			}
			if c.NameKo == "" || c.NameEn == "" || len(c.Alpha3) != 3 {
				continue
			}
			r.byCode[code] = c
			r.all = append(r.all, c)
		}
	}
	sort.Slice(r.all, func(i, j int) bool { return r.all[i].Code < r.all[j].Code })
	// Codes first, then full names, then the short forms derived from them:
	// an earlier entry is never overwritten, so a short form can never
	// steal a code or another country's full name.
	for _, c := range r.all {
		r.add(c.Code, c.Code)
		r.add(c.Alpha3, c.Code)
	}
	for _, c := range r.all {
		r.add(c.NameKo, c.Code)
		r.add(c.NameEn, c.Code)
	}
	for _, c := range r.all {
		for _, n := range shortForms(c) {
			r.add(n, c.Code)
		}
	}
	return r
}

func (r *Registry) add(name, code string) {
	k := normalize(name)
	if k == "" {
		return
	}
	if _, taken := r.index[k]; !taken {
		r.index[k] = code
	}
}

// shortForms are the names people type for countries whose CLDR name is
// long: the Korean name without its parenthesis ("홍콩(중국 특별행정구)"
// -> "홍콩") and the English name without its qualifier ("Hong Kong SAR
// China" -> "Hong Kong").
func shortForms(c Country) []string {
	var out []string
	if i := strings.IndexAny(c.NameKo, "(（"); i > 0 {
		out = append(out, c.NameKo[:i])
	}
	if i := strings.Index(c.NameEn, " SAR "); i > 0 {
		out = append(out, c.NameEn[:i])
	}
	if i := strings.IndexAny(c.NameEn, "(,"); i > 0 {
		out = append(out, c.NameEn[:i])
	}
	return out
}

// normalize folds what users vary without meaning anything: Unicode form
// (NFC, so decomposed Hangul from some keyboards matches), letter case,
// and surrounding or repeated spaces.
func normalize(s string) string {
	s = norm.NFC.String(s)
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range s {
		if unicode.IsSpace(r) {
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// Lookup finds the country that input names: a Korean or English CLDR
// name or an alpha-2 or alpha-3 code, in any letter case.
func (r *Registry) Lookup(input string) (Country, bool) {
	if len(input) > MaxInputLen {
		return Country{}, false
	}
	code, ok := r.index[normalize(input)]
	if !ok {
		return Country{}, false
	}
	return r.byCode[code], true
}

// ByCode returns the country with alpha-2 code, exactly as stored.
func (r *Registry) ByCode(code string) (Country, bool) {
	c, ok := r.byCode[code]
	return c, ok
}

// All returns every country, ordered by alpha-2 code.
func (r *Registry) All() []Country { return append([]Country(nil), r.all...) }
