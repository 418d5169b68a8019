package country_test

import (
	"testing"

	"github.com/ratewire/ratewire/shared/country"
	"golang.org/x/text/unicode/norm"
)

var reg = country.New()

func TestLookup(t *testing.T) {
	tests := []struct {
		in, code string
	}{
		{"일본", "JP"}, {"JP", "JP"}, {"jp", "JP"}, {"Japan", "JP"}, {"japan", "JP"}, {"JAPAN", "JP"},
		{"jpn", "JP"}, {"JPN", "JP"}, {"  Japan  ", "JP"},
		{norm.NFD.String("일본"), "JP"}, // decomposed Hangul, as some keyboards send it
		{"미국", "US"}, {"United States", "US"}, {"united  states", "US"}, {"USA", "US"},
		{"대한민국", "KR"}, {"South Korea", "KR"}, {"KOR", "KR"},
		{"영국", "GB"}, {"United Kingdom", "GB"}, {"GBR", "GB"},
		{"홍콩", "HK"}, {"Hong Kong", "HK"}, {"Hong Kong SAR China", "HK"},
		{"베트남", "VN"}, {"Vietnam", "VN"}, {"VNM", "VN"},
		{"독일", "DE"}, {"Germany", "DE"},
	}
	for _, tt := range tests {
		c, ok := reg.Lookup(tt.in)
		if !ok || c.Code != tt.code {
			t.Errorf("Lookup(%q) = %s, %v; want %s", tt.in, c.Code, ok, tt.code)
		}
	}
	for _, in := range []string{"", " ", "Atlantis", "XX", "ZZ", "EU", "UN", "XK", "AQ", "QO", "BU", "IC", "EA", "JPY", "J", "Japan!", "일"} {
		if c, ok := reg.Lookup(in); ok {
			t.Errorf("Lookup(%q) = %s, want no country", in, c.Code)
		}
	}
}

func TestJapanRecord(t *testing.T) {
	c, ok := reg.ByCode("JP")
	want := country.Country{Code: "JP", Alpha3: "JPN", NameKo: "일본", NameEn: "Japan", Currency: "JPY"}
	if !ok || c != want {
		t.Errorf("ByCode(JP) = %+v, want %+v", c, want)
	}
}

func TestRegistryCoversTheWorld(t *testing.T) {
	all := reg.All()
	// ISO 3166 has 249 codes; CLDR drops the uninhabited ones without a
	// currency and keeps a few more. Far fewer means the enumeration broke.
	if len(all) < 240 || len(all) > 260 {
		t.Fatalf("registry has %d countries, want about 250", len(all))
	}
	seen := map[string]bool{}
	for i, c := range all {
		if i > 0 && all[i-1].Code >= c.Code {
			t.Errorf("All not ordered by code at %s", c.Code)
		}
		if len(c.Code) != 2 || len(c.Alpha3) != 3 || len(c.Currency) != 3 || c.NameKo == "" || c.NameEn == "" {
			t.Errorf("incomplete record %+v", c)
		}
		for _, key := range []string{c.Code, c.Alpha3, c.NameKo, c.NameEn} {
			got, ok := reg.Lookup(key)
			if !ok || got.Code != c.Code {
				t.Errorf("Lookup(%q) = %s, %v; want %s (every code and name is accepted and unambiguous)", key, got.Code, ok, c.Code)
			}
		}
		if seen[c.NameEn] {
			t.Errorf("two countries named %q", c.NameEn)
		}
		seen[c.NameEn] = true
	}
}
