// Package stack runs the whole ratewire platform in one process: embedded
// Kafka (kfake, three brokers), Redis (miniredis) and SQLite wherever no
// real server is configured, and the four services through the same Run
// functions their own binaries call.
package stack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/ratewire/ratewire/currency"
	"github.com/ratewire/ratewire/history"
	"github.com/ratewire/ratewire/ingestor"
	"github.com/ratewire/ratewire/ranking"
	"github.com/ratewire/ratewire/shared/embedded"
	"github.com/ratewire/ratewire/shared/httpx"
	"github.com/ratewire/ratewire/shared/logx"
	"github.com/ratewire/ratewire/shared/sqldb"
	"github.com/ratewire/ratewire/web"
)

// Config is what devstack's command line and environment decide.
type Config struct {
	// DataDir holds the SQLite file when no RATEWIRE_DATABASE_URL is set.
	DataDir string
	// Host is the interface the services listen on.
	Host string
	// Ports of currency, ranking, history, ingestor and the web app; 0
	// picks a free one.
	CurrencyPort, RankingPort, HistoryPort, IngestorPort, WebPort int
	// GatewayPort serves every service's API under one base URL (see
	// NewGateway); 0 picks a free one.
	GatewayPort int
	// KafkaPorts of the three embedded brokers; nil picks free ones.
	KafkaPorts []int
	// Getenv reads the RATEWIRE_* settings passed through to the services.
	Getenv func(string) string
	// Out receives the banner; Log the services' logs.
	Out io.Writer
	Log io.Writer
	// Ready, when set, receives the started stack's addresses once every
	// service listens.
	Ready func(Addrs)
	// BackfillDays of history loaded into an empty database when the stack
	// starts (hourly for the whole range, every five minutes for the last
	// two days); 0 loads none.
	BackfillDays int
	// BackfillStart, when set, is called before the start-up backfill
	// fetches anything, and the backfill waits for it to return (tests
	// read what the services answer before it); BackfillDone, when set,
	// is called when the backfill ends.
	BackfillStart func()
	BackfillDone  func(error)
	// WebAPITimeout bounds each of the web app's calls to the services; 0
	// means the app's default. PopularRefresh is how often the popular
	// page reloads its list in the browser; 0 means the app's default.
	WebAPITimeout  time.Duration
	PopularRefresh time.Duration
	// Clock is every service's clock (provider days, schedules, KST days,
	// history windows, ranking periods, dedupe days); nil means the real
	// clock. Tests run the stack on a fake one.
	Clock clockwork.Clock
}

// Addrs are the base addresses of a running stack.
type Addrs struct {
	Currency, Ranking, History, Ingestor string // http://host:port
	Web                                  string // http://host:port of the web app
	Gateway                              string // http://host:port routing /api/v1/* to the four, the rest to web
	Kafka                                []string
	RedisURL, DatabaseURL, AdminToken    string
}

// DefaultConfig is the stack of DESIGN.md §2: services on 8001-8004, the
// web app on 8005, the gateway on 8000 and embedded Kafka on 9092-9094.
func DefaultConfig() Config {
	return Config{
		DataDir: "data", Host: "127.0.0.1",
		CurrencyPort: 8001, RankingPort: 8002, HistoryPort: 8003, IngestorPort: 8004, WebPort: 8005, GatewayPort: 8000,
		KafkaPorts: []int{9092, 9093, 9094}, BackfillDays: 180,
		Getenv: os.Getenv, Out: os.Stdout, Log: os.Stderr,
	}
}

