package httpapi_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/ratewire/ratewire/ranking/internal/httpapi"
	"github.com/ratewire/ratewire/shared/apperr"
	"github.com/ratewire/ratewire/shared/country"
)

func TestParseClick(t *testing.T) {
	tests := []struct {
		query, body, want, code string
	}{
		{"JP", "", "JP", ""},
		{"일본", `{"country":"US"}`, "일본", ""}, // the query parameter wins
		{"", `{"country":"Japan"}`, "Japan", ""},
		{"", ` {"country":"jpn"} `, "jpn", ""},
		{"", `{"country":"JP","extra":1}`, "JP", ""},
		{"", "", "", "INVALID_COUNTRY"},
		{"  ", "", "", "INVALID_COUNTRY"},
		{"", `{}`, "", "INVALID_COUNTRY"},
		{"", `{"country":null}`, "", "INVALID_COUNTRY"},
		{"", `{"country":"  "}`, "", "INVALID_COUNTRY"},
		{"", `{"country":1}`, "", "INVALID_PARAMETER"},
		{"", `"JP"`, "", "INVALID_PARAMETER"},
		{"", `{"country":"JP"}{"country":"US"}`, "", "INVALID_PARAMETER"},
		{"", `country=JP`, "", "INVALID_PARAMETER"},
	}
	for _, tt := range tests {
		got, err := httpapi.ParseClick(tt.query, []byte(tt.body))
		if tt.code == "" {
			if err != nil || got != tt.want {
				t.Errorf("ParseClick(%q, %q) = %q, %v; want %q", tt.query, tt.body, got, err, tt.want)
			}
			continue
		}
		e, ok := apperr.As(err)
		if !ok || e.Kind != apperr.KindInvalid || e.Code != tt.code {
			t.Errorf("ParseClick(%q, %q) error = %v, want invalid %s", tt.query, tt.body, err, tt.code)
		}
	}
}

var registry = country.New()

// FuzzParseClick feeds arbitrary query values and bodies through the click
// parser and the country registry: they never panic, a failure is always
// a client error, and any country found is a real one that its own code
// finds again.
func FuzzParseClick(f *testing.F) {
	seeds := []struct{ query, body string }{
		{"JP", ""}, {"일본", ""}, {"Japan", ""}, {"jpn", ""}, {"", `{"country":"일본"}`},
		{"", `{"country":"Hong Kong"}`}, {"", `{"country":null}`}, {"", `{"country":`},
		{"", `[1,2,3]`}, {"", `{"country":"\u0000"}`}, {"\xff\xfe", ""}, {"", "\xff"},
		{strings.Repeat("A", 300), ""}, {"", `{"country":"` + strings.Repeat("가", 100) + `"}`},
	}
	for _, s := range seeds {
		f.Add(s.query, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, query string, body []byte) {
		in, err := httpapi.ParseClick(query, body)
		if err != nil {
			if apperr.KindOf(err) != apperr.KindInvalid {
				t.Fatalf("ParseClick(%q, %q) = %v, want an invalid-input error", query, body, err)
			}
			return
		}
		if strings.TrimSpace(in) == "" {
			t.Fatalf("ParseClick(%q, %q) = blank country without an error", query, body)
		}
		c, ok := registry.Lookup(in)
		if !ok {
			return
		}
		again, ok := registry.Lookup(c.Code)
		if !ok || again != c || !utf8.ValidString(c.NameKo) || len(c.Code) != 2 {
			t.Fatalf("Lookup(%q) = %+v, but its code finds %+v", in, c, again)
		}
	})
}
