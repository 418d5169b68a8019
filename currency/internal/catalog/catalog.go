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
	"sync"

	"github.com/shopspring/decimal"
	"golang.org/x/text/currency"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/ratewire/ratewire/shared/country"
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

// Country is one ISO 3166 country with a currency, from the shared registry.
type Country = country.Country

// Catalog is immutable after New and safe for concurrent use.
type Catalog struct {
	countries  *country.Registry
	currencies map[string]Currency // every currency a country uses or names.go lists
}

var (
	koPrinter = message.NewPrinter(language.Korean)
	enPrinter = message.NewPrinter(language.English)
)

// New builds the catalog: the countries from the shared CLDR registry (the
// same one the ranking resolves clicks with), and for every currency they
// use or names.go lists, its metadata from x/text.
func New() *Catalog {
	c := &Catalog{countries: country.New(), currencies: map[string]Currency{}}
	users := map[string][]string{}
	for _, ct := range c.countries.All() {
		users[ct.Currency] = append(users[ct.Currency], ct.Code)
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
func (c *Catalog) Lookup(input string) (Country, bool) { return c.countries.Lookup(input) }

// Countries returns how many countries the catalog knows.
func (c *Catalog) Countries() int { return len(c.countries.All()) }

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
// per in Korea (DESIGN.md §4): 100 for JPY, IDR and VND, 1 otherwise.
func DisplayUnit(code string) int {
	switch code {
	case "JPY", "IDR", "VND":
		return 100
	}
	return 1
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
