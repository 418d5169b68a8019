package provider_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ratewire/ratewire/ingestor/internal/provider"
)

// BenchmarkParseHana reads an answer the size of a real run: one row for
// every code Hana is asked (provider.HanaCodes), in the Dunamu format.
func BenchmarkParseHana(b *testing.B) {
	rows := make([]string, len(provider.HanaCodes))
	for i, c := range provider.HanaCodes {
		rows[i] = fmt.Sprintf(`{"code":"FRX.KRW%s","currencyCode":"%s","currencyName":"x","country":"y","name":"y (KRW/%s)",`+
			`"date":"2026-11-23","time":"10:15:03","recurrenceCount":57,"basePrice":1338.%02d,"openingPrice":1337.5,"highPrice":1340.1,`+
			`"lowPrice":1336.2,"change":"RISE","changePrice":1.2,"cashBuyingPrice":1361.42,"cashSellingPrice":1314.59,`+
			`"ttBuyingPrice":1324.9,"ttSellingPrice":1351.1,"tcBuyingPrice":null,"fcSellingPrice":null,"exchangeCommission":2.045,`+
			`"usDollarRate":1,"currencyUnit":1,"provider":"하나은행","timestamp":1795396503000,"signedChangePrice":1.2,`+
			`"signedChangeRate":0.0009,"changeRate":0.0009}`, c, c, c, i)
	}
	body := []byte("[" + strings.Join(rows, ",") + "]")
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		qs, err := provider.ParseHana(body)
		if err != nil || len(qs) != len(provider.HanaCodes) {
			b.Fatalf("%d quotes, %v", len(qs), err)
		}
	}
}
