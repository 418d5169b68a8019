// Package catalog is the currency service's metadata: for each ISO 4217
// currency its Korean and English names, symbols, minor units, display
// unit and the countries that use it; for each country its names, ISO
// codes and currency. Everything except the currency names comes from the
// CLDR and ISO data in golang.org/x/text (region names in Korean and
// English, alpha-3 codes, currency.FromRegion, symbols, rounding), so it
// follows the maintained data when x/text is upgraded; the names come from
// the short table in names.go because x/text carries none.
package catalog

import (
	"sort"
	"strings"
	"sync"
	"unicode"

	"github.com/shopspring/decimal"
	"golang.org/x/text/currency"
	"golang.org/x/text/language"
	"golang.org/x/text/language/display"
	"golang.org/x/text/message"
	"golang.org/x/text/unicode/norm"
)

// Currency is the metadata of one currency.
type Currency struct {
	Code string `json:"currency_code"`
	// NameKo and NameEn come from names.go; the code when it lacks one.
	NameKo string `json:"currency_name"`
	NameEn string `json:"currency_name_en"`
	// Symbol is CLDR's Korean-locale symbol ("US$", "JP¥", "₩"), which
	// tells dollars and yens apart; NarrowSymbol is the bare sign ("$").
	Symbol       string `json:"symbol"`
	NarrowSymbol string `json:"symbol_narrow"`
	// Countries are the ISO 3166-1 alpha-2 codes of the countries whose
	// current tender it is, sorted.
	Countries []string `json:"countries"`
	// DisplayUnit is how many units Korean banks quote it per.
	DisplayUnit int `json:"display_unit"`
	// MinorUnits is CLDR's standard number of decimal places.
	MinorUnits int `json:"minor_units"`
}

// Country is one ISO 3166 country that has a currency of its own.
type Country struct {
	Code     string `json:"country_code"`
	Alpha3   string `json:"country_code_alpha3"`
	NameKo   string `json:"country_name"`
	NameEn   string `json:"country_name_en"`
	Currency string `json:"currency_code"`
}

// Catalog is immutable after New and safe for concurrent use.
type Catalog struct {
	countries  map[string]Country  // alpha-2 -> country
	index      map[string]string   // normalised name or code -> alpha-2
	currencies map[string]Currency // every currency a country uses or names.go lists
}

// MaxCountryInput bounds what Lookup looks at; no CLDR name comes close.
const MaxCountryInput = 100

var (
	koPrinter = message.NewPrinter(language.Korean)
	enPrinter = message.NewPrinter(language.English)
)

// New builds the catalog from x/text's tables. It enumerates every
// two-letter region, keeping canonical ISO 3166-1 countries (not macro
// regions, deprecated, private-use or exceptionally reserved codes) that
// have a currency (which drops uninhabited territories such as AQ). The
// approach is the ranking service's country registry, rebuilt here because
// services share no domain code.
func New() *Catalog {
	ko := display.Korean.Regions()
	en := display.English.Regions()
	c := &Catalog{countries: map[string]Country{}, index: map[string]string{}, currencies: map[string]Currency{}}
	users := map[string][]string{}
	var all []Country
	for a := 'A'; a <= 'Z'; a++ {
		for b := 'A'; b <= 'Z'; b++ {
			code := string([]rune{a, b})
			reg, err := language.ParseRegion(code)
			if err != nil || reg.String() != code || !reg.IsCountry() || reg.IsPrivateUse() || reg.M49() == 0 {
				continue
			}
			unit, ok := currency.FromRegion(reg)
			if !ok {
				continue
			}
			ct := Country{Code: code, Alpha3: reg.ISO3(), NameKo: ko.Name(reg), NameEn: en.Name(reg), Currency: unit.String()}
			if ct.NameKo == "" || ct.NameEn == "" || len(ct.Alpha3) != 3 {
				continue
			}
			c.countries[code] = ct
			all = append(all, ct)
			users[ct.Currency] = append(users[ct.Currency], code)
		}
	}
	// Codes first, then full names, then short forms: an earlier entry is
	// never overwritten, so a short form cannot steal a code or a name.
	for _, ct := range all {
		c.add(ct.Code, ct.Code)
		c.add(ct.Alpha3, ct.Code)
	}
	for _, ct := range all {
		c.add(ct.NameKo, ct.Code)
		c.add(ct.NameEn, ct.Code)
	}
	for _, ct := range all {
		for _, n := range shortForms(ct) {
			c.add(n, ct.Code)
		}
	}
	for code := range names {
		if _, ok := users[code]; !ok {
			users[code] = nil
		}
	}
	for code, cs := range users {
		cur := describe(code)
		cur.Countries = append([]string{}, cs...)
		sort.Strings(cur.Countries)
		c.currencies[code] = cur
	}
	return c
}