// Run starts the stack and blocks until ctx ends or a service fails; it
// then stops every service (each commits its consumer offsets and waits
// for its running jobs) before the embedded infrastructure goes down.
func Run(ctx context.Context, c Config) error {
	getenv := c.Getenv
	// The ingestor's configuration is the shared one plus its own; the
	// other services get the shared part (base) only.
	ing, err := ingestor.LoadConfig(getenv, ":0")
	if err != nil {
		return err
	}
	base := &ing.Config
	logFor := func(svc string) *slog.Logger { return logx.New(c.Log, base.LogLevel, base.LogFormat, svc) }
	clock := c.Clock
	if clock == nil {
		clock = clockwork.NewRealClock()
	}
	log := logFor("devstack")

	// The services believe the X-Forwarded-For of devstack's gateway, which
	// reaches them from the stack's host, and of the proxies configured.
	base.TrustedProxies = append(base.TrustedProxies, gatewayPeers(c.Host)...)

	addrs := Addrs{AdminToken: base.AdminToken}
	if addrs.AdminToken == "" {
		addrs.AdminToken = randomToken()
		base.AdminToken = addrs.AdminToken
	}

	// Infrastructure: a real server wherever its URL is set.
	if len(base.KafkaBrokers) == 0 {
		k, err := embedded.StartKafka(embedded.KafkaOptions{Ports: c.KafkaPorts, Logger: logFor("kafka")})
		if err != nil {
			return fmt.Errorf("devstack: embedded Kafka (ports %v busy? set RATEWIRE_KAFKA_BROKERS to use a real cluster): %w", c.KafkaPorts, err)
		}
		defer k.Close()
		base.KafkaBrokers = k.Brokers()
	}
	if base.RedisURL == "" {
		m, err := embedded.StartRedis()
		if err != nil {
			return fmt.Errorf("devstack: embedded Redis: %w", err)
		}
		defer m.Close()
		// miniredis has no clock of its own: drive its TTLs from the
		// stack's, so rate entries, tombstones and click windows expire.
		ticker := clock.NewTicker(time.Second)
		defer ticker.Stop()
		keepCtx, stopKeeping := context.WithCancel(ctx)
		kept := make(chan struct{})
		go func() { embedded.KeepTime(keepCtx, m, clock.Now, ticker.Chan(), logFor("redis")); close(kept) }()
		defer func() { stopKeeping(); <-kept }()
		base.RedisURL = embedded.RedisURL(m)
	}
	if base.DatabaseURL == "" {
		if err := os.MkdirAll(c.DataDir, 0o755); err != nil {
			return fmt.Errorf("devstack: data dir: %w", err)
		}
		abs, err := filepath.Abs(filepath.Join(c.DataDir, "ratewire.db"))
		if err != nil {
			return err
		}
		base.DatabaseURL = "sqlite:" + abs
	}
	if sqldb.DialectOf(base.DatabaseURL) == sqldb.SQLite {
		// Put the file in WAL mode once, before four services open their
		// first connections to it at the same moment: the switch takes
		// the file's exclusive lock without waiting on busy_timeout, so
		// concurrent first connections to a fresh file failed now and then
		// with SQLITE_BUSY (7 in 2,400 in a loop of four-way opens; none
		// once the file was in WAL). The mode is kept in the file.
		db, err := sqldb.Open(ctx, base.DatabaseURL)
		if err != nil {
			return fmt.Errorf("devstack: database: %w", err)
		}
		db.Close()
	}
	addrs.Kafka, addrs.RedisURL, addrs.DatabaseURL = base.KafkaBrokers, base.RedisURL, base.DatabaseURL

	// Listeners first, so a busy port fails before anything runs.
	type svc struct {
		name string
		port int
		url  *string
		ln   net.Listener
		run  func(ctx context.Context, ln net.Listener) error
	}
	services := []*svc{
		{name: ingestor.ServiceName, port: c.IngestorPort, url: &addrs.Ingestor, run: func(ctx context.Context, ln net.Listener) error {
			return ingestor.Run(ctx, ing, ingestor.Options{Logger: logFor(ingestor.ServiceName), Listener: ln, Clock: clock})
		}},
		{name: currency.ServiceName, port: c.CurrencyPort, url: &addrs.Currency, run: func(ctx context.Context, ln net.Listener) error {
			return currency.Run(ctx, *base, currency.Options{Logger: logFor(currency.ServiceName), Listener: ln, Now: clock.Now})
		}},
		{name: history.ServiceName, port: c.HistoryPort, url: &addrs.History, run: func(ctx context.Context, ln net.Listener) error {
			return history.Run(ctx, *base, history.Options{Logger: logFor(history.ServiceName), Listener: ln, Now: clock.Now})
		}},
		{name: ranking.ServiceName, port: c.RankingPort, url: &addrs.Ranking, run: func(ctx context.Context, ln net.Listener) error {
			return ranking.Run(ctx, *base, ranking.Options{Logger: logFor(ranking.ServiceName), Listener: ln, Now: clock.Now})
		}},
	}
	// The web app calls each service directly (the status page reads their
	// /metrics, which the gateway does not route); browsers reach it, and
	// the APIs its scripts call, through the gateway.
	services = append(services, &svc{name: web.ServiceName, port: c.WebPort, url: &addrs.Web, run: func(ctx context.Context, ln net.Listener) error {
		wc := web.Config{Config: *base, APIURL: addrs.Gateway, CurrencyURL: addrs.Currency, HistoryURL: addrs.History,
			RankingURL: addrs.Ranking, IngestorURL: addrs.Ingestor, APITimeout: c.WebAPITimeout}
		return web.Run(ctx, wc, web.Options{Logger: logFor(web.ServiceName), Listener: ln, Now: clock.Now, PopularRefresh: c.PopularRefresh})
	}})
	// The gateway is one more listener, serving the others' routes (its
	// handler needs their addresses, so it is built once they are known).
	var gateway http.Handler
	services = append(services, &svc{name: "gateway", port: c.GatewayPort, url: &addrs.Gateway, run: func(ctx context.Context, ln net.Listener) error {
		return httpx.Serve(ctx, ln, "", gateway, logFor("gateway"))
	}})
	local := map[string]*Local{}
	for _, s := range services {
		ln, err := net.Listen("tcp", net.JoinHostPort(c.Host, fmt.Sprint(s.port)))
		if err != nil {
			for _, o := range services {
				if o.ln != nil {
					o.ln.Close()
				}
			}
			return fmt.Errorf("devstack: %s port: %w", s.name, err)
		}
		*s.url = "http://" + ln.Addr().String()
		if s.name != "gateway" {
			// The gateway calls the services in this process directly.
			l := NewLocal(ln)
			local[s.name] = l
			ln = l
		}
		s.ln = ln
	}
	if gateway, err = NewGatewayWith(addrs, logFor("gateway"), GatewayOptions{Local: local}); err != nil {
		for _, s := range services {
			s.ln.Close()
		}
		return fmt.Errorf("devstack: %w", err)
	}

	// Decide on the backfill before the ingestor's first run fills the
	// database.
	backfill := ""
	if c.BackfillDays > 0 {
		has, err := ingestor.HasRates(ctx, ing)
		if err != nil {
			return fmt.Errorf("devstack: %w", err)
		}
		if !has {
			backfill = ingestor.BackfillProvider(ing)
		}
	}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, len(services))
	for i, s := range services {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.run(runCtx, s.ln)
			// A service that stopped before serving never closed its
			// listener; the gateway then stops waiting for it.
			_ = s.ln.Close()
			// Stopped while still starting (a migration or a dial cut
			// short by the stop) is a clean stop, not a failure.
			if err != nil && runCtx.Err() != nil && errors.Is(err, context.Canceled) {
				err = nil
			}
			if err != nil {
				errs[i] = fmt.Errorf("%s: %w", s.name, err)
				log.Error("service stopped", "service_name", s.name, "err", err)
			}
			cancel() // one service down takes the stack down
		}()
	}
	banner(c.Out, addrs)
	if c.Ready != nil {
		c.Ready(addrs)
	}
	if backfill != "" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if c.BackfillStart != nil {
				c.BackfillStart()
			}
			err := runBackfill(runCtx, ing, backfill, c.BackfillDays, logFor("backfill"), clock.Now)
			if c.BackfillDone != nil {
				c.BackfillDone(err)
			}
		}()
	}
	<-runCtx.Done()
	log.Info("stopping")
	wg.Wait()
	log.Info("stopped")
	return errors.Join(errs...)
}

