package history_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5"
	"github.com/jmoiron/sqlx"

	"github.com/ratewire/ratewire/history/internal/cache"
	"github.com/ratewire/ratewire/history/internal/httpapi"
	"github.com/ratewire/ratewire/history/internal/series"
	"github.com/ratewire/ratewire/history/internal/store"
	"github.com/ratewire/ratewire/ingestor"
	"github.com/ratewire/ratewire/shared/httpx"
	"github.com/ratewire/ratewire/shared/kst"
	"github.com/ratewire/ratewire/shared/sqldb"
	"github.com/ratewire/ratewire/shared/testinfra"
)

// The benchmark data set: one year of 5-minute observations for 50
// currencies (about 5.3M rows) and their daily aggregates, ending at
// benchEnd. It is loaded once into a schema of its own and kept between
// runs: benchSpec, stored in the schema, names what was loaded, and the row
// counts are checked before the schema is reused, so a partial or older
// load is dropped and loaded again.
const (
	benchSchema     = "bench_history_v1"
	benchCurrencies = 50
	benchDays       = 365
	benchStep       = 5 * time.Minute
)

var benchEnd = time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)

var benchSpec = fmt.Sprintf("v1 currencies=%d days=%d step=%s end=%s", benchCurrencies, benchDays, benchStep, benchEnd.Format(time.RFC3339))

func benchCodes() []string {
	codes := []string{"USD", "JPY", "EUR", "CNY", "GBP", "AUD", "CAD", "CHF", "HKD", "SGD", "THB", "VND", "IDR", "PHP", "MYR", "TWD", "NZD", "INR", "AED", "SAR"}
	for i := 0; len(codes) < benchCurrencies; i++ {
		codes = append(codes, fmt.Sprintf("Q%c%c", 'A'+i/26, 'A'+i%26))
	}
	return codes
}