// describe builds a currency's metadata without its countries.
func describe(code string) Currency {
	cur := Currency{Code: code, NameKo: code, NameEn: code, Symbol: code, NarrowSymbol: code,
		Countries: []string{}, DisplayUnit: DisplayUnit(code), MinorUnits: 2}
	if n, ok := names[code]; ok {
		cur.NameKo, cur.NameEn = n[0], n[1]
	}
	if unit, err := currency.ParseISO(code); err == nil {
		cur.Symbol = koPrinter.Sprint(currency.Symbol(unit))
		cur.NarrowSymbol = enPrinter.Sprint(currency.NarrowSymbol(unit))
		cur.MinorUnits, _ = currency.Standard.Rounding(unit)
	}
	return cur
}

// Currency returns the metadata of an upper-case three-letter code; a code
// the catalog does not know gets its code as names and symbol, two minor
// units and no countries.
func (c *Catalog) Currency(code string) Currency {
	if cur, ok := c.currencies[code]; ok {
		return cur
	}
	return describe(code)
}

// Lookup finds the country input names: a Korean or English CLDR name
// (or its short form, "홍콩" for "홍콩(중국 특별행정구)") or an alpha-2
// or alpha-3 code, in any letter case.
func (c *Catalog) Lookup(input string) (Country, bool) {
	if len(input) > MaxCountryInput {
		return Country{}, false
	}
	code, ok := c.index[normalize(input)]
	if !ok {
		return Country{}, false
	}
	return c.countries[code], true
}

// Countries returns how many countries the catalog knows.
func (c *Catalog) Countries() int { return len(c.countries) }

// Round rounds an amount of currency code to its CLDR standard minor units
// (and rounding increment, where CLDR has one), half away from zero, and
// returns the scale it rounded to.
func Round(code string, amount decimal.Decimal) (decimal.Decimal, int) {
	scale, inc := 2, 1
	if unit, err := currency.ParseISO(code); err == nil {
		scale, inc = currency.Standard.Rounding(unit)
	}
	if inc > 1 {
		step := decimal.New(int64(inc), int32(-scale))
		return amount.Div(step).Round(0).Mul(step), scale
	}
	return amount.Round(int32(scale)), scale
}

// DisplayUnit is the number of units a currency is conventionally quoted
// per in Korea (DESIGN §4): 100 for JPY, IDR and VND, 1 otherwise.
func DisplayUnit(code string) int {
	switch code {
	case "JPY", "IDR", "VND":
		return 100
	}
	return 1
}

func (c *Catalog) add(name, code string) {
	k := normalize(name)
	if k == "" {
		return
	}
	if _, taken := c.index[k]; !taken {
		c.index[k] = code
	}
}

// shortForms are the names people type for countries whose CLDR name is
// long: the Korean name without its parenthesis and the English name
// without its qualifier ("Hong Kong SAR China" -> "Hong Kong").
func shortForms(c Country) []string {
	var out []string
	if i := strings.IndexAny(c.NameKo, "(（"); i > 0 {
		out = append(out, strings.TrimSpace(c.NameKo[:i]))
	}
	if i := strings.Index(c.NameEn, " SAR "); i > 0 {
		out = append(out, c.NameEn[:i])
	}
	if i := strings.IndexAny(c.NameEn, "(,"); i > 0 {
		out = append(out, strings.TrimSpace(c.NameEn[:i]))
	}
	return out
}

// normalize folds what users vary without meaning anything: Unicode form
// (NFC, so decomposed Hangul matches), letter case, and spaces.
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

var (
	sharedOnce sync.Once
	shared     *Catalog
)

// Shared returns one catalog for the process, built on first use: it is
// immutable, and building it walks every region once.
func Shared() *Catalog {
	sharedOnce.Do(func() { shared = New() })
	return shared
}

// Codes lists every currency code the catalog knows, sorted.
func (c *Catalog) Codes() []string {
	out := make([]string, 0, len(c.currencies))
	for code := range c.currencies {
		out = append(out, code)
	}
	sort.Strings(out)
	return out
}
