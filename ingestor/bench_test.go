package ingestor_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bojanz/currency"

	"github.com/ratewire/ratewire/ingestor/internal/ingest"
	"github.com/ratewire/ratewire/ingestor/internal/provider"
	"github.com/ratewire/ratewire/ingestor/internal/store"
	"github.com/ratewire/ratewire/shared/embedded"
	"github.com/ratewire/ratewire/shared/kafkabus"
	"github.com/ratewire/ratewire/shared/logx"
	"github.com/ratewire/ratewire/shared/sqldb"
	"github.com/ratewire/ratewire/shared/testinfra"
)

// benchCodes are the active ISO 4217 codes besides KRW and USD (about
// 160, the size of a full ExchangeRate-API answer once its pseudo-codes
// are rejected), so validation keeps every one.
var benchCodes = func() []string {
	var out []string
	for _, c := range currency.GetCurrencyCodes() {
		if c != "KRW" && c != "USD" {
			out = append(out, c)
		}
	}
	return out
}()

// benchCurrencies is how many currencies a run stores: every code plus
// USD, the base, and CNH, the yuan's twin.
var benchCurrencies = len(benchCodes) + 2

// erAPIServer answers as ExchangeRate-API's open endpoint does, with about
// 160 currencies whose rates all move a little and whose update time advances
// a minute on every request, so every run changes every rate: the most
// work a run can have (an observation, a latest rate, a daily row and an
// event per currency).
func erAPIServer(b *testing.B) *httptest.Server {
	var n atomic.Int64
	codes := benchCodes
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		i := n.Add(1)
		var sb strings.Builder
		// KRW per USD moves by a won on every request, so every cross moves.
		fmt.Fprintf(&sb, `{"result":"success","base_code":"USD","time_last_update_unix":%d,"rates":{"USD":1,"KRW":1%03d.123456`,
			1763000000+i*60, 400+i%100)
		for j, c := range codes {
			fmt.Fprintf(&sb, `,"%s":%d.%02d1234`, c, 1+j%5, j%100) // 1.0 to 5.0 units per USD, 6 decimals
		}
		sb.WriteString("}}")
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(sb.String()))
	}))
}

// BenchmarkIngestRun measures one full run of about 160 currencies, from the
// provider's response to the events acknowledged by the brokers (acks=all)
// on embedded infrastructure: fetch and parse (over loopback HTTP, so
// provider latency is a local round trip), validate, one transaction with
// observations, latest rates, daily OHLC, run record and outbox, then the
// relay publishing their events and marking them sent. The target is at
// most 50 ms per run.
func BenchmarkIngestRun(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { benchIngest(b, testinfra.SQLiteURL(b)) })
	b.Run("postgres", func(b *testing.B) { benchIngest(b, testinfra.PostgresURL(b)) })
}

func benchIngest(b *testing.B, dbURL string) {
	ctx := context.Background()
	srv := erAPIServer(b)
	defer srv.Close()
	k, err := embedded.StartKafka(embedded.KafkaOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer k.Close()
	db, err := sqldb.Open(ctx, dbURL)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	st := store.New(db)
	if err := st.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	w := kafkabus.NewWriter(kafkabus.WriterConfig{Brokers: k.Brokers(), ClientID: "bench"})
	defer w.Close()
	relay, err := ingest.NewRelay(st, w, logx.Discard(), nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	svc, err := ingest.New(ingest.Config{
		Providers: []provider.Provider{&provider.ExchangeRateAPI{BaseURL: srv.URL}},
		Store:     st, Logger: logx.Discard(), MaxJump: 0.5,
	})
	if err != nil {
		b.Fatal(err)
	}
	once := func() {
		run, err := svc.Run(ctx, "bench")
		if err != nil || run.Changed != benchCurrencies {
			b.Fatalf("run: %+v, %v; want %d changed", run, err, benchCurrencies)
		}
		if err := relay.Drain(ctx); err != nil {
			b.Fatal(err)
		}
	}
	once() // first run creates the rows and warms connections
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		once()
	}
	elapsed := time.Since(start)
	b.StopTimer()
	if n, _, err := st.OutboxBacklog(ctx); err != nil || n != 0 {
		b.Fatalf("outbox backlog %d after the runs (%v), want 0", n, err)
	}
	b.ReportMetric(float64(elapsed.Microseconds())/1000/float64(b.N), "ms/run")
	b.ReportMetric(float64(benchCurrencies), "currencies/run")
}