// runBackfill gives a fresh database months of history while the services
// already serve the start-up run's rates: hourly quotes over the range,
// then five-minute quotes over the last two days (simulated), or the
// provider's daily rates (frankfurter's ECB series, or Korea Eximbank day
// by day).
func runBackfill(ctx context.Context, cfg ingestor.Config, provider string, days int, log *slog.Logger, clock func() time.Time) error {
	now := clock()
	steps := []struct {
		from time.Time
		step time.Duration
	}{{now.AddDate(0, 0, -days), time.Hour}, {now.Add(-48 * time.Hour), 5 * time.Minute}}
	if provider != ingestor.ProviderSimulated {
		steps = steps[:1]
	}
	for i, s := range steps {
		to := now
		if i+1 < len(steps) {
			to = steps[i+1].from
		}
		res, err := ingestor.Backfill(ctx, cfg, ingestor.BackfillOptions{Provider: provider, From: s.from, To: to, Step: s.step, Logger: log, Now: clock})
		if err != nil {
			if ctx.Err() == nil {
				log.Error("backfill failed; the services run without history depth", "err", err)
			}
			return err
		}
		log.Info("history backfilled", "provider", provider, "batches", res.Batches, "observations", res.Observations)
	}
	return nil
}

func banner(w io.Writer, a Addrs) {
	var b strings.Builder
	fmt.Fprintf(&b, "\nratewire devstack is up\n\n")
	fmt.Fprintf(&b, "  web app    %s/  (open it in a browser)\n", a.Gateway)
	fmt.Fprintf(&b, "  gateway    %s  (/api/v1/currencies, /api/v1/history, /api/v1/rankings, /api/v1/ingest; the rest is the web app)\n", a.Gateway)
	fmt.Fprintf(&b, "  currency   %s/api/v1/currencies/latest\n", a.Currency)
	fmt.Fprintf(&b, "  history    %s/healthz\n", a.History)
	fmt.Fprintf(&b, "  ranking    %s/healthz\n", a.Ranking)
	fmt.Fprintf(&b, "  ingestor   %s/api/v1/ingest/run  (POST, admin)\n", a.Ingestor)
	fmt.Fprintf(&b, "  web        %s/healthz\n", a.Web)
	fmt.Fprintf(&b, "  metrics    <service>/metrics   health  <service>/healthz, /readyz\n\n")
	fmt.Fprintf(&b, "  admin token  %s\n", a.AdminToken)
	fmt.Fprintf(&b, "  run now      curl -X POST -H 'Authorization: Bearer %s' %s/api/v1/ingest/run\n\n", a.AdminToken, a.Gateway)
	fmt.Fprintf(&b, "  kafka        %s\n", strings.Join(a.Kafka, ","))
	fmt.Fprintf(&b, "  topics       kcat -b %s -L\n", a.Kafka[0])
	fmt.Fprintf(&b, "  events       kcat -b %s -C -t exchange_rate_updated -f '%%k %%h %%s\\n'\n", a.Kafka[0])
	fmt.Fprintf(&b, "  redis        %s\n", a.RedisURL)
	fmt.Fprintf(&b, "  database     %s\n\n", a.DatabaseURL)
	fmt.Fprintf(&b, "Ctrl-C stops everything.\n\n")
	io.WriteString(w, b.String())
}

// gatewayPeers are the addresses devstack's gateway connects to the
// services from: the loopback, and host when it is another address.
func gatewayPeers(host string) []string {
	out := []string{"127.0.0.1/32", "::1/128"}
	if ip := net.ParseIP(host); ip != nil && !ip.IsLoopback() && !ip.IsUnspecified() {
		if ip.To4() != nil {
			out = append(out, ip.String()+"/32")
		} else {
			out = append(out, ip.String()+"/128")
		}
	}
	return out
}

func randomToken() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return fmt.Sprintf("dev-%d", time.Now().UnixNano())
	}
	return hex.EncodeToString(b[:])
}