// benchDB returns the loaded benchmark database, loading it if needed.
func benchDB(b *testing.B) *sqlx.DB {
	b.Helper()
	base := os.Getenv(testinfra.EnvPostgresURL)
	if base == "" {
		b.Skipf("%s is not set: the history benchmark runs on PostgreSQL", testinfra.EnvPostgresURL)
	}
	ctx := context.Background()
	u, err := url.Parse(base)
	if err != nil {
		b.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", benchSchema)
	u.RawQuery = q.Encode()
	dsn := u.String()

	admin, err := sqldb.Open(ctx, base)
	if err != nil {
		b.Fatal(err)
	}
	defer admin.Close()
	var spec string
	_ = admin.GetContext(ctx, &spec, `SELECT spec FROM `+benchSchema+`.bench_meta`)
	points := benchDays * int(24*time.Hour/benchStep)
	if spec == benchSpec {
		var obs, days int
		err1 := admin.GetContext(ctx, &obs, `SELECT count(*) FROM `+benchSchema+`.rate_observations WHERE currency_code = 'USD'`)
		err2 := admin.GetContext(ctx, &days, `SELECT count(*) FROM `+benchSchema+`.daily_rates`)
		if err1 == nil && err2 == nil && obs == points && days >= benchCurrencies*benchDays {
			b.Logf("reusing benchmark schema %s (%s)", benchSchema, spec)
			db, err := sqldb.Open(ctx, dsn)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { db.Close() })
			return db
		}
	}
	b.Logf("loading benchmark schema %s: %d currencies x %d observations", benchSchema, benchCurrencies, points)
	start := time.Now()
	if _, err := admin.ExecContext(ctx, `DROP SCHEMA IF EXISTS `+benchSchema+` CASCADE; CREATE SCHEMA `+benchSchema); err != nil {
		b.Fatal(err)
	}
	db, err := sqldb.Open(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	if err := ingestor.Migrate(ctx, db); err != nil {
		b.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	first := benchEnd.Add(-time.Duration(points-1) * benchStep)
	for ci, code := range benchCodes() {
		rng := rand.New(rand.NewPCG(uint64(ci), 42))
		level := 0.05 + float64(ci*ci)*0.9 + float64(ci)*11
		rate := level
		type ohlc struct {
			o, h, l, c  float64
			n           int
			first, last time.Time
		}
		var days []string
		agg := map[string]*ohlc{}
		i := 0
		_, err := conn.CopyFrom(ctx, pgx.Identifier{"rate_observations"},
			[]string{"currency_code", "source", "deal_base_rate", "recorded_at", "run_id", "created_at"},
			pgx.CopyFromFunc(func() ([]any, error) {
				if i == points {
					return nil, nil
				}
				at := first.Add(time.Duration(i) * benchStep)
				rate *= math.Exp(rng.NormFloat64() * 0.0004)
				r := math.Round(rate*1e4) / 1e4
				if r <= 0 {
					r = 0.0001
				}
				day := kst.Day(at)
				if d, ok := agg[day]; ok {
					d.h, d.l, d.c, d.n, d.last = math.Max(d.h, r), math.Min(d.l, r), r, d.n+1, at
				} else {
					agg[day] = &ohlc{r, r, r, r, 1, at, at}
					days = append(days, day)
				}
				i++
				return []any{code, "simulated", r, at, "bench", at}, nil
			}))
		if err != nil {
			b.Fatalf("copy observations of %s: %v", code, err)
		}
		rows := make([][]any, 0, len(days))
		for _, day := range days {
			d := agg[day]
			rows = append(rows, []any{code, day, d.o, d.h, d.l, d.c, d.n, d.first, d.last, "simulated"})
		}
		if _, err := conn.CopyFrom(ctx, pgx.Identifier{"daily_rates"},
			[]string{"currency_code", "day", "open", "high", "low", "close", "samples", "first_at", "last_at", "source"},
			pgx.CopyFromRows(rows)); err != nil {
			b.Fatalf("copy daily rates of %s: %v", code, err)
		}
	}
	if _, err := db.ExecContext(ctx, `ANALYZE rate_observations; ANALYZE daily_rates;
		CREATE TABLE bench_meta (spec TEXT NOT NULL); INSERT INTO bench_meta VALUES ('`+benchSpec+`')`); err != nil {
		b.Fatal(err)
	}
	b.Logf("loaded in %s", time.Since(start).Round(time.Second))
	return db
}

// BenchmarkHistoryAPI measures history, stats, compare and analysis at
// 1w, 1m and 1y through the HTTP handlers (parsing, service, JSON), with
// no cache (every request reads PostgreSQL and computes) and with a warm
// Redis cache. Each iteration asks for the next of the 50 currencies, so
// the uncached figures are not one hot key. p50 and p99 are reported in
// milliseconds.
func BenchmarkHistoryAPI(b *testing.B) {
	db := benchDB(b)
	st := store.New(db)
	now := func() time.Time { return benchEnd }
	r := benchRedis(b)
	engines := map[string]*gin.Engine{
		"uncached": benchEngine(series.New(st, nil, nil, now)),
		"cached":   benchEngine(series.New(st, cache.New(r.Client, r.Prefix), nil, now)),
	}
	codes := benchCodes()
	paths := map[string]func(i int, period string) string{
		"history": func(i int, p string) string { return "/api/v1/history?target=" + codes[i%len(codes)] + "&period=" + p },
		"stats": func(i int, p string) string {
			return "/api/v1/history/stats?target=" + codes[i%len(codes)] + "&period=" + p
		},
		"compare": func(i int, p string) string {
			return "/api/v1/history/compare?period=" + p + "&targets=" +
				strings.Join([]string{codes[i%len(codes)], codes[(i+1)%len(codes)], codes[(i+2)%len(codes)]}, ",")
		},
		"analysis": func(i int, p string) string {
			return "/api/v1/history/analysis?target=" + codes[i%len(codes)] + "&period=" + p
		},
	}
	for _, endpoint := range []string{"history", "stats", "compare", "analysis"} {
		for _, period := range []string{"1w", "1m", "1y"} {
			for _, mode := range []string{"uncached", "cached"} {
				e, path := engines[mode], paths[endpoint]
				if mode == "cached" {
					for i := range codes {
						serve(b, e, path(i, period))
					}
				}
				b.Run(endpoint+"/"+period+"/"+mode, func(b *testing.B) {
					lat := make([]time.Duration, 0, b.N)
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						t0 := time.Now()
						serve(b, e, path(i, period))
						lat = append(lat, time.Since(t0))
					}
					b.StopTimer()
					slices.Sort(lat)
					b.ReportMetric(ms(pctl(lat, 0.50)), "p50-ms")
					b.ReportMetric(ms(pctl(lat, 0.99)), "p99-ms")
				})
			}
		}
	}
}

func benchRedis(b *testing.B) testinfra.Redis {
	if os.Getenv(testinfra.EnvRedisURL) != "" {
		return testinfra.RealRedis(b)
	}
	return testinfra.MiniRedis(b)
}

func benchEngine(svc *series.Service) *gin.Engine {
	e := httpx.NewEngine(httpx.Options{Service: "history", Now: svc.Now})
	httpapi.Register(e, svc)
	return e
}

func serve(b *testing.B, e *gin.Engine, path string) {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		b.Fatalf("GET %s = %d %s", path, rec.Code, rec.Body)
	}
}

func pctl(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(math.Ceil(p*float64(len(sorted))))-1)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
