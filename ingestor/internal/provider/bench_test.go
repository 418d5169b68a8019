package provider_test

import (
	"context"
	"crypto/tls"
	"testing"
	"time"

	"github.com/ratewire/ratewire/ingestor/internal/provider"
)

// BenchmarkParseExchangeRateAPI measures parsing a real-format open-access
// body and crossing every rate exactly through USD, per body.
func BenchmarkParseExchangeRateAPI(b *testing.B) {
	body := sample(b, "exchangerate-api-open.json")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := provider.ParseExchangeRateAPI(body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCross measures one exact cross rounded to its inputs' digits.
func BenchmarkCross(b *testing.B) {
	krw, kwd := dec(b, "1466.123456"), dec(b, "0.306847")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := provider.Cross(krw, kwd); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAIAHandshake measures a new TLS connection to a server that
// omits its intermediate: "cold" fetches the intermediate from its CA
// Issuers URL and handshakes twice, "cached" reuses the verified
// intermediate and handshakes once (with the full re-verification).
func BenchmarkAIAHandshake(b *testing.B) {
	p := newPKI(b, "Bench")
	issuers, _ := caIssuers(b, p.inter.Raw)
	srv := leafOnly(b, p.inter, p.interKey, issuers.URL+"/ca.crt")
	addr := srv.Listener.Addr().String()
	run := func(b *testing.B, aia func() *provider.AIA) {
		for b.Loop() {
			conn, err := aia().DialTLSContext(context.Background(), "tcp", addr)
			if err != nil {
				b.Fatal(err)
			}
			conn.(*tls.Conn).Close()
		}
	}
	b.Run("cold", func(b *testing.B) {
		run(b, func() *provider.AIA { return &provider.AIA{Roots: rootsOf(p.root), Now: clock(aiaNow)} })
	})
	b.Run("cached", func(b *testing.B) {
		warm := &provider.AIA{Roots: rootsOf(p.root), Now: clock(aiaNow)}
		client := provider.NewHTTPClient(warm, 5*time.Second)
		if err := get(b, client, srv.URL); err != nil {
			b.Fatal(err)
		}
		client.CloseIdleConnections()
		run(b, func() *provider.AIA { return warm })
	})
}
